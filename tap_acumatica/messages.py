"""The Singer message writer: msgspec serialisation, one write per batch of records.

The SDK's ``MsgSpecWriter`` writes and flushes stdout for every message: one ``write``
system call per record (and with ``PYTHONUNBUFFERED`` set, as schedulers often do,
stdout has no buffer of its own at all). Records only need to reach the target before
the STATE that covers them, so this writer gathers RECORD messages in its own buffer and
writes it out before every other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH), when
it holds ``BUFFER_BYTES``, and at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import typing as t

from singer_sdk import singerlib as singer
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers._util import utc_now
from singer_sdk.singerlib.encoding.simple import Message, RecordMessage

BUFFER_BYTES = 64 * 1024


class BufferedMsgSpecWriter(MsgSpecWriter):
    """``MsgSpecWriter`` that batches RECORD messages into few writes."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()
        self._lock = threading.Lock()
        atexit.register(self._flush_at_exit)

    def write_message(self, message: Message) -> None:
        with self._lock:
            self._pending += self.format_message(message)
            if isinstance(message, RecordMessage) and len(self._pending) < BUFFER_BYTES:
                return
            self._write_pending()

    def busy(self) -> bool:
        """Whether a message is being written right now (e.g. by the frame a signal
        interrupted): writing another one from the signal handler would deadlock."""
        if not self._lock.acquire(blocking=False):
            return True
        self._lock.release()
        return False

    def flush(self) -> None:
        """Write out buffered records (also runs at exit)."""
        with self._lock:
            if self._pending:
                self._write_pending()

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self.flush()

    def _write_pending(self) -> None:
        out = sys.stdout.buffer
        out.write(self._pending)
        self._pending.clear()
        sys.stdout.flush()


def mapped_record_messages(
    stream_maps: t.Iterable[t.Any], record: dict[str, t.Any], version: int | None
) -> t.Iterator[singer.RecordMessage]:
    """RECORD messages of a record that needs neither of the SDK's per-record passes.

    A stream whose records hold no deselected property (what
    ``pop_deselected_record_properties`` would remove) and whose type conformance is
    ``NONE`` (``conform_record_data_types`` returns the record unchanged) can skip both;
    stream maps (filters, aliases, added or removed properties) are applied exactly as the
    SDK does.
    """
    for stream_map in stream_maps:
        mapped_record = stream_map.transform(record)
        if mapped_record is not None:
            yield singer.RecordMessage(
                stream=stream_map.stream_alias,
                record=mapped_record,
                version=version,
                time_extracted=utc_now(),
            )
