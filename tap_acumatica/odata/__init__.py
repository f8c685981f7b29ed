"""OData: generic inquiries (service, metadata, records, stream, discovery) and, in
:mod:`.dac`, DAC-based OData. Never imports :mod:`tap_acumatica.rest` (docs/DESIGN.md)."""
