"""Airbyte ``--state`` in, Singer bookmarks out.

The source writes one STATE of type STREAM per stream whose ``stream_state`` is that
stream's Singer bookmark (``{"replication_key": ..., "replication_key_value": ...,
"replication_key_upper_bound": ...}``), so a state handed back resumes exactly where the
Singer tap would resume from the same bookmarks. Accepted as ``--state``:

- what the Airbyte platform and PyAirbyte send today: a JSON array of state messages.
  STREAM messages give their stream's bookmark (a ``null`` stream_state resets it);
  GLOBAL messages (this source writes none) give their ``stream_states`` the same way;
  a LEGACY message's ``data`` is read as a Singer state;
- one state message, as an object;
- a Singer state, ``{"bookmarks": {...}}``: the legacy state blob the platform passed
  before per-stream states (a LEGACY state's ``data``), and a Meltano or Singer state file
  for moving a pipeline over to Airbyte.

Anything else is refused with one clear line.
"""

from __future__ import annotations

import typing as t

from airbyte_protocol.models import AirbyteStateMessage, AirbyteStateType
from pydantic import ValidationError

from tap_acumatica.errors import ConfigError


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "top level"
    return f"{error.get('msg', 'invalid')} at {where}"


def _singer_bookmarks(data: t.Any, path: str) -> dict[str, dict[str, t.Any]]:
    bookmarks = data.get("bookmarks") if isinstance(data, dict) else None
    if not isinstance(bookmarks, dict) or not all(isinstance(v, dict) for v in bookmarks.values()):
        raise ConfigError(
            f"The state file {path} is neither a list of Airbyte state messages nor a Singer "
            'state ({"bookmarks": {<stream>: {...}}}).'
        )
    return {str(k): dict(v) for k, v in bookmarks.items()}


def singer_bookmarks(raw: t.Any, path: str) -> dict[str, dict[str, t.Any]]:
    """The Singer bookmark of each stream in an Airbyte ``--state`` (see the docstring)."""
    if raw in (None, [], {}):
        return {}
    if isinstance(raw, dict) and "bookmarks" in raw and "type" not in raw:
        return _singer_bookmarks(raw, path)
    found: dict[str, dict[str, t.Any]] = {}
    for i, item in enumerate(raw if isinstance(raw, list) else [raw]):
        try:
            message = AirbyteStateMessage.model_validate(item)
        except ValidationError as exc:
            raise ConfigError(
                f"The state file {path}: item {i} is not an Airbyte state message "
                f"({_first_error(exc)})."
            ) from None
        kind = message.type or AirbyteStateType.LEGACY
        if kind == AirbyteStateType.LEGACY:
            found.update(_singer_bookmarks(message.data, path))
            continue
        if kind == AirbyteStateType.STREAM and message.stream is not None:
            stream_states = [message.stream]
        elif kind == AirbyteStateType.GLOBAL and message.global_ is not None:
            stream_states = list(message.global_.stream_states)
        else:
            raise ConfigError(
                f"The state file {path}: item {i} is a {kind.value} state message without "
                f"its {'stream' if kind == AirbyteStateType.STREAM else 'global'} part."
            )
        for stream_state in stream_states:
            name = stream_state.stream_descriptor.name
            if stream_state.stream_state is None:
                found.pop(name, None)  # null: the stream's state was reset
            else:
                found[name] = stream_state.stream_state.model_dump()
    return found
