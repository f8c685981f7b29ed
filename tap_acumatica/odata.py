"""OData generic inquiries — not implemented yet."""

from __future__ import annotations

import typing as t

from tap_acumatica.errors import ConfigError

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

    from tap_acumatica.tap import TapAcumatica


def discover(tap: TapAcumatica) -> list[Stream]:
    raise ConfigError("schema OData is not supported yet.")
