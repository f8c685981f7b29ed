"""Pure logic: window planning, stamps in milliseconds and $filter literals."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from array import array

import pytest

from tap_acumatica.datetimes import UNIX_EPOCH, from_ms, stamp_ms, to_ms, truncate_ms
from tap_acumatica.query import datetime_literal, window_filter
from tap_acumatica.sync.windows import RESOLUTION, CensusPlan, Window, split_at_quantiles

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)


def ms(n: int) -> dt.datetime:
    return T0 + dt.timedelta(milliseconds=n)


def count_in(window: Window, stamps: list[dt.datetime]) -> int:
    return sum(1 for s in stamps if window.start < s <= window.end)


def epoch_ms(moment: dt.datetime) -> int:
    return (moment - UNIX_EPOCH) // RESOLUTION


def plan_all(
    start: dt.datetime, end: dt.datetime, stamps: list[dt.datetime], target: int
) -> list[Window]:
    # The census in pages of up to 700 stamps, in row order (not time order), each sorted.
    shuffled = list(stamps)
    random.Random(len(stamps)).shuffle(shuffled)
    pages = [
        array("q", sorted(epoch_ms(s) for s in shuffled[i : i + 700]))
        for i in range(0, len(shuffled), 700)
    ]
    plan = CensusPlan(start, end, pages)
    windows = []
    while (window := plan.next_window(target)) is not None:
        windows.append(window)
    return windows


def test_windows_cover_range_contiguously_and_are_planned_full() -> None:
    rng = random.Random(3)
    stamps = sorted(ms(rng.randrange(0, 10_000_000)) for _ in range(25_000))
    windows = plan_all(ms(-1), ms(10_000_000), stamps, target=900)
    assert windows[0].start == ms(-1)
    assert windows[-1].end == ms(10_000_000)
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    assert sum(count_in(w, stamps) for w in windows) == len(stamps)
    assert all(count_in(w, stamps) == w.census <= 900 for w in windows)
    # Full: only stamp collisions at a cut keep a window under the target.
    assert len(windows) == -(-len(stamps) // 900)


def test_run_of_equal_stamps_larger_than_a_window_gets_its_own_crowded_window() -> None:
    stamps = sorted([ms(5)] * 50 + [ms(7)] * 3000 + [ms(9)] * 50)
    windows = plan_all(ms(0), ms(20), stamps, target=100)
    assert [count_in(w, stamps) for w in windows] == [50, 3000, 50]
    assert [w.census for w in windows] == [50, 3000, 50]
    assert windows[1].end == ms(7)
    assert sum(count_in(w, stamps) for w in windows) == len(stamps)


@pytest.mark.parametrize("seed", range(8))
def test_target_may_change_between_windows(seed: int) -> None:
    """Pages shrink once a response shows big rows: each window honours the target it
    was planned with, and the windows still tile the range."""
    rng = random.Random(seed)
    stamps = sorted(ms(rng.randrange(0, 50_000)) for _ in range(rng.randrange(0, 6000)))
    stamps += [ms(31_337)] * rng.choice([0, 5, 400, 2500])  # a bulk import on one stamp
    stamps.sort()
    start, end = ms(-1), ms(60_000)
    plan = CensusPlan(start, end, [array("q", [epoch_ms(s) for s in stamps])])
    windows, targets = [], []
    while True:
        target = rng.choice([1, 7, 100, 980])
        window = plan.next_window(target)
        if window is None:
            break
        windows.append(window)
        targets.append(target)
    assert plan.next_window(5) is None
    assert windows[0].start == start
    assert windows[-1].end == end
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    for window, target in zip(windows, targets, strict=True):
        held = count_in(window, stamps)
        assert held == window.census
        # Over the target only when one stamp holds more rows than the target.
        assert held <= target or len({s for s in stamps if window.start < s <= window.end}) == 1
    assert sum(count_in(w, stamps) for w in windows) == len(stamps)


def test_census_bounds_with_sub_millisecond_start() -> None:
    """A bookmark with microseconds: rows at its millisecond, before it, are not counted."""
    start = ms(5) + dt.timedelta(microseconds=400)
    windows = plan_all(start, ms(20), [ms(5), ms(6), ms(20)], target=10)
    assert windows == [Window(start, ms(20))]
    assert windows[0].census == 2


def test_window_split_halves_cover_window() -> None:
    window = Window(ms(0), ms(10))
    first, second = window.split()
    assert first.start == ms(0)
    assert second.end == ms(10)
    assert first.end == second.start
    tiny = Window(ms(0), ms(1))
    assert not tiny.splittable


def test_empty_census_gives_one_window() -> None:
    assert plan_all(ms(0), ms(10), [], target=5) == [Window(ms(0), ms(10))]


def test_stamps_in_milliseconds_round_trip() -> None:
    assert to_ms(dt.datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert from_ms(to_ms(ms(1234))) == ms(1234)
    assert from_ms(-1) == dt.datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    # Offsets and 1-7 fraction digits as Acumatica sends them; sub-millisecond digits drop.
    assert stamp_ms("2024-01-01T03:00:00.0345678+03:00") == to_ms(ms(34))
    assert stamp_ms("2024-01-01T00:00:00.034") == to_ms(ms(34))  # no offset: UTC
    assert truncate_ms(ms(34) + dt.timedelta(microseconds=999)) == ms(34)


def test_split_at_quantiles_cuts_at_sampled_stamps_into_similar_parts() -> None:
    rng = random.Random(5)
    window = Window(ms(0), ms(1_000_000))
    sample = sorted(to_ms(ms(rng.randrange(1, 1_000_001))) for _ in range(1600))
    parts = split_at_quantiles(window, sample)
    assert parts[0].start == window.start
    assert parts[-1].end == window.end
    assert all(a.end == b.start and a.start < a.end for a, b in itertools.pairwise(parts))
    assert len(parts) == 16
    assert all(to_ms(p.end) in sample for p in parts[:-1])  # cuts are stamp values
    sizes = [sum(1 for v in sample if to_ms(p.start) < v <= to_ms(p.end)) for p in parts]
    assert sum(sizes) == len(sample)
    assert max(sizes) <= 2 * len(sample) // 16


def test_split_at_quantiles_isolates_a_shared_stamp_and_falls_back_to_halving() -> None:
    window = Window(ms(0), ms(100))
    # Every sampled row on one stamp inside the window: one cut, at that stamp.
    parts = split_at_quantiles(window, [to_ms(ms(40))] * 500)
    assert parts == [Window(ms(0), ms(40)), Window(ms(40), ms(100))]
    # ...on the window's end (no quantile cuts inside): the stamp gets a 1 ms window.
    parts = split_at_quantiles(window, [to_ms(ms(100))] * 500)
    assert parts == [Window(ms(0), ms(99)), Window(ms(99), ms(100))]
    # Nothing to cut at inside the window: halve it.
    small = Window(ms(0), ms(2))
    assert split_at_quantiles(small, [to_ms(ms(0))] * 10) == list(small.split())


def test_datetime_literals_carry_utc_explicitly() -> None:
    moment = dt.datetime(
        2024, 7, 15, 13, 31, 28, 402_999, tzinfo=dt.timezone(dt.timedelta(hours=3))
    )
    assert datetime_literal(moment) == "datetimeoffset'2024-07-15T10:31:28.402+00:00'"
    assert datetime_literal(moment, "odata3") == "datetime'2024-07-15T10:31:28.402'"
    assert datetime_literal(moment, "odata4") == "2024-07-15T10:31:28.402Z"
    with pytest.raises(ValueError):
        datetime_literal(moment, "sql")


def test_window_filter() -> None:
    text = window_filter("LastModified", ms(0), ms(1000))
    assert text == (
        "LastModified gt datetimeoffset'2024-01-01T00:00:00.000+00:00' and "
        "LastModified le datetimeoffset'2024-01-01T00:00:01.000+00:00'"
    )
    assert window_filter("X", None, ms(0)).startswith("X le ")
