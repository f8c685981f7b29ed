"""Secrets never reach a log line, at any level, from any library.

A log-record factory (not a filter: filters attach to one logger or handler and miss
records of other libraries, e.g. urllib3 at DEBUG) redacts every formatted message with
the run's redactor, which knows the configured secrets and the live tokens and cookies.
"""

from __future__ import annotations

import logging
import typing as t

_redactors: list[t.Callable[[str], str]] = []
_base_factory = logging.getLogRecordFactory()


class _RedactedRecord(logging.LogRecord):
    def getMessage(self) -> str:
        message = super().getMessage()
        for redact in list(_redactors):
            message = redact(message)
        return message


def _factory(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.__class__ = _RedactedRecord
    return record


def install_redaction(redact: t.Callable[[str], str]) -> None:
    """Redact every log message from now on with ``redact`` (in addition to earlier ones)."""
    if redact not in _redactors:
        _redactors.append(redact)
    if logging.getLogRecordFactory() is not _factory:
        logging.setLogRecordFactory(_factory)
