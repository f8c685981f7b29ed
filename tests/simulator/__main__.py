"""``python -m tests.simulator``: run the Acumatica simulator until interrupted.

Prints ``SIMULATOR READY <url>`` on stdout once listening (SimulatorProcess waits for it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from . import renderpool
from .server import serve
from .state import DEFAULTS, Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.simulator",
        description="Simulated Acumatica ERP (contract-based REST, OAuth, OData GI) for tests. "
        "Control API (no auth): <url>__control/{health,counters,clock,reset,"
        "truth/<Entity>,mutate,faults,truth-odata/<Inquiry>,mutate-odata}.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="ENTITY=N",
        help="rows of one entity (repeatable)",
    )
    parser.add_argument("--default-size", type=int, help="rows of every other entity")
    parser.add_argument("--versions", help="comma-separated endpoint versions to serve")
    parser.add_argument("--seat-limit", type=int, help="concurrent API login sessions")
    parser.add_argument("--instance-path", help="default /AcumaticaERP")
    for option, what in (
        ("scan_us_per_row", "microseconds per row a scan examines"),
        ("whole_row_us", "microseconds to render a whole row"),
        ("narrowed_row_us", "microseconds to render a $select-narrowed row (plus its share)"),
        ("expand_row_us", "microseconds each $expand adds to a row"),
        ("licence_requests_per_minute", "licence budget (0: off); past half, requests are paced"),
        ("licence_concurrent_requests", "licence API cores (0: no cap); the rest queue"),
    ):
        parser.add_argument(
            "--" + option.replace("_", "-"),
            type=float if option.endswith("_us") or option.endswith("per_row") else int,
            dest=option,
            help=what,
        )
    parser.add_argument(
        "--options-json",
        metavar="FILE_OR_JSON",
        help="all options as JSON (a file path or inline JSON); keys: "
        + ", ".join(sorted(DEFAULTS)),
    )
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> dict:
    options: dict = {}
    if args.options_json:
        text = args.options_json
        if not text.lstrip().startswith("{"):
            with open(text, encoding="utf-8") as handle:
                text = handle.read()
        options.update(json.loads(text))
    if args.seed is not None:
        options["seed"] = args.seed
    if args.size:
        sizes = dict(options.get("sizes") or {})
        for item in args.size:
            name, _, count = item.partition("=")
            sizes[name] = int(count)
        options["sizes"] = sizes
    for key in (
        "default_size",
        "versions",
        "seat_limit",
        "instance_path",
        "scan_us_per_row",
        "whole_row_us",
        "narrowed_row_us",
        "expand_row_us",
        "licence_requests_per_minute",
        "licence_concurrent_requests",
    ):
        value = getattr(args, key)
        if value is not None:
            options[key] = value
    return options


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sim = Simulator(options_from(args))
    server = serve(sim, args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"SIMULATOR READY {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.shutdown()
    renderpool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
