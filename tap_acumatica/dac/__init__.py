"""DAC-based OData v4 (``t/<company>/api/odata/dac/`` or ``ODatav4/<company>/``): service,
metadata, stream, deletes, discovery; values and the service root are shared with generic
inquiries in :mod:`tap_acumatica.odata`. Never imports the other API packages."""
