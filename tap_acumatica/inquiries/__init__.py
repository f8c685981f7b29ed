"""OData generic inquiries (``t/<company>/api/odata/gi/`` or ``odata/<company>/``): service,
metadata, stream, discovery; values and the service root are shared with DAC-based OData
in :mod:`tap_acumatica.odata`. Never imports the other API packages (docs/DESIGN.md)."""
