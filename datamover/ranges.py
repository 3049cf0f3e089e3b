"""Byte ranges: the copy scope, changed areas and completed work.

Internally a range is a half-open ``(start, end)`` pair; the public API speaks
``(offset, length)`` like VMware's ``QueryChangedDiskAreas``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator


class RangeSet:
    """A set of disjoint, merged half-open ranges."""

    __slots__ = ("_starts", "_ends")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()):
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in ranges:
            self.add(start, end)

    def add(self, start: int, end: int) -> None:
        if start >= end:
            return
        starts, ends = self._starts, self._ends
        # Ranges that overlap or touch [start, end) merge into one.
        i = bisect_left(ends, start)
        j = bisect_right(starts, end)
        if i < j:
            start = min(start, starts[i])
            end = max(end, ends[j - 1])
        starts[i:j] = [start]
        ends[i:j] = [end]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self._starts == other._starts and self._ends == other._ends

    def __repr__(self) -> str:
        return f"RangeSet({list(self)!r})"

    def copy(self) -> RangeSet:
        new = RangeSet()
        new._starts = self._starts[:]
        new._ends = self._ends[:]
        return new

    def total(self) -> int:
        return sum(self._ends) - sum(self._starts)

    def covers(self, start: int, end: int) -> bool:
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def overlap(self, start: int, end: int) -> int:
        """How many bytes of [start, end) are in the set."""
        total = 0
        i = max(bisect_right(self._starts, start) - 1, 0)
        starts, ends = self._starts, self._ends
        while i < len(starts) and starts[i] < end:
            lo, hi = max(starts[i], start), min(ends[i], end)
            if hi > lo:
                total += hi - lo
            i += 1
        return total

    def missing_from(self, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """The parts of ``ranges`` (sorted, disjoint) that are not in the set."""
        out: list[tuple[int, int]] = []
        starts, ends = self._starts, self._ends
        for start, end in ranges:
            pos = start
            i = max(bisect_right(starts, pos) - 1, 0)
            while pos < end:
                while i < len(starts) and ends[i] <= pos:
                    i += 1
                if i == len(starts) or starts[i] >= end:
                    out.append((pos, end))
                    break
                if starts[i] > pos:
                    out.append((pos, starts[i]))
                pos = ends[i]
                i += 1
        return out


def as_offset_length(ranges: Iterable[tuple[int, int]]) -> list[list[int]]:
    return [[start, end - start] for start, end in ranges]


def _offset_length(extent) -> tuple[int, int]:
    """Accept (offset, length) pairs, dicts, and pyVmomi's DiskChangeExtent (start, length)."""
    if isinstance(extent, dict):
        offset = extent.get("offset", extent.get("start"))
        length = extent.get("length")
    elif hasattr(extent, "start") and hasattr(extent, "length"):
        offset, length = extent.start, extent.length
    else:
        offset, length = extent
    if isinstance(offset, bool) or isinstance(length, bool) or not isinstance(offset, int) or not isinstance(length, int):
        raise ValueError(f"extent {extent!r} must be two integers (offset, length)")
    return offset, length


def normalize_extents(extents: Iterable, size: int, align: int = 1) -> list[tuple[int, int]]:
    """Sort, validate and merge changed areas into disjoint ``(start, end)`` ranges.

    Ranges are widened to ``align`` (the servers' minimum block size) because a
    server may refuse unaligned requests; the extra bytes are copied unchanged.
    """
    merged = RangeSet()
    for extent in extents:
        offset, length = _offset_length(extent)
        if offset < 0 or length < 0:
            raise ValueError(f"extent ({offset}, {length}) has a negative offset or length")
        if offset + length > size:
            raise ValueError(f"extent ({offset}, {length}) ends after the end of the disk ({size} bytes)")
        if length == 0:
            continue
        start = offset - offset % align
        end = min(-(-(offset + length) // align) * align, size)
        merged.add(start, end)
    return list(merged)
