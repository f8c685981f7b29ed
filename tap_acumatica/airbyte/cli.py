"""``source-acumatica``: the Singer tap as an Airbyte source, on the same streams.

    source-acumatica spec
    source-acumatica check --config CONFIG
    source-acumatica discover --config CONFIG
    source-acumatica read --config CONFIG --catalog CONFIGURED_CATALOG [--state STATE]

Every command writes one Airbyte message per line on stdout. ``check``, ``discover`` and
``read`` run :class:`~tap_acumatica.tap.TapAcumatica` in this process, as the Singer CLI
does, with :class:`~tap_acumatica.airbyte.writer.AirbyteMessageWriter` as its message
writer: the same settings, streams, windows, bookmarks, single API session (signed out on
every way out, signals included) and redaction, so the Singer tap's guarantees hold
because the same code runs. Logs are LOG messages. An error is one TRACE of type ERROR
with the tap's one clear line (``check`` answers CONNECTION_STATUS FAILED with it
instead, as Airbyte expects) and a non-zero exit; a failed ``check`` exits 0.

The protocol models are an optional dependency (``tap-acumatica[airbyte]``); without them
the command says so in one line.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
import typing as t

from tap_acumatica.errors import AcumaticaAuthError, AcumaticaError, ConfigError, LoginLimitError
from tap_acumatica.inputs import load_json_file, redact_config_secrets
from tap_acumatica.logs import redact_text
from tap_acumatica.tap import TapAcumatica

if t.TYPE_CHECKING:
    from airbyte_protocol.models import AirbyteMessage, FailureType

    from tap_acumatica.airbyte.writer import AirbyteMessageWriter

PROG = "source-acumatica"
USAGE = (
    f"{PROG} spec | check --config CONFIG | discover --config CONFIG | "
    "read --config CONFIG --catalog CONFIGURED_CATALOG [--state STATE]"
)
MISSING_MODELS = (
    f"{PROG}: error: the Airbyte source needs Airbyte's protocol models, an optional "
    "dependency: pip install 'tap-acumatica[airbyte]'\n"
)
LOGGER = logging.getLogger("source-acumatica")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (argparse prints the usage block first)."""

    def error(self, message: str) -> t.NoReturn:
        sys.stderr.write(f"{PROG}: error: {message}. Usage: {USAGE}\n")
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Acumatica ERP source for Airbyte.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("spec", help="the connector specification (the settings)")
    for name, text in (("check", "sign in and reach the API"), ("discover", "the catalog")):
        commands.add_parser(name, help=text).add_argument("--config", required=True)
    read = commands.add_parser("read", help="read the configured streams")
    read.add_argument("--config", required=True)
    read.add_argument("--catalog", required=True)
    read.add_argument("--state")
    return parser


def _one_line(text: str) -> str:
    """What the Singer CLI prints after ``tap-acumatica: error:``: redacted, one line."""
    return " ".join(redact_text(text).split())


def _failure_type(exc: BaseException) -> FailureType:
    from airbyte_protocol.models import FailureType

    if isinstance(exc, LoginLimitError):
        return FailureType.transient_error  # the seats free up: a later attempt may pass
    if isinstance(exc, ConfigError | AcumaticaAuthError):
        return FailureType.config_error
    return FailureType.system_error


def _error(exc: BaseException) -> AirbyteMessage:
    """The TRACE of an error: the tap's one line; a traceback only for a bug."""
    from tap_acumatica.airbyte import protocol

    if isinstance(exc, AcumaticaError):
        return protocol.error_trace(
            _one_line(str(exc)), _failure_type(exc), internal_message=type(exc).__name__
        )
    return protocol.error_trace(
        _one_line(f"unexpected {type(exc).__name__}: {exc} (please report this)"),
        _failure_type(exc),
        internal_message=type(exc).__name__,
        stack_trace=redact_text(traceback.format_exc()),
    )


def _log_to(writer: AirbyteMessageWriter) -> None:
    """Every log record of the run becomes a LOG message (the level as the Singer tap's:
    ``TAP_ACUMATICA_LOGLEVEL`` or ``LOGLEVEL``, default INFO)."""
    from tap_acumatica.airbyte.writer import AirbyteLogHandler

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(AirbyteLogHandler(writer))
    level = (os.environ.get("TAP_ACUMATICA_LOGLEVEL") or os.environ.get("LOGLEVEL") or "").upper()
    known = isinstance(logging.getLevelName(level), int)  # getLevelName maps names to numbers
    root.setLevel(level if known else logging.INFO)
    logging.captureWarnings(True)


