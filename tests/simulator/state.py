"""Options, counters, fault configuration and the simulator's data state.

Everything a test can observe or steer through ``__control`` lives here; the HTTP layer
(server.py, rest.py) only reads and updates it under ``Simulator.lock``.
"""

from __future__ import annotations

import collections
import copy
import random
import threading
import time
from datetime import datetime, timezone

from .archive import Policy
from .economy import COST_DEFAULTS, Licence
from .render import EntityRenderer
from .store import EntityStore
from .swagger import BUNDLED_VERSIONS, DEFAULT_VERSIONS, contract, contract_key
from .values import datetime_to_ms

DEFAULTS: dict = {
    "seed": 7,
    "sizes": {},
    "default_size": 50,
    "versions": list(DEFAULT_VERSIONS),
    # The build served for a version with several (26.200.001: "d1a8f665", the released
    # contract, or "4cf7684", an earlier one); unnamed: the released one (excerpts.py).
    "contract_builds": {},
    # False: 25.200.001/26.200.001 served as their excerpts with paths only (excerpts.py).
    "complete_excerpts": True,
    # Archived documents (archive.py): {"fraction": f, "before": iso}; {}: none.
    "archive": {},
    "username": "admin",
    "password": "Sim-Passw0rd!",
    "tenants": ["Company"],
    "seat_limit": 10,
    "seat_limit_status": 500,
    "session_idle_seconds": 600,
    "token_lifetime_seconds": 3600,
    "rotate_refresh_tokens": True,
    "oauth_clients": {"C0FFEE00-0000-4000-8000-000000000001@Company": "Sim-Client-Secret-1"},
    "timezone_offsets": [0, -480, -420, 180, 330],
    "filter_timezone_minutes": 0,
    "instance_path": "/AcumaticaERP",
    "max_query_string": 2048,
    "swagger_requires_auth": True,
    "build_version": "24.200.0206",
    "odata_sizes": None,
    "odata_forbidden": [],
    "row_cache_mb": 64,
    # List pages rendered by this many worker processes (0: in the server's threads), so
    # concurrent requests do not queue on one GIL as they would not on a real server.
    "render_workers": 0,
    "clock_offset_seconds": 0,
    # DAC-based OData (tests/simulator/dac.py): sizes, forbidden, tracking, retention_days,
    # synthetic_types, offsets.
    "dac": {},
    # What requests cost the ERP and the licence's limits (economy.py).
    **COST_DEFAULTS,
}

# Kinds that count as "data requests": faults hit them, max_in_flight measures them.
DATA_KINDS = frozenset({"list", "get", "adhoc", "odata", "odata_metadata", "dac", "dac_metadata"})


def normalise_options(options: dict) -> dict:
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown simulator options: {sorted(unknown)}")
    merged = copy.deepcopy(DEFAULTS)
    merged.update(copy.deepcopy(options))
    path = "/" + merged["instance_path"].strip("/")
    merged["instance_path"] = "" if path == "/" else path
    if isinstance(merged["versions"], str):
        merged["versions"] = [v for v in merged["versions"].split(",") if v]
    for version in merged["versions"]:
        if version not in BUNDLED_VERSIONS:
            raise ValueError(f"version {version} is not bundled ({', '.join(BUNDLED_VERSIONS)})")
        contract_key(version, merged["contract_builds"])  # a build it lacks: refused
    Policy(merged["archive"], 0)  # unknown archive keys: refused
    return merged


