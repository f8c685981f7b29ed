"""DAC-based OData v4: service, metadata, stream, discovery; values, literals and keysets
come from :mod:`tap_acumatica.odata.records`."""
