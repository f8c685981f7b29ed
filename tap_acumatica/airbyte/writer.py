"""The Singer tap's messages, written as Airbyte messages: the one place the protocols meet.

The tap writes every message through its ``message_writer`` (the SDK's plug-in point);
running it with :class:`AirbyteMessageWriter` turns

- RECORD into RECORD (``emitted_at`` in ms), buffered like the Singer writer's records
  (:mod:`tap_acumatica.messages`): written out before any other message and every 64 KB;
- STATE (the whole Singer state) into one STATE of type STREAM per configured stream
  whose bookmark changed since the last one written, at the very points the Singer tap
  writes its STATE (after each complete window), so Airbyte checkpoints where Singer does;
- a stream's first message into a STREAM_STATUS trace STARTED, its first record into
  RUNNING; :meth:`AirbyteMessageWriter.finish` ends each stream with its final STATE and
  COMPLETE (or INCOMPLETE after an error): Airbyte's platform fails a sync whose streams
  get no terminal status, and destinations commit what a STATE covers;
- SCHEMA and ACTIVATE_VERSION into nothing (Airbyte has the schema from the catalog; the
  destination's sync mode replaces ACTIVATE_VERSION).

:class:`AirbyteLogHandler` writes the run's log records (already redacted by the record
factory of :mod:`tap_acumatica.logs`) as LOG messages through the same writer, in order
with the records.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import logging
import sys
import threading
import typing as t

from airbyte_protocol.models import AirbyteMessage, AirbyteStreamStatus
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.encoding.simple import (
    Message,
    RecordMessage,
    StateMessage,
)

from tap_acumatica.airbyte import protocol

BUFFER_BYTES = 64 * 1024


class AirbyteMessageWriter(GenericSingerWriter[bytes, Message]):
    """The SDK message writer of an Airbyte run (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        #: The configured streams: the ones STATE and stream statuses are written for.
        self.streams: list[str] = []
        self._wanted: set[str] = set()
        #: The bookmark last written per stream (the input state's, to begin with).
        self._written: dict[str, t.Any] = {}
        self._bookmarks: dict[str, t.Any] = {}
        self._started: set[str] = set()
        self._running: set[str] = set()
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._owner: int | None = None
        atexit.register(self._flush_at_exit)

    def configure(self, streams: t.Iterable[str], bookmarks: t.Mapping[str, t.Any]) -> None:
        """The run's configured streams and the bookmarks it starts from (``read``)."""
        self.streams = list(streams)
        self._wanted = set(self.streams)
        self._written = copy.deepcopy(dict(bookmarks))
        self._bookmarks = copy.deepcopy(dict(bookmarks))

    # The SDK's writer interface ----------------------------------------------------------

    def serialize_message(self, message: Message) -> bytes:
        """The Airbyte lines of one Singer message (none for SCHEMA, ACTIVATE_VERSION)."""
        if isinstance(message, RecordMessage):
            return self._record(message)
        out = bytearray()
        stream = getattr(message, "stream", None)
        if isinstance(stream, str):
            out += self._start(stream)
        if isinstance(message, StateMessage):
            out += self._states(message.value)
        return bytes(out)

    def write_message(self, message: Message) -> None:
        with self._locked():
            self._pending += self.serialize_message(message)
            if isinstance(message, RecordMessage) and len(self._pending) < BUFFER_BYTES:
                return
            self._write_pending()

    # Airbyte's own messages ------------------------------------------------------------

    def write_airbyte(self, message: AirbyteMessage) -> None:
        """Write a message of Airbyte's own (LOG, TRACE, SPEC, CATALOG, CONNECTION_STATUS)."""
        with self._locked():
            self._pending += protocol.line(message)
            self._write_pending()

    def finish(self, *, complete: bool) -> None:
        """End every configured stream: its final STATE and COMPLETE when the run
        completed; INCOMPLETE for the streams that started when it did not."""
        with self._locked():
            for stream in self.streams:
                if complete:
                    self._pending += self._start(stream)
                    bookmark = self._bookmarks.get(stream) or {}
                    self._pending += protocol.line(protocol.stream_state(stream, bookmark))
                    self._written[stream] = copy.deepcopy(bookmark)
                    status = AirbyteStreamStatus.COMPLETE
                elif stream in self._started:
                    status = AirbyteStreamStatus.INCOMPLETE
                else:
                    continue
                self._pending += protocol.line(protocol.stream_status(stream, status))
            self._write_pending()

    def busy(self) -> bool:
        """Whether this thread is inside a write (a signal handler interrupting it must not
        write: the tap's SIGTERM handler asks before it writes the state)."""
        return self._owner == threading.get_ident()

    def flush(self) -> None:
        with self._locked():
            self._write_pending()

    # Internals ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> t.Iterator[None]:
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None

    def _record(self, message: RecordMessage) -> bytes:
        out = b""
        if message.stream not in self._running:
            out = self._start(message.stream)
            if message.stream in self._wanted:
                self._running.add(message.stream)
                status = protocol.stream_status(message.stream, AirbyteStreamStatus.RUNNING)
                out += protocol.line(status)
        return out + protocol.record_line(message.stream, message.record, protocol.now_ms())

    def _start(self, stream: str) -> bytes:
        if stream in self._started or stream not in self._wanted:
            return b""
        self._started.add(stream)
        return protocol.line(protocol.stream_status(stream, AirbyteStreamStatus.STARTED))

    def _states(self, singer_state: t.Any) -> bytes:
        """A STATE per configured stream whose bookmark changed (the SDK's state is the
        whole Singer state, and it changes it in place after writing: copies are kept)."""
        bookmarks = singer_state.get("bookmarks") if isinstance(singer_state, dict) else None
        out = bytearray()
        for stream, bookmark in (bookmarks or {}).items():
            if stream not in self._wanted or not isinstance(bookmark, dict):
                continue
            self._bookmarks[stream] = copy.deepcopy(bookmark)
            if bookmark != self._written.get(stream):
                out += self._start(stream)
                out += protocol.line(protocol.stream_state(stream, bookmark))
                self._written[stream] = copy.deepcopy(bookmark)
        return bytes(out)

    def _write_pending(self) -> None:
        if self._pending:
            sys.stdout.buffer.write(self._pending)
            self._pending.clear()
        sys.stdout.flush()

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError, RuntimeError):
            self.flush()


class AirbyteLogHandler(logging.Handler):
    """Every log record of the run as an Airbyte LOG message on stdout."""

    def __init__(self, writer: AirbyteMessageWriter) -> None:
        super().__init__()
        self.writer = writer
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            stack = None
            if record.exc_text:
                # The formatter appended the (redacted) traceback: it goes apart.
                text, _, _ = text.partition("\n" + record.exc_text)
                stack = record.exc_text
            message = protocol.log(record.levelno, text, stack)
            if self.writer.busy():
                # A signal handler logging while this thread writes: stderr, not a deadlock.
                sys.stderr.write(protocol.line(message).decode())
                return
            self.writer.write_airbyte(message)
        except Exception:  # logging must never end the run
            self.handleError(record)
