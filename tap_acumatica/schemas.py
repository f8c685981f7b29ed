"""Reading the JSON schemas of the tap's streams (shared by the REST and OData parts).

A property's ``type`` is a string or a list (``["string", "null"]``); every reader asks the
same question of it, so it is answered here once.
"""

from __future__ import annotations

import typing as t


def schema_types(prop: t.Mapping[str, t.Any]) -> tuple[str, ...]:
    """The JSON types a property schema allows (empty when it says none)."""
    kind = prop.get("type")
    if isinstance(kind, str):
        return (kind,)
    if isinstance(kind, list):
        return tuple(k for k in kind if isinstance(k, str))
    return ()


def has_type(prop: t.Mapping[str, t.Any], name: str) -> bool:
    """Whether ``prop`` allows the JSON type ``name`` (alone or in a list of types)."""
    return name in schema_types(prop)
