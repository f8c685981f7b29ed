"""Secrets never reach a log line, at any level, from any library.

A log-record factory (not a filter: filters attach to one logger or handler and miss
records of other libraries, e.g. urllib3 at DEBUG) redacts every formatted message with
the run's redactor, which knows the configured secrets and the live tokens and cookies.
"""

from __future__ import annotations

import logging
import re
import typing as t

_redactors: list[t.Callable[[str], str]] = []
_base_factory = logging.getLogRecordFactory()


class _RedactedRecord(logging.LogRecord):
    def getMessage(self) -> str:
        return redact_text(super().getMessage())


def _factory(*args: t.Any, **kwargs: t.Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    record.__class__ = _RedactedRecord
    if record.exc_info and not record.exc_text:
        # Formatters reuse a pre-set exc_text: the traceback (whose last line is the
        # exception's message, which may quote a URL or a body) is redacted too.
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    return record


_USERINFO = re.compile(r"(https?://)[^/@\s]+@")


def redact_secrets(text: str, secrets: t.Iterable[str]) -> str:
    """``text`` without any of ``secrets`` (longest first) or URL user-info."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)


def redact_text(text: str) -> str:
    """``text`` with every installed redactor applied (for output that is not a log record)."""
    for redact in list(_redactors):
        text = redact(text)
    return text


def install_redaction(redact: t.Callable[[str], str]) -> None:
    """Redact every log message from now on with ``redact`` (in addition to earlier ones)."""
    if redact not in _redactors:
        _redactors.append(redact)
    if logging.getLogRecordFactory() is not _factory:
        logging.setLogRecordFactory(_factory)
