"""A connection moved from 24.200.001 to 26.200.001, and incremental runs on 26.200.001.

The upgrade: run on 24.200.001, change data, rediscover on 26.200.001 and run with the
24.200.001 state. SalesOrder's replication key is renamed (``LastModified`` ->
``LastModifiedDateTime``): the bookmark must carry over (no re-sync, no gap, one INFO
line). A third run, on 24.200.001 from the same state, reads the same rows the old way, so
the two can be compared column by column: what differs is exactly what the README and
docs/REST.md list for a user who upgrades.
"""

from __future__ import annotations

import datetime as dt
import time
import typing as t

import pytest

from tests import tapkit
from tests.simulator.process import SimulatorProcess

OLD, NEW = "24.200.001", "26.200.001"
ENTITIES = ["Customer", "SalesOrder", "StockItem"]
SIZES = {"Customer": 200, "SalesOrder": 300, "StockItem": 200}
FIELDS = {"SalesOrder": ["Details"]}
CARRIED = "was written under replication key LastModified; it is resumed as LastModifiedDateTime"
#: What a user who moves 24.200.001 -> 26.200.001 sees change in these streams (columns of
#: the released 26.200.001 document; the drop-downs' __id columns are added).
RENAMED_OR_DROPPED = {
    "Customer": set(),
    "SalesOrder": {"LastModified", "UsrExternalOrderOriginal"},
    "StockItem": {"LastModified", "DefaultSubitem", "UseOnEntry"},
    "SalesOrder.Details": {"LastModifiedDate", "Subitem"},
}
ADDED = {
    "Customer": {"LegalName", "Status__id"},
    "SalesOrder": {"LastModifiedDateTime", "ExternalQuoteNbr", "ExternalQuoteStatus", "Status__id"},
    "StockItem": {"AMCheckSchdMatlAvailability", "ItemStatus__id", "ItemType__id"},
    "SalesOrder.Details": {
        "LastModifiedDateTime",
        "OrigOrderNbr",
        "OrigOrderType",
        "InvoiceType__id",
        "LineType__id",
    },
}
#: The save-time stamp under its name in each version (same instant).
STAMPS = {
    "SalesOrder": ("LastModified", "LastModifiedDateTime"),
    "StockItem": ("LastModifiedDateTime", "LastModifiedDateTime"),
    "Customer": ("LastModifiedDateTime", "LastModifiedDateTime"),
}
pytestmark = pytest.mark.simulator(versions=[OLD, NEW], sizes=SIZES, default_size=5)


def catalog_for(config: dict[str, t.Any]) -> dict[str, t.Any]:
    return tapkit.select(tapkit.discover(config), ENTITIES, FIELDS)


def compare(
    name: str, old: dict[str, t.Any], new: dict[str, t.Any]
) -> tuple[set[str], set[str], list[str]]:
    """Columns only in the old record, only in the new one, and common columns whose
    values differ (a drop-down value the list does not know is the same value: the v4
    label was the stored id, v5 has no description and the id in ``__id``)."""
    # `files` stays in the schema; the recorded 25.200.001 lists carry no such key, and
    # the simulator follows them from 25.200.001 on (record-level, not a column change).
    old = {k: v for k, v in old.items() if k != "files"}
    differ = []
    for column in set(old) & set(new):
        if column in ("Details", "rowNumber"):
            continue
        if old[column] == new[column]:
            continue
        if new[column] is None and new.get(column + "__id") == old[column]:
            continue
        differ.append(f"{name}.{column}")
    return set(old) - set(new), set(new) - set(old), differ