class Counters:
    """Thread-safe counters; ``incr("a.b")`` increments a nested key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.data: dict = {
            "logins": 0,
            "logouts": 0,
            "bearer_logouts": 0,
            "login_failures": 0,
            "requests": 0,
            "requests_by_kind": {},
            "in_flight": 0,
            "max_in_flight": 0,
            "tokens_issued": {},
            "token_failures": 0,
            "faults_injected": {},
            "records_served": 0,
            # What the ERP did (economy.py): rows rendered whole, narrowed by $select, with
            # at least one $expand; rows examined by scans; response bytes on the wire.
            "rows_whole": 0,
            "rows_narrowed": 0,
            "rows_expanded": 0,
            "rows_scanned": 0,
            "bytes_served": 0,
            "licence": {},
            "mutations": 0,
        }

    def incr(self, key: str, n: int = 1) -> None:
        with self._lock:
            node = self.data
            *path, last = key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[last] = node.get(last, 0) + n

    def maximum(self, key: str, value: int) -> None:
        """``key`` (nested, like ``incr``) becomes the larger of its value and ``value``."""
        with self._lock:
            node = self.data
            *path, last = key.split(".")
            for part in path:
                node = node.setdefault(part, {})
            node[last] = max(node.get(last, 0), value)

    def enter(self) -> None:
        with self._lock:
            self.data["in_flight"] += 1
            self.data["max_in_flight"] = max(self.data["max_in_flight"], self.data["in_flight"])

    def leave(self) -> None:
        with self._lock:
            self.data["in_flight"] -= 1

    def snapshot(self) -> dict:
        with self._lock:
            return copy.deepcopy(self.data)


class Faults:
    """The current fault configuration and its seeded random source."""

    KEYS = frozenset(
        {
            "rate_429",
            "retry_after",
            "rate_5xx",
            "status_5xx",
            "rate_409",
            "latency_ms",
            "drop_rate",
            "expire_sessions",
            "optimization_failure",
            "live_mutation",
            "fault_seed",
            "only_kinds",
            "odata_forbidden",
            "rate_bad_body",
            "bad_body",
        }
    )

    def __init__(self, config: dict | None = None) -> None:
        config = dict(config or {})
        unknown = set(config) - self.KEYS
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        self.config = config
        self.rng = random.Random(config.get("fault_seed", 0))
        self.live_counts: dict[str, int] = {}

    def applies(self, kind: str) -> bool:
        only = self.config.get("only_kinds")
        return kind in only if only else kind in DATA_KINDS

    def draw(self, kind: str) -> str | None:
        """Which fault (if any) hits this request: drop, 429, 5xx, 409 or bad_body."""
        if not self.applies(kind):
            return None
        for name, key in (
            ("drop", "drop_rate"),
            ("429", "rate_429"),
            ("5xx", "rate_5xx"),
            ("409", "rate_409"),
            ("bad_body", "rate_bad_body"),
        ):
            rate = float(self.config.get(key) or 0)
            if rate and self.rng.random() < rate:
                return name
        return None


#: The ERP's clock minus the real one (``clock_offset_seconds``): a client machine whose
#: clock is off sees the server's Date headers and stamps this far from its own clock.
CLOCK_OFFSET = [0.0]


def now_utc() -> datetime:
    return datetime.fromtimestamp(server_time(), timezone.utc)


def server_time() -> float:
    return time.time() + CLOCK_OFFSET[0]


def now_ms() -> int:
    return datetime_to_ms(now_utc())


class Simulator:
    """All mutable state of one simulated Acumatica instance."""

    def __init__(self, options: dict) -> None:
        self.lock = threading.RLock()
        self.initial_options = dict(options)
        self.configure(options)

    def configure(self, options: dict) -> None:
        from .auth import AuthState

        with self.lock:
            self.options = normalise_options(options)
            CLOCK_OFFSET[0] = float(self.options["clock_offset_seconds"])
            self.counters = Counters()
            self.faults = Faults()
            self.licence = Licence(self.options)
            #: The latest requests (kind, method, path, query): lets tests check what a
            #: client asked for ($select, $expand, $custom), as a server log would.
            self.request_log: collections.deque[dict] = collections.deque(maxlen=5000)
            self.auth = AuthState(
                idle_seconds=self.options["session_idle_seconds"],
                token_lifetime=self.options["token_lifetime_seconds"],
            )
            self.stores: dict[str, EntityStore] = {}
            self.archive = Policy(self.options["archive"], self.options["seed"], now_ms())
            # Long transactions (mutate with commit_after_seconds) not yet visible, and
            # those already applied (kept for the control API's transactions view).
            self.pending: list[Transaction] = []
            self.committed: collections.deque[Transaction] = collections.deque(maxlen=1000)
            self.transactions = 0
            self.renderers: dict[tuple[str, str], EntityRenderer] = {}
            self.row_cache = RowCache(int(self.options["row_cache_mb"]) * 1024 * 1024)
            # Built on first use: most runs never read inquiries or DACs, and generating the
            # inquiries' rows was nearly all the time a reset took.
            self._odata = None
            self._dac = None

    @property
    def odata(self):
        from .odata import ODataService

        with self.lock:
            if self._odata is None:
                self._odata = ODataService(
                    seed=self.options["seed"],
                    sizes=self.options["odata_sizes"],
                    counters=self.counters,
                    clock=now_utc,
                    forbidden=tuple(self.options["odata_forbidden"]),
                )
            return self._odata

    @property
    def dac(self):
        from .dac import DacService

        with self.lock:
            if self._dac is None:
                self._dac = DacService(
                    seed=self.options["seed"],
                    options=self.options["dac"],
                    clock=now_utc,
                    counters=self.counters,
                    archive=self.archive,
                )
            return self._dac

    @property
    def tenants(self) -> list[str]:
        return list(self.options["tenants"])

    def tenant_named(self, name: str) -> str | None:
        for tenant in self.tenants:
            if tenant.lower() == name.lower():
                return tenant
        return None

    def store(self, entity: str) -> EntityStore:
        with self.lock:
            store = self.stores.get(entity)
            if store is None:
                size = self.options["sizes"].get(entity, self.options["default_size"])
                store = EntityStore(entity, int(size), self.options["seed"])
                store.archived = self.archive.rows(entity, store.stamps)
                self.stores[entity] = store
            return store

    def renderer(self, version: str, entity: str) -> EntityRenderer:
        with self.lock:
            key = (version, entity)
            renderer = self.renderers.get(key)
            if renderer is None:
                renderer = EntityRenderer(
                    contract(self.contract_key(version)),
                    entity,
                    self.store(entity),
                    seed=self.options["seed"],
                    offsets=list(self.options["timezone_offsets"]),
                    instance_path=self.options["instance_path"],
                )
                self.renderers[key] = renderer
            return renderer

    def contract_key(self, version: str) -> str:
        """The contract served for ``version`` (its build, for 25.200.001 and 26.200.001)."""
        options = self.options
        return contract_key(version, options["contract_builds"], options["complete_excerpts"])

    def find_entity(self, version: str, name: str) -> str | None:
        """The entity's exact name in this version (URL matching is case-insensitive)."""
        top = contract(self.contract_key(version)).top_level
        if name in top:
            return name
        return next((e for e in top if e.lower() == name.lower()), None)

    def mutate(
        self, entity: str, update: int, insert: int, commit_after_seconds: float = 0
    ) -> dict:
        """A user changed ``update`` rows and added ``insert`` rows, now.

        With ``commit_after_seconds`` the change is a long transaction (a big release, a
        mass update, an import scenario): the new versions carry the stamp of the moment
        they were saved, now, but become visible only that many seconds later; until then
        the old versions are served and the inserted rows do not exist. A row held by an
        uncommitted transaction is locked: a later change of it waits for that commit.
        """
        with self.lock:
            self.commit_due()
            store = self.store(entity)
            stamp = now_ms()
            rows = store.pick_rows(int(update), "update") if update else []
            commit_at = stamp / 1000 + max(0.0, float(commit_after_seconds))
            locked = [t for t in self.pending if t.entity == entity and set(rows) & t.rows]
            commit_at = max([commit_at, *(t.commit_at for t in locked)])
            self.counters.incr("mutations")
            self.transactions += 1
            tx = Transaction(self.transactions, entity, set(rows), int(insert), stamp, commit_at)
            if commit_at > server_time():
                self.pending.append(tx)
                return tx.describe(store)
            self._apply(tx)
            return tx.describe(store)

    def _apply(self, tx: Transaction) -> None:
        store = self.store(tx.entity)
        store.update(sorted(tx.rows), tx.stamp_ms)
        tx.inserted = store.insert(tx.insert, tx.stamp_ms) if tx.insert else []
        tx.committed = True
        self.committed.append(tx)

    def commit_due(self) -> None:
        """Commit the long transactions whose time has come (in commit order); called
        before every request is answered, so what a request sees is a consistent moment."""
        if not self.pending:
            return
        with self.lock:
            now = server_time()
            due = sorted((t for t in self.pending if t.commit_at <= now), key=lambda t: t.commit_at)
            for tx in due:
                self.pending.remove(tx)
                self._apply(tx)

    def transactions_view(self) -> list[dict]:
        """Every transaction of ``mutate`` (committed or not), for the control API."""
        with self.lock:
            self.commit_due()
            return [
                t.describe(self.store(t.entity))
                for t in sorted([*self.committed, *self.pending], key=lambda t: t.number)
            ]

    def delete(self, entity: str, count: int) -> dict:
        """A user deleted ``count`` records of ``entity``, now."""
        with self.lock:
            store = self.store(entity)
            rows = store.pick_rows(int(count), "delete")
            store.delete(rows)
            self.counters.incr("mutations")
            return {"deleted": [store.row_id(r) for r in rows]}


