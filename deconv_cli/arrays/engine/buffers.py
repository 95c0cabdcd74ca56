"""Memory shared by the strategies: one reusable arena, and the blocked
scatter of several interleaved sources into one output."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating[Any]]

# Output elements per block of the final scatter (about half an L2 cache).
BLOCK_ELEMENTS = 1 << 17


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
