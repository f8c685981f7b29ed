"""The reading strategy every API shares: the stream base class, stamp windows planned from
a census, the concurrent executor, paging, the replication choice and the bookmark rule.
It decides what a run reads and where the next run starts (docs/DESIGN.md)."""
