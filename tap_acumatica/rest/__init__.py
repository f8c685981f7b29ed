"""The contract-based REST API (``entity/<endpoint>/<version>/``): service, metadata,
records, stream, discovery. Never imports the other API packages (docs/DESIGN.md)."""
