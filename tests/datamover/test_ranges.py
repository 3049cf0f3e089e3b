"""Range bookkeeping and the allocation-driven planner (no servers needed)."""

from __future__ import annotations

import pytest

from datamover.allocation import AllocationMap, Planner
from datamover.engine import TokenBucket
from datamover.ranges import RangeSet, normalize_extents


def test_rangeset_merges_touching_and_overlapping_ranges():
    done = RangeSet()
    for start, end in [(10, 20), (30, 40), (20, 25), (35, 50), (0, 5), (5, 10)]:
        done.add(start, end)
    assert list(done) == [(0, 25), (30, 50)]
    assert done.total() == 45
    assert done.covers(0, 25) and not done.covers(20, 31)
    assert done.overlap(20, 35) == 10


def test_missing_from_gives_what_is_left_to_do():
    done = RangeSet([(0, 10), (20, 30), (45, 60)])
    scope = [(0, 50), (55, 100)]
    assert done.missing_from(scope) == [(10, 20), (30, 45), (60, 100)]
    assert RangeSet().missing_from(scope) == scope
    assert RangeSet([(0, 100)]).missing_from(scope) == []


def test_normalize_sorts_merges_and_aligns_to_the_block_size():
    extents = [(4096, 100), (0, 512), (600, 10), (8192, 0)]
    assert normalize_extents(extents, 1 << 20) == [(0, 512), (600, 610), (4096, 4196)]
    assert normalize_extents(extents, 1 << 20, align=512) == [(0, 1024), (4096, 4608)]
    # Widening never goes past the end of the disk.
    assert normalize_extents([(1000, 24)], 1024, align=512) == [(512, 1024)]
    with pytest.raises(ValueError):
        normalize_extents([(1000, 25)], 1024)


def _answer(amap, window, entries):
    window.add(window.start, entries)
    amap.complete(window)


def test_planner_cuts_data_and_zero_pieces_from_the_map():
    todo = [(0, 10_000), (20_000, 30_000)]
    amap = AllocationMap(todo, 40_000, available=True, window=100_000, first_window=100_000, merge_gap=10_000)
    planner = Planner(todo, amap, request_size=4096, zero_chunk=1 << 20)
    assert planner.next_piece() is Planner.NEED_MAP
    window = amap.next_request(planner.pos)
    # The two areas are close enough to share one query.
    assert (window.start, window.end) == (0, 30_000)
    _answer(amap, window, [(3000, False), (17_000, True), (20_000, False)])
    pieces = []
    while (piece := planner.next_piece()) is not None:
        pieces.append(piece)
    assert pieces == [
        (Planner.DATA, 0, 3000),
        (Planner.ZERO, 3000, 7000),
        (Planner.DATA, 20_000, 4096),
        (Planner.DATA, 24_096, 4096),
        (Planner.DATA, 28_192, 1808),
    ]


def test_map_queries_skip_gaps_grow_and_integrate_in_order():
    todo = [(0, 100), (1_000_000, 1_000_100), (3_000_000, 6_000_000)]
    amap = AllocationMap(todo, 8_000_000, available=True, first_window=1000, window=2_000_000, merge_gap=10)
    first = amap.next_request(0)
    second = amap.next_request(0)
    third = amap.next_request(0)
    # One query per distant area; windows grow (1000, 2000, 4000...) up to the limit.
    assert [(w.start, w.end) for w in (first, second, third)] == [(0, 100), (1_000_000, 1_000_100), (3_000_000, 3_004_000)]
    # Replies out of order are held until the earlier ones arrive.
    _answer(amap, second, [(100, True)])
    assert amap.lookup(1_000_000) is None
    _answer(amap, first, [(100, False)])
    assert amap.lookup(0) == (100, False) and amap.lookup(1_000_050) == (1_000_100, True)
    # A partial answer is asked again before anything after it is used.
    _answer(amap, third, [(1000, False)])
    assert amap.lookup(3_000_500) == (3_001_000, False)
    assert amap.lookup(3_001_000) is None
    rest = amap.next_request(3_001_000)
    assert (rest.start, rest.end) == (3_001_000, 3_004_000)
    _answer(amap, rest, [(3000, True)])
    assert amap.all_zero(3_001_000, 3_004_000) is True
    # A query the server leaves unanswered counts as data.
    fourth = amap.next_request(3_004_000)
    _answer(amap, fourth, [])
    assert amap.lookup(fourth.start) == (fourth.end, False)


def test_token_bucket_enforces_the_long_run_rate():
    bucket = TokenBucket(1000.0, 100)
    bucket.stamp = 0.0
    assert bucket.take(50, 0.0) > 0  # starts empty
    sent, now = 0, 0.0
    while now < 10.0:
        wait = bucket.take(100, now)
        if wait:
            now += wait
        else:
            sent += 100
    assert 9_000 <= sent <= 10_100
