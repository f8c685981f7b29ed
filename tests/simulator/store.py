"""Per-entity row state: stamps, versions and a stamp index — small enough for 1M rows.

A record is never stored: it is re-generated from (seed, entity, row, version) on demand.  What
the store keeps per row is an int64 stamp (ms since epoch) and an int32 version, plus ``order``,
the rows sorted by (stamp, row), so a ``$filter`` on the stamp finds its candidates by bisection
instead of scanning.  The result order of a list is the row order (insertion order): it is
deliberately *not* the stamp order, like Acumatica, which documents no order at all.
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left, bisect_right
from datetime import datetime

from .values import datetime_to_ms, mix, stable_hash

STAMP_LO = datetime_to_ms(datetime.fromisoformat("2024-01-01T00:00:00+00:00"))
STAMP_HI = datetime_to_ms(datetime.fromisoformat("2026-01-01T00:00:00+00:00"))


class EntityStore:
    """Rows of one top-level entity (shared by every endpoint version: one ERP database)."""

    def __init__(self, entity: str, size: int, seed: int) -> None:
        self.entity = entity
        self.base = stable_hash("row", seed, entity)
        self.stamps = array("q")
        self.versions = array("i", bytes(4 * size))
        self._generate(size, random.Random(stable_hash("stamps", seed, entity)))
        self.order = array("i", sorted(range(size), key=self.stamps.__getitem__))
        self.mutation_count = 0
        #: Rows deleted in the ERP: gone from every list, lookup and the stamp index.
        self.deleted: set[int] = set()
        #: Rows in the archive (archive.py): hidden unless a request asks for them.
        self.archived: set[int] = set()

    def _generate(self, size: int, rng: random.Random) -> None:
        """Uniform stamps over 2024-2026, with bulk imports: runs of rows sharing one stamp."""
        big_start = size // 3 if size >= 5000 else -1
        big_len = 1200 + size // 500
        stamps = self.stamps
        row = 0
        while row < size:
            stamp = rng.randrange(STAMP_LO, STAMP_HI)
            if row == big_start:
                run = big_len
            elif rng.random() < 0.03:
                run = rng.randint(2, 40)
            else:
                run = 1
            if row < big_start < row + run:
                run = big_start - row  # never jump over the bulk-import run
            run = min(run, size - row)
            stamps.extend([stamp] * run)
            row += run

    def __len__(self) -> int:
        return len(self.stamps)

    def row_id(self, row: int) -> str:
        """A stable uuid that carries the row number in its last 12 hex digits."""
        h = mix(self.base ^ row)
        return f"{h >> 32:08x}-{(h >> 16) & 0xFFFF:04x}-{h & 0xFFFF:04x}-8{(h >> 52) & 0xFFF:03x}-{row:012x}"

    def live_rows(self) -> range | list[int]:
        """Every row not deleted, in row order."""
        if not self.deleted:
            return range(len(self))
        return [r for r in range(len(self)) if r not in self.deleted]

    def visible_rows(self, show_archived: bool) -> range | list[int]:
        """Every row a request sees, in row order: live, and not archived unless asked."""
        live = self.live_rows()
        if show_archived or not self.archived:
            return live
        return [r for r in live if r not in self.archived]

    def row_of(self, ident: str) -> int | None:
        try:
            row = int(ident.rsplit("-", 1)[-1], 16)
        except ValueError:
            return None
        if row in self.deleted:
            return None
        if 0 <= row < len(self) and self.row_id(row) == ident.lower():
            return row
        return None

    def rows_between(self, lo_ms: int | None, hi_ms: int | None) -> array:
        """Rows whose stamp is within [lo_ms, hi_ms] (either side open when None), row order."""
        key = self.stamps.__getitem__
        start = 0 if lo_ms is None else bisect_left(self.order, lo_ms, key=key)
        end = len(self.order) if hi_ms is None else bisect_right(self.order, hi_ms, key=key)
        return array("i", sorted(self.order[start:end]))

    def _unindex(self, row: int) -> None:
        pos = bisect_left(self.order, (self.stamps[row], row), key=lambda r: (self.stamps[r], r))
        assert self.order[pos] == row
        del self.order[pos]

    def _index(self, row: int) -> None:
        pos = bisect_left(self.order, (self.stamps[row], row), key=lambda r: (self.stamps[r], r))
        self.order.insert(pos, row)

    def update(self, rows: list[int], now_ms: int) -> None:
        """A user edited these rows now: new version (new values), stamp = now. A row's
        stamp never goes back in time (a clock step back, or a transaction that waited for
        another one's lock on the row keeps the later stamp)."""
        for row in rows:
            self._unindex(row)
            self.stamps[row] = max(now_ms, self.stamps[row])
            self.versions[row] += 1
            self._index(row)
        self.mutation_count += 1

    def insert(self, count: int, now_ms: int) -> list[int]:
        """Append new rows stamped now (they go to the end of the row order)."""
        first = len(self)
        for row in range(first, first + count):
            self.stamps.append(now_ms)
            self.versions.append(0)
            self._index(row)
        self.mutation_count += 1
        return list(range(first, first + count))

    def delete(self, rows: list[int]) -> None:
        """A user deleted these rows: they leave every list (no stamp, nothing left)."""
        for row in rows:
            if row not in self.deleted:
                self._unindex(row)
                self.deleted.add(row)
        self.mutation_count += 1

    def pick_rows(self, count: int, salt: object) -> list[int]:
        """Deterministic distinct live rows to change (for mutate, delete, live mutation)."""
        rng = random.Random(stable_hash("pick", self.base, self.mutation_count, salt))
        live = self.visible_rows(show_archived=False)  # archived documents are read-only
        return sorted(rng.sample(live, min(count, len(live))))
