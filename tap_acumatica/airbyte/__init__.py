"""``source-acumatica``: the Singer tap's streams as an Airbyte source (one extraction core,
two protocols; see :mod:`tap_acumatica.airbyte.cli`)."""
