"""Optional render workers: list pages rendered (and gzipped) in other processes.

Why: the simulator is one Python process. A real Acumatica server answers concurrent
requests on several cores; here, pages rendered by the threads of one process queue on
one GIL, so with several requests in flight the benchmark would measure the simulator's
CPU rather than the client's overlap of waiting. With ``render_workers: N`` the body of
a list response is built by one of N worker processes; everything observable (rows
chosen under the lock, ordering, faults, counters, sessions) stays in the main process.

Records are generated from (seed, entity, row, version, stamp) alone, so a worker holds
its own renderers, built on first use, and needs only the rows of the page. Off by
default: the tests do not need it, the benchmark turns it on.
"""

from __future__ import annotations

import gzip
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from .render import EntityRenderer
from .store import EntityStore
from .swagger import contract


class _Pool:
    """The process-wide pool (spawned workers: never a fork of a threaded server)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor: ProcessPoolExecutor | None = None
        self.size = 0

    def get(self, size: int) -> ProcessPoolExecutor:
        with self.lock:
            if self.executor is None or self.size != size:
                if self.executor is not None:
                    self.executor.shutdown(wait=False, cancel_futures=True)
                self.executor = ProcessPoolExecutor(
                    max_workers=size, mp_context=multiprocessing.get_context("spawn")
                )
                self.size = size
                # Workers are spawned on demand: start them all now (each task holds its
                # worker a moment), so none starts inside a client's timed run.
                for done in [self.executor.submit(_started) for _ in range(size)]:
                    done.result()
            return self.executor

    def shutdown(self) -> None:
        with self.lock:
            if self.executor is not None:
                self.executor.shutdown(wait=True, cancel_futures=True)
                self.executor = None


_POOL = _Pool()
_renderers: dict[tuple, EntityRenderer] = {}  # in a worker process


def _started() -> None:
    time.sleep(0.2)


def shutdown() -> None:
    """Stop the workers (the server's exit path)."""
    _POOL.shutdown()


def render_list(
    size: int,
    world: tuple,
    version: str,
    entity: str,
    options: tuple,
    page: list[tuple[int, int, int]],
    compress: bool,
) -> bytes:
    """The JSON array of ``page`` rendered by a worker (gzipped there when ``compress``)."""
    return (
        _POOL.get(size)
        .submit(_render_list, world, version, entity, options, page, compress)
        .result()
    )


def _render_list(
    world: tuple,
    version: str,
    entity: str,
    options: tuple,
    page: list[tuple[int, int, int]],
    compress: bool,
) -> bytes:
    seed, offsets, instance_path = world
    key = (world, version, entity)  # version: the contract key (swagger.contract_key)
    renderer = _renderers.get(key)
    if renderer is None:
        # Size 0: a worker needs row ids and hashes, never the stamps (they come per row).
        renderer = EntityRenderer(
            contract(version),
            entity,
            EntityStore(entity, 0, seed),
            seed=seed,
            offsets=list(offsets),
            instance_path=instance_path,
        )
        _renderers[key] = renderer
    select, expand, custom = options
    plan = renderer.plan(select, expand, custom)
    parts = [
        renderer.record(plan, row, row_version, stamp, number)
        for number, (row, row_version, stamp) in enumerate(page, 1)
    ]
    body = ("[" + ",".join(parts) + "]").encode()
    return gzip.compress(body, compresslevel=1) if compress else body