def test_upgrade_keeps_the_bookmark_and_the_columns(sim: SimulatorProcess) -> None:
    old_config = tapkit.config_for(sim, endpoint_version=OLD, entities=ENTITIES)
    old_catalog = catalog_for(old_config)
    first = tapkit.run_tap(old_config, catalog=old_catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    assert {s: first.count(s) for s in ENTITIES} == SIZES
    state = first.last_state
    assert state is not None
    assert state["bookmarks"]["SalesOrder"]["replication_key"] == "LastModified"

    changed = {e: sim.control.mutate(e, update=7, insert=3, version=OLD) for e in ENTITIES}
    new_config = tapkit.config_for(sim, endpoint_version=NEW, entities=ENTITIES)
    new_catalog = catalog_for(new_config)
    entry = next(e for e in new_catalog["streams"] if e["tap_stream_id"] == "SalesOrder")
    assert entry["replication_key"] == "LastModifiedDateTime"
    upgraded = tapkit.run_tap(new_config, catalog=new_catalog, state=state)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    # Exactly the changes: no re-sync (the old bookmark held), no gap (all of them).
    for entity in ENTITIES:
        ids = set(changed[entity]["updated"]) | set(changed[entity]["inserted"])
        assert {r["id"] for r in upgraded.records[entity]} == ids, entity
    assert upgraded.stderr.count(CARRIED) == 1, upgraded.stderr[-3000:]
    # The SDK itself now starts from the bookmark (alone, it would say "None": a re-sync).
    old_value = state["bookmarks"]["SalesOrder"]["replication_key_value"]
    assert f"Starting incremental sync of 'SalesOrder' with bookmark value: {old_value}" in (
        upgraded.stderr
    )
    bookmark = upgraded.last_state["bookmarks"]["SalesOrder"]  # type: ignore[index]
    assert bookmark["replication_key"] == "LastModifiedDateTime"
    assert (
        bookmark["replication_key_value"]
        > state["bookmarks"]["SalesOrder"]["replication_key_value"]
    )

    # The same rows read the old way: the columns a user's tables see change.
    again = tapkit.run_tap(old_config, catalog=old_catalog, state=state)
    assert again.returncode == 0, again.stderr[-3000:]
    for entity in ENTITIES:
        before = {r["id"]: r for r in again.records[entity]}
        after = {r["id"]: r for r in upgraded.records[entity]}
        assert set(before) == set(after), entity
        old_stamp, new_stamp = STAMPS[entity]
        for ident, new in after.items():
            old = before[ident]
            assert old[old_stamp] == new[new_stamp], (entity, ident)  # same save time
            gone, added, differ = compare(entity, old, new)
            assert gone == RENAMED_OR_DROPPED[entity], (entity, gone)
            assert added == ADDED[entity], (entity, added)
            assert differ == [], (entity, differ)
            if entity != "SalesOrder":
                continue
            lines = {line["id"]: line for line in new["Details"] or []}
            for line in old["Details"] or []:
                gone, added, differ = compare("Details", line, lines[line["id"]])
                assert gone == RENAMED_OR_DROPPED["SalesOrder.Details"], gone
                assert added == ADDED["SalesOrder.Details"], added
                assert differ == [], differ
    tapkit.assert_sessions_closed(sim)


#: Less than the default settle_seconds: a transaction committing this long after its
#: stamp must be read by the next run.
COMMIT_AFTER = 4.0


@pytest.mark.slow  # waits for the transaction to commit
@pytest.mark.simulator(versions=[NEW], sizes={"SalesOrder": 400}, default_size=5)
def test_late_commit_on_26_200_is_read_by_the_next_run(sim: SimulatorProcess) -> None:
    """A long transaction on 26.200.001 (stamps of the renamed key, UTC, 0-7 fraction
    digits): uncommitted while a run reads, emitted by the next run."""
    config = tapkit.config_for(sim, endpoint_version=NEW, entities=["SalesOrder"])
    catalog = tapkit.select(tapkit.discover(config), ["SalesOrder"])
    first = tapkit.run_tap(config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.count("SalesOrder") == 400
    tx = sim.control.mutate("SalesOrder", update=6, insert=3, commit_after_seconds=COMMIT_AFTER)
    assert not tx["committed"]
    during = tapkit.run_tap(config, catalog=catalog, state=first.last_state)
    assert during.returncode == 0, during.stderr[-3000:]
    assert during.count("SalesOrder") == 0, "uncommitted versions were served"
    wait = tx["commit_at_ms"] / 1000 - sim.control.clock()["epoch_ms"] / 1000
    time.sleep(max(0.0, wait) + 0.2)
    done = next(x for x in sim.control.transactions() if x["transaction"] == tx["transaction"])
    after = tapkit.run_tap(config, catalog=catalog, state=during.last_state)
    assert after.returncode == 0, after.stderr[-3000:]
    got = {r["id"]: r for r in after.records["SalesOrder"]}
    assert set(done["updated"]) | set(done["inserted"]) == set(got)
    stamp = dt.datetime.fromtimestamp(tx["stamp_ms"] / 1000, dt.timezone.utc)
    assert {r["LastModifiedDateTime"] for r in got.values()} == {
        stamp.isoformat(timespec="microseconds")
    }
    tapkit.assert_sessions_closed(sim)
