"""The contract-based REST API (``entity/<endpoint>/<version>/``): service, metadata,
records, stream, discovery. Never imports :mod:`tap_acumatica.odata` (docs/DESIGN.md)."""
