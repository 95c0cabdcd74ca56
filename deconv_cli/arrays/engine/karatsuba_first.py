"""Karatsuba, channels first: for large images, where the channels-last
transposes would dominate; the last combining step writes the stride phases
of the output in place."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deconv_cli.arrays.engine.axis import Axis
from deconv_cli.arrays.engine.buffers import Arena, Array, at
from deconv_cli.arrays.engine.karatsuba import (
    Blocks,
    combine_axes,
    expand_pairs,
    interleave,
    pair_blocks,
    written,
)


def run(
    x: Array,
    out: Array,
    axes: Sequence[Axis],
    blocks: Sequence[Blocks],
    v: Array,
    bias: Array | None,
    arena: Arena,
) -> None:
    """Karatsuba strategy for one chunk, channels first: one GEMM per
    product over (s... x C_out) rows and (sample, tile) columns; the last
    combining step writes every stride phase of the output in place.
    Suits large images, where the channels-last transposes would dominate."""
    nb, c_in = x.shape[:2]
    c_out = out.shape[1]
    dims = len(axes)
    prods = tuple(b.products for b in blocks)
    tiles = tuple(b.tiles for b in blocks)
    strides = tuple(ax.s for ax in axes)
    arena.used = 0
    # (C_in, n, tiles x step...) copy, zero-padded to whole tiles
    xp = arena.take(c_in, nb, *(b.tiles * b.step for b in blocks))
    for a, ax in enumerate(axes):
        at(xp, 2 + a, slice(ax.n, None)).fill(0)
    np.copyto(xp[(slice(None), slice(None), *(slice(0, ax.n) for ax in axes))], x.swapaxes(0, 1))
    split = xp.reshape(c_in, nb, *interleave(tiles, [b.step for b in blocks]))
    src = split.transpose(*range(3, 2 * dims + 2, 2), 0, 1, *range(2, 2 * dims + 1, 2))
    t = arena.take(*prods, c_in, nb, *tiles)
    expand_pairs(src, t, blocks, lambda shape: arena.take(*shape))
    columns = nb * math.prod(tiles)
    p = arena.take(*prods, v.shape[-1], columns)
    for idx in itertools.product(*(range(n) for n in prods)):
        np.matmul(v[idx].T, t[idx].reshape(c_in, columns), out=p[idx])
    # (product of axis 0, s..., C_out, n, tiles of axis 0, blocks...)
    cur = combine_axes(p.reshape(*prods, *strides, c_out, nb, *tiles), blocks, dims + 2, arena)
    # Axis 0, phase by phase, into the output.  (Blocks of channels that
    # stay in cache across the phases measured slower: more, smaller calls.)
    for rs in itertools.product(*(range(s) for s in strides)):
        ranges = [_phase_blocks(ax, b, r) for ax, b, r in zip(axes, blocks, rs, strict=True)]
        if any(q1 <= q0 for q0, q1, _ in ranges):
            continue
        windows = tuple(
            slice(t0, t0 + (q1 - q0 - 1) * ax.s + 1, ax.s)
            for ax, (q0, q1, t0) in zip(axes, ranges, strict=True)
        )
        dst = out[(slice(None), slice(None), *windows)].swapaxes(0, 1)
        # (product of axis 0, C_out, n, axis 0, blocks of the other axes in range)
        index: tuple[Any, ...] = (slice(None), *rs, slice(None), slice(None), slice(None))
        src = cur[index + tuple(slice(q0, q1) for q0, q1, _ in ranges[1:])]
        if blocks[0].pair:
            pair_blocks([src[e] for e in range(3)], dst, 2, ranges[0][0])
        else:
            np.copyto(dst, at(src[0], 2, slice(ranges[0][0], ranges[0][1])))
    if bias is not None:
        box = out[
            (slice(None), slice(None), *(slice(*written(ax, b)) for ax, b in zip(axes, blocks, strict=True)))
        ]
        box += bias


def _phase_blocks(ax: Axis, b: Blocks, r: int) -> tuple[int, int, int]:
    """Blocks [q0, q1) whose offset r lands inside the output, and the first output."""
    q0 = max(0, -((r - ax.lo) // ax.s))
    q1 = min(b.blocks, (ax.o - 1 + ax.lo - r) // ax.s + 1)
    return q0, q1, q0 * ax.s + r - ax.lo