class Transaction:
    """One ``mutate``: rows updated and inserted with one stamp, visible from ``commit_at``."""

    def __init__(
        self, number: int, entity: str, rows: set, insert: int, stamp_ms: int, commit_at: float
    ) -> None:
        self.number = number
        self.entity = entity
        self.rows = rows
        self.insert = insert
        self.stamp_ms = stamp_ms
        self.commit_at = commit_at
        self.inserted: list[int] = []
        self.committed = False

    def describe(self, store: EntityStore) -> dict:
        return {
            "transaction": self.number,
            "updated": [store.row_id(r) for r in sorted(self.rows)],
            # Row numbers (so ids) of inserted rows are given at commit: none before.
            "inserted": [store.row_id(r) for r in self.inserted],
            "stamp_ms": self.stamp_ms,
            "commit_at_ms": int(self.commit_at * 1000),
            "committed": self.committed,
        }


class RowCache:
    """Bounded LRU of rendered record bodies keyed by (plan, row, version)."""

    def __init__(self, max_bytes: int) -> None:
        from collections import OrderedDict

        self.max_bytes = max_bytes
        self.bytes = 0
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> str | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: tuple, value: str) -> None:
        if self.max_bytes <= 0:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.bytes += len(value)
            while self.bytes > self.max_bytes and self.items:
                _k, old = self.items.popitem(last=False)
                self.bytes -= len(old)
