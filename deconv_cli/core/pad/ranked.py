"""Solutions in rank order, found only as far as they are read.

A search over every kernel and stride can find hundreds of thousands of settings, and a
reader usually wants the first few. Each group (one kernel and stride) has a lower bound
on the rank of anything it can give, computed without searching it; a group is searched
only when its bound comes up, so reading the best one searches the few groups that can
beat it. The order is exactly that of a stable sort of every group's items, the groups in
order: ties go to the earlier group, then to the earlier item within a group.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar, overload

T = TypeVar("T")
Key = tuple[int, ...]
#: a group not yet searched sorts before its own items (which have indices from 0)
_UNSEARCHED = -1


class Ranked(Sequence[T], Generic[T]):
    """The items of ``groups``, sorted by ``key``, searched lazily.

    Each group is ``(bound, search)``: ``bound`` is at most the key of every item ``search()``
    returns, compared element by element.

    >>> groups = [((3,), lambda: [3, 5]), ((1,), lambda: [4, 1]), ((9,), lambda: [9])]
    >>> ranked = Ranked(groups, key=lambda v: (v,))
    >>> ranked[0], ranked.searched, list(ranked), ranked.searched
    (1, 1, [1, 3, 4, 5, 9], 3)
    """

    def __init__(self, groups: Sequence[tuple[Key, Callable[[], list[T]]]], key: Callable[[T], Key]):
        self._groups = groups
        self._key = key
        self._found: list[T] = []
        # (key or bound, group, item index or _UNSEARCHED): unique, so items are never compared
        self._heap: list[tuple[Key, int, int]] = [
            (bound, g, _UNSEARCHED) for g, (bound, _) in enumerate(groups)
        ]
        heapq.heapify(self._heap)
        self._items: dict[int, list[T]] = {}
        #: how many groups have been searched
        self.searched = 0

    def _fill(self, count: int | None) -> None:
        """Find the first ``count`` items (all when None)."""
        while self._heap and (count is None or len(self._found) < count):
            _, group, index = heapq.heappop(self._heap)
            if index != _UNSEARCHED:
                self._found.append(self._items[group][index])
                continue
            items = self._groups[group][1]()
            self.searched += 1
            self._items[group] = items
            for i, item in enumerate(items):
                heapq.heappush(self._heap, (self._key(item), group, i))

    def __len__(self) -> int:
        self._fill(None)
        return len(self._found)

    def __bool__(self) -> bool:
        self._fill(1)
        return bool(self._found)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        if isinstance(index, slice):
            start, stop, step = index.start or 0, index.stop, index.step or 1
            self._fill(stop if stop is not None and min(start, stop) >= 0 and step > 0 else None)
            return tuple(self._found[index])
        self._fill(index + 1 if index >= 0 else None)
        return self._found[index]

    def __iter__(self) -> Iterator[T]:
        index = 0
        while True:
            self._fill(index + 1)
            if index >= len(self._found):
                return
            yield self._found[index]
            index += 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # a sequence compared by value, like a list

    def __repr__(self) -> str:
        # as the tuple it stands for, so a report reads the same either way
        return repr(tuple(self))
