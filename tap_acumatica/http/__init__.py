"""The HTTP layer: the run's one client (session, retries, concurrency cap, redaction),
the retry policy, and the server's clock read from ``Date`` headers. It defines the
authenticator interface that :mod:`tap_acumatica.auth` implements and imports nothing
above it (docs/DESIGN.md)."""