def _release_signals() -> None:
    """The command's work is done and its session signed out. PyAirbyte stops a connector
    with SIGTERM once it has the message it waits for (the CATALOG, the CONNECTION_STATUS);
    the tap's handler would then exit 143, which PyAirbyte reports as a failed connector.
    From here on a signal needs no cleanup, so it ends the process the default way."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _config(path: str) -> dict[str, t.Any]:
    config = t.cast("dict[str, t.Any]", load_json_file("config", path))
    redact_config_secrets(config)
    return config


# The commands --------------------------------------------------------------------------


def _spec(args: argparse.Namespace, writer: AirbyteMessageWriter) -> None:
    from tap_acumatica.airbyte import protocol
    from tap_acumatica.airbyte.spec import connection_specification

    writer.write_airbyte(protocol.spec(connection_specification()))


def _check(args: argparse.Namespace, writer: AirbyteMessageWriter) -> None:
    """CONNECTION_STATUS: an expected failure is FAILED with the tap's one line, exit 0."""
    from tap_acumatica.airbyte import protocol

    try:
        tap = TapAcumatica(config=_config(args.config), setup_mapper=False, message_writer=writer)
        reached = tap.check_connection()  # signs out however it ends
    except AcumaticaError as exc:
        _release_signals()
        LOGGER.info("Connection check failed: %s", _one_line(str(exc)))
        writer.write_airbyte(protocol.connection_status(False, _one_line(str(exc))))
        return
    _release_signals()
    LOGGER.info("Connection check succeeded: %s", reached)
    writer.write_airbyte(protocol.connection_status(True, reached))


def _discover(args: argparse.Namespace, writer: AirbyteMessageWriter) -> None:
    from tap_acumatica.airbyte import protocol
    from tap_acumatica.airbyte.catalog import airbyte_stream

    tap = TapAcumatica(config=_config(args.config), setup_mapper=False, message_writer=writer)
    try:
        singer_catalog = tap.catalog_dict
    finally:
        tap.close()
        _release_signals()
    writer.write_airbyte(protocol.catalog(airbyte_stream(e) for e in singer_catalog["streams"]))


def _read(args: argparse.Namespace, writer: AirbyteMessageWriter) -> None:
    from tap_acumatica.airbyte.catalog import parse_configured, read_plan
    from tap_acumatica.airbyte.state import singer_bookmarks

    config = _config(args.config)
    plan = read_plan(parse_configured(load_json_file("catalog", args.catalog), args.catalog))
    bookmarks: dict[str, t.Any] = {}
    if args.state:
        raw = load_json_file("state", args.state, allowed=(dict, list))
        bookmarks = singer_bookmarks(raw, args.state)
    # A full refresh ignores state (the protocol's rule); other streams' bookmarks are kept
    # and carried through, as the Singer tap does.
    bookmarks = {k: v for k, v in bookmarks.items() if k not in plan.full_table}
    writer.configure(plan.streams, bookmarks)
    for note in plan.notes:
        LOGGER.warning(note)
    try:
        tap = TapAcumatica(
            config=config,
            catalog=plan.catalog,
            state={"bookmarks": bookmarks} if bookmarks else None,
            message_writer=writer,
        )
        tap.sync_all()  # signs out however it ends
    except BaseException:
        _release_signals()
        writer.finish(complete=False)
        raise
    _release_signals()
    writer.finish(complete=True)


COMMANDS: dict[str, t.Callable[[argparse.Namespace, AirbyteMessageWriter], None]] = {
    "spec": _spec,
    "check": _check,
    "discover": _discover,
    "read": _read,
}


def main(argv: t.Sequence[str] | None = None) -> None:
    """Console entry point (see the module docstring)."""
    try:
        import airbyte_protocol.models  # noqa: F401
    except ImportError:
        sys.stderr.write(MISSING_MODELS)
        sys.exit(1)
    from tap_acumatica.airbyte import protocol
    from tap_acumatica.airbyte.writer import AirbyteMessageWriter

    args = _parser().parse_args(argv)
    writer = AirbyteMessageWriter()
    if args.command != "spec":
        _log_to(writer)
    code = 0
    try:
        try:
            COMMANDS[args.command](args, writer)
        finally:
            _release_signals()
    except AcumaticaError as exc:
        writer.write_airbyte(_error(exc))
        code = exc.exit_code
    except Exception as exc:  # a bug: the redacted traceback goes with the TRACE
        trace = _error(exc)
        writer.write_airbyte(trace)
        if args.command == "check" and trace.trace and trace.trace.error:
            writer.write_airbyte(protocol.connection_status(False, trace.trace.error.message))
        code = 1
    writer.flush()
    sys.exit(code)
