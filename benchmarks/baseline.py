"""The baseline: a minimal raw Acumatica client, run in its own process.

What a hand-written extract script does and nothing more: one ``requests.Session``
(keep-alive; requests asks for gzip by default), log in, read ``$top/$skip`` pages one
after the other until a short page, decode each page's JSON, and write one JSON line per
record to stdout. No transformation, no schema, no state, no retries.

    python -m benchmarks.baseline URL ENTITY [--version V] [--page-size N]
        [--username U --password P --company C]

Prints ``BASELINE <records> <seconds> <requests>`` on stderr when done.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="instance base URL, ending with '/'")
    parser.add_argument("entity")
    parser.add_argument("--version", default="24.200.001")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="")
    parser.add_argument("--company", default="Company")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    base = args.url if args.url.endswith("/") else args.url + "/"
    session = requests.Session()
    login = session.post(
        base + "entity/auth/login",
        json={
            "name": args.username,
            "password": args.password,
            "company": args.company,
        },
        timeout=60,
    )
    login.raise_for_status()
    url = f"{base}entity/Default/{args.version}/{args.entity}"
    # An explicit 64 KB buffer: the same whether or not PYTHONUNBUFFERED is set.
    out = open(  # noqa: SIM115
        sys.stdout.fileno(),
        "w",
        buffering=1 << 16,
        encoding="utf-8",
        closefd=False,
    )
    records = requests_sent = skip = 0
    try:
        while True:
            response = session.get(url, params={"$top": args.page_size, "$skip": skip}, timeout=300)
            requests_sent += 1
            response.raise_for_status()
            page = json.loads(response.content)
            for record in page:
                out.write(json.dumps(record))
                out.write("\n")
            records += len(page)
            if len(page) < args.page_size:
                break
            skip += args.page_size
        out.flush()
    finally:
        session.post(base + "entity/auth/logout", timeout=60)
        session.close()
    elapsed = time.perf_counter() - started
    print(f"BASELINE {records} {elapsed:.3f} {requests_sent}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
