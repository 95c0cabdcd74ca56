"""Columns (col2im): one GEMM gives every tap's contribution, then one strided
add per tap scatters them.  Traffic scales with C_out rather than C_in, so
it wins when a layer shrinks the channel count."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from deconv_cli.arrays.engine.axis import Axis
from deconv_cli.arrays.engine.buffers import Arena, Array, add_all, blockwise


def _tap_range(ax: Axis, j: int) -> tuple[int, int, int]:
    """Inputs [i0, i1) that tap j sends inside the output, and the first t."""
    shift = j * ax.d - ax.lo
    i0 = max(0, -(shift // ax.s))
    i1 = min(ax.n, (ax.o - 1 - shift) // ax.s + 1)
    return i0, max(i0, i1), i0 * ax.s + shift


def run(x: Array, w: Array, out: Array, axes: Sequence[Axis], n_groups: int, arena: Arena) -> None:
    """col2im strategy for one chunk; adds into out (already initialised)."""
    nb, c_in = x.shape[:2]
    cig = c_in // n_groups
    cog = out.shape[1] // n_groups
    arena.used = 0
    # w read transposed in place: rows (cog, taps), so no weight copy.
    wmat = w.reshape(n_groups, cig, -1).transpose(0, 2, 1)
    cols = arena.take(nb, n_groups, wmat.shape[1], math.prod(x.shape[2:]))
    np.matmul(wmat, x.reshape(nb, n_groups, cig, -1), out=cols)
    cols = cols.reshape(nb, n_groups, cog, *(ax.k for ax in axes), *x.shape[2:])
    outg = out.reshape(nb, n_groups, cog, *out.shape[2:])
    ranges = [[_tap_range(ax, j) for j in range(ax.k)] for ax in axes]
    pairs = []
    for js in itertools.product(*(range(ax.k) for ax in axes)):
        rs = [ranges[a][j] for a, j in enumerate(js)]
        if any(i1 == i0 for i0, i1, _ in rs):
            continue
        src = cols[(slice(None),) * 3 + js + tuple(slice(i0, i1) for i0, i1, _ in rs)]
        dst = outg[
            (slice(None),) * 3
            + tuple(
                slice(t0, t0 + (i1 - i0 - 1) * ax.s + 1, ax.s)
                for ax, (i0, i1, t0) in zip(axes, rs, strict=True)
            )
        ]
        pairs.append((dst, src))
    # Taps overlap in the output: every tap adds to a block while it is in cache.
    blockwise(add_all, pairs, outg.shape, None)
