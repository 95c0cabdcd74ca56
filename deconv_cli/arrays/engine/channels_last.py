"""Channels-last columns: col2im with pixels as GEMM rows, so each overlap
add moves whole (phase, channel) rows; for small images with many channels."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deconv_cli.arrays.engine.axis import Axis, Group
from deconv_cli.arrays.engine.buffers import Arena, Array, add_all, assign_all, blockwise


def weights(w: Array, groups: Sequence[Group]) -> Array:
    """Weights as (C_in, shifts x phases x C_out) for the channels-last GEMM."""
    c_in, c_out = w.shape[:2]
    ks = w.shape[2:]
    # (C_in, k..., C_out): one small transpose per input channel.
    per_tap = np.ascontiguousarray(np.moveaxis(w, 1, -1))
    shifts = [g.shifts for g in groups]
    nph = [len(g.phases) for g in groups]
    wc = np.zeros((c_in, *shifts, *nph, c_out), dtype=w.dtype)
    for ps in itertools.product(*(range(p) for p in nph)):
        for ms in itertools.product(*(range(t) for t in shifts)):
            js = tuple(g.taps[p][m] for g, p, m in zip(groups, ps, ms, strict=True))
            if all(j < k for j, k in zip(js, ks, strict=True)):
                dst: tuple[Any, ...] = (slice(None), *ms, *ps)
                src: tuple[Any, ...] = (slice(None), *js)
                wc[dst] = per_tap[src]
    return wc.reshape(c_in, -1)


def run(
    x: Array,
    out: Array,
    axes: Sequence[Axis],
    groups: Sequence[Group],
    wc: Array,
    bias: Array | None,
    arena: Arena,
) -> None:
    """Channels-last col2im for one chunk (one conv group, one phase group).

    The GEMM runs over (sample, pixel) rows with every tap's contribution
    laid out (shift, phase, C_out) per row, so the overlap-add is one
    contiguous add per shift into a (sample, u..., phase, C_out) buffer.
    Suits small images with many channels, where NC-first rows are short.
    """
    nb, c_in = x.shape[:2]
    c_out = out.shape[1]
    dims = len(axes)
    arena.used = 0
    xcl = arena.take(nb, *x.shape[2:], c_in)
    np.copyto(xcl, np.moveaxis(x, 1, -1))
    z = arena.take(xcl.size // c_in, wc.shape[1])
    np.matmul(xcl.reshape(-1, c_in), wc, out=z)
    shifts = [g.shifts for g in groups]
    nph = [len(g.phases) for g in groups]
    zv = z.reshape(nb, *x.shape[2:], math.prod(shifts), math.prod(nph) * c_out)
    # Buffer positions u = i + shift, widened to every phase's window.
    lows = [min(0, g.u_lo) for g in groups]
    highs = [max(ax.n + g.shifts - 1, g.u_lo + g.width) for ax, g in zip(axes, groups, strict=True)]
    buf = arena.take(nb, *(h - lo for lo, h in zip(lows, highs, strict=True)), math.prod(nph) * c_out)
    buf.fill(0)
    adds = []
    for i, ms in enumerate(itertools.product(*(range(t) for t in shifts))):
        window = tuple(slice(m - lo, m - lo + ax.n) for m, lo, ax in zip(ms, lows, axes, strict=True))
        adds.append((buf[(slice(None), *window)], zv[(slice(None),) * (1 + dims) + (i,)]))
    add_all(adds, None, ())
    # (n, 1, C_out, u..., phases...) to match the output's (n, group, channel) blocks
    bv = np.moveaxis(buf.reshape(*buf.shape[:-1], *nph, c_out), -1, 1)[:, None]
    outg = out[:, None]
    pairs = []
    for ps in itertools.product(*(range(p) for p in nph)):
        windows = (
            slice(g.u_lo + g.starts[p] - lo, g.u_lo + g.starts[p] - lo + g.counts[p])
            for g, p, lo in zip(groups, ps, lows, strict=True)
        )
        index: tuple[Any, ...] = (slice(None), slice(None), slice(None), *windows, *ps)
        src = bv[index]
        phases = (slice(g.phases[p], None, ax.s) for ax, g, p in zip(axes, groups, ps, strict=True))
        dst = outg[(slice(None), slice(None), slice(None), *phases)]
        pairs.append((dst, src))
    blockwise(assign_all, pairs, outg.shape, None if bias is None else bias[None, None])
