"""Memory shared by the strategies: reusable arenas, kept for the next call,
and the blocked scatter of several interleaved sources into one output."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating[Any]]

# Output elements per block of the final scatter (about half an L2 cache).
BLOCK_ELEMENTS = 1 << 17
# Arenas kept for the next call, up to this many bytes in all: the allocator
# returns large freed blocks to the system, and fresh memory costs a page
# fault per page again (128->3 32->64: 1,600 faults, a third of the call).
KEPT_BYTES = 64 << 20


class Arena:
    """Views carved from one buffer, reused by every chunk and plan.

    Fresh memory costs a page fault per page on first touch, which is
    comparable to the copies themselves; reuse pays that once per call.
    """

    def __init__(self, size: int, dtype: np.dtype[Any]) -> None:
        self.buffer = np.empty(size, dtype=dtype)
        self.used = 0

    def take(self, *shape: int) -> Array:
        size = math.prod(shape)
        view = self.buffer[self.used : self.used + size].reshape(shape)
        self.used += size
        return view


_kept: list[Arena] = []
_kept_lock = threading.Lock()


@contextmanager
def arenas(count: int, size: int, dtype: np.dtype[Any]) -> Iterator[list[Arena]]:
    """``count`` arenas of at least ``size`` elements for one call, reusing those
    an earlier call left.  Kept arenas this call cannot use are freed first, so
    a call never holds more than its own."""
    with _kept_lock:
        fitting = [a for a in _kept if a.buffer.dtype == dtype and a.buffer.size >= size][:count]
        _kept.clear()
    taken = fitting + [Arena(size, dtype) for _ in range(count - len(fitting))]
    try:
        yield taken
    finally:
        with _kept_lock:
            held = sum(a.buffer.nbytes for a in _kept)
            for arena in taken:
                if held + arena.buffer.nbytes <= KEPT_BYTES:
                    _kept.append(arena)
                    held += arena.buffer.nbytes


def release() -> None:
    """Free the scratch memory ``conv_transpose`` keeps for its next call (up to 64 MiB), as a
    long-lived process may want after its last call.  Exported as ``deconv_cli.release``."""
    with _kept_lock:
        _kept.clear()


Pairs = Sequence[tuple[Array, Array]]  # (destination, source) views
BlockFn = Callable[[Pairs, Array | None, tuple[slice, ...]], None]


def assign_all(pairs: Pairs, bias: Array | None, index: tuple[slice, ...]) -> None:
    """dst = src (+ bias of shape (1, G, cog, 1...)) within one block."""
    for dst, src in pairs:
        if bias is None:
            np.copyto(dst[index], src[index])
        else:
            np.add(src[index], bias[(slice(None), *index[1:])], out=dst[index])


def add_all(pairs: Pairs, _bias: Array | None, index: tuple[slice, ...]) -> None:
    """dst += src within one block (the bias, if any, is already in dst)."""
    for dst, src in pairs:
        dst[index] += src[index]


def blockwise(fn: BlockFn, pairs: Pairs, shape: Sequence[int], bias: Array | None) -> None:
    """Apply fn to every pair, block by block of (sample, channels).

    The pairs interleave into the same output (stride phases, or taps), so
    doing all of them per block while it sits in cache saves one trip to
    memory per pair.
    """
    nb, n_groups, cog = shape[:3]
    per_channel = max(1, math.prod(shape[3:]))
    channels = max(1, BLOCK_ELEMENTS // per_channel)
    blocks: list[tuple[slice, ...]]
    if channels >= n_groups * cog:
        # Whole samples fit: blocks of several samples.
        step = channels // (n_groups * cog)
        blocks = [(slice(n, n + step),) for n in range(0, nb, step)]
    else:
        if n_groups == 1 or channels < cog:
            step = min(channels, cog)
            spans = [
                (slice(g, g + 1), slice(c, c + step)) for g in range(n_groups) for c in range(0, cog, step)
            ]
        else:
            step = channels // cog
            spans = [(slice(g, g + step), slice(None)) for g in range(0, n_groups, step)]
        blocks = [(slice(n, n + 1), *span) for n in range(nb) for span in spans]
    for index in blocks:
        fn(pairs, bias, index)


def at(a: Array, axis: int, index: int | slice) -> Array:
    """View of ``a`` indexed along one axis."""
    return a[(slice(None),) * axis + (index,)]
