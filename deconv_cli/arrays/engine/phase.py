"""Stride-phase GEMM: the output splits by ``t mod s`` into stride phases,
each a plain correlation with the taps that land on it.

Input patches (im2col) are gathered once per group of phases and one GEMM
yields every phase of the group, so the sum over taps happens inside BLAS.
Per spatial axis, phases either share patches (kernel zero-padded to a
common tap grid) or get their own.  Patches come from a zero-padded copy of
the input whose flattened planes turn every tap shift into one contiguous
slice; the GEMM then also computes junk columns at row ends, never read.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deconv_cli.arrays.engine.axis import Axis, Group
from deconv_cli.arrays.engine.buffers import Arena, Array, assign_all, blockwise
from deconv_cli.arrays.engine.costs import NS_FLAT, flop_ns, strided_ns

# Per-sample GEMMs thinner than this many columns, or smaller than this many
# multiply-adds, run far below BLAS peak; the batch then joins the columns.
MIN_GEMM_COLUMNS = 256
MIN_GEMM_MACS = 1 << 21


@dataclass(frozen=True)
class Plan:
    """One combination of per-axis groups: a single im2col + GEMM."""

    groups: tuple[Group, ...]
    identity: bool  # one shift reading exactly x: x itself is the patch
    columns: int  # GEMM columns per sample, junk row ends included
    rows: int  # phases x C_out, over all conv groups
    shifts: int
    merged: bool  # batch folded into the GEMM columns
    tail: int  # the largest shift reads this far past the padded planes
    # every weight it multiplies by is a kernel tap: no zero tap fills a shared grid, where
    # 0 x inf would spread a NaN to outputs the infinite input does not feed
    exact: bool

    @staticmethod
    def of(axes: Sequence[Axis], groups: Sequence[Group], cig: int, cog: int, n_groups: int) -> Plan:
        padded = [g.padded for g in groups]
        columns = groups[0].width * math.prod(padded[1:])
        shifts = math.prod(g.shifts for g in groups)
        # Every conv group's GEMM of a sample counts: however small each
        # is, the batched matmul runs them back to back on cached patches.
        rows = cog * math.prod(len(g.phases) for g in groups) * n_groups
        merged = columns < MIN_GEMM_COLUMNS or rows * cig * shifts * columns < MIN_GEMM_MACS
        return Plan(
            groups=tuple(groups),
            identity=not merged
            and all(
                g.shifts == 1 and g.u_lo == 0 and g.width == ax.n for ax, g in zip(axes, groups, strict=True)
            ),
            columns=columns,
            rows=rows,
            shifts=shifts,
            merged=merged,
            tail=sum((g.shifts - 1) * math.prod(padded[a + 1 :]) for a, g in enumerate(groups)),
            exact=all(j < ax.k for ax, g in zip(axes, groups, strict=True) for taps in g.taps for j in taps),
        )

    def padded_size(self, c_in: int) -> int:
        """Elements per sample of the zero-padded input copy (0 if unused)."""
        return 0 if self.identity else c_in * math.prod(g.padded for g in self.groups)

    def patch_size(self, c_in: int) -> int:
        """Elements per sample of the im2col matrix (0 if the copy serves)."""
        return 0 if self.shifts == 1 else c_in * self.shifts * self.columns

    def cost(self, cig: int, c_in: int) -> float:
        """Modelled ns per sample: padded copy, patch slices, GEMM."""
        run = self.groups[-1].width
        flops = 2 * cig * self.rows * self.shifts * self.columns
        gemm = flop_ns(cig * self.shifts, self.rows * cig // c_in) * flops
        return strided_ns(run) * self.padded_size(c_in) + NS_FLAT * self.patch_size(c_in) + gemm

    def im2col(self, c_in: int) -> int:
        """Elements per sample of the padded copy plus patches."""
        return self.padded_size(c_in) + self.patch_size(c_in)


def tap_blocks(w: Array, n_groups: int) -> Array:
    """Kernel as (G, k..., cig, cog): one contiguous (cig, cog) block per tap.

    Cheap to produce because cog stays innermost.
    """
    c_in, cog = w.shape[:2]
    dims = w.ndim - 2
    w4 = w.reshape(n_groups, c_in // n_groups, cog, *w.shape[2:])
    return np.ascontiguousarray(np.moveaxis(w4, (1, 2), (1 + dims, 2 + dims)))


def weights(per_tap: Array, groups: Sequence[Group]) -> Array:
    """Weights as (G, shifts x cig, phases x cog), zero for padded taps.

    The GEMM reads this transposed, which BLAS does without a copy.
    """
    n_groups, cig, cog = per_tap.shape[0], per_tap.shape[-2], per_tap.shape[-1]
    ks = per_tap.shape[1:-2]
    shifts = [g.shifts for g in groups]
    nph = [len(g.phases) for g in groups]
    wk = np.zeros((n_groups, *shifts, cig, *nph, cog), dtype=per_tap.dtype)
    for ps in itertools.product(*(range(p) for p in nph)):
        for ms in itertools.product(*(range(t) for t in shifts)):
            js = tuple(g.taps[p][m] for g, p, m in zip(groups, ps, ms, strict=True))
            if all(j < k for j, k in zip(js, ks, strict=True)):
                dst: tuple[Any, ...] = (slice(None), *ms, slice(None), *ps)
                src: tuple[Any, ...] = (slice(None), *js)
                wk[dst] = per_tap[src]
    return wk.reshape(n_groups, math.prod(shifts) * cig, math.prod(nph) * cog)


def run(
    x: Array,
    out: Array,
    axes: Sequence[Axis],
    plans: Sequence[tuple[Plan, Array]],
    n_groups: int,
    bias: Array | None,
    arena: Arena,
) -> None:
    """Phase-GEMM strategy for one batch chunk; writes every covered output."""
    nb, c_in = x.shape[:2]
    cig = c_in // n_groups
    cog = out.shape[1] // n_groups
    dims = len(axes)
    xg = x.reshape(nb, n_groups, cig, *x.shape[2:])
    outg = out.reshape(nb, n_groups, cog, *out.shape[2:])
    bias_g = None if bias is None else bias.reshape(1, n_groups, cog, *[1] * dims)
    # Every plan's result stays until one blocked pass scatters them all.
    arena.used = 0
    ys = [
        arena.take(n_groups, plan.rows // n_groups, nb * plan.columns)
        if plan.merged
        else arena.take(nb, n_groups, plan.rows // n_groups, plan.columns)
        for plan, _ in plans
    ]
    keep = arena.used
    pairs = []
    for (plan, wk), y in zip(plans, ys, strict=True):
        arena.used = keep
        wmat = wk.transpose(0, 2, 1)
        if plan.identity:
            np.matmul(wmat, xg.reshape(nb, n_groups, cig, -1), out=y)
        else:
            np.matmul(wmat, _patches(xg, axes, plan, arena), out=y)
        # A sample's GEMM columns: patch rows by padded extents of the rest.
        grid = (plan.groups[0].width, *(g.padded for g in plan.groups[1:]))
        nph = [len(g.phases) for g in plan.groups]
        if plan.merged:
            yv = np.moveaxis(y.reshape(n_groups, *nph, cog, nb, *grid), 2 + dims, 0)
        else:
            yv = y.reshape(nb, n_groups, *nph, cog, *grid)
        for ps in itertools.product(*(range(p) for p in nph)):
            windows = (
                slice(g.starts[p], g.starts[p] + g.counts[p]) for g, p in zip(plan.groups, ps, strict=True)
            )
            index: tuple[Any, ...] = (slice(None), slice(None), *ps, slice(None), *windows)
            src = yv[index]
            dst = outg[
                (slice(None),) * 3
                + tuple(
                    slice(g.phases[p], None, ax.s) for ax, g, p in zip(axes, plan.groups, ps, strict=True)
                )
            ]
            pairs.append((dst, src))
    blockwise(assign_all, pairs, outg.shape, bias_g)


def _patches(xg: Array, axes: Sequence[Axis], plan: Plan, arena: Arena) -> Array:
    """im2col matrix: (n, G, shifts x cig, columns), or (G, ., n x columns) merged.

    Axis by axis, shift m reads x[u - m] for u in [u_lo, u_lo + width), zero
    outside x.  The input is first copied into zero-padded planes of extent
    ``padded``; flattened, every shift is then one contiguous slice.
    """
    nb, n_groups, cig = xg.shape[:3]
    dims = len(axes)
    padded = [g.padded for g in plan.groups]
    plane = math.prod(padded)
    strides = [math.prod(padded[a + 1 :]) for a in range(dims)]
    lead = (n_groups, cig, nb) if plan.merged else (nb, n_groups, cig)
    size = math.prod(lead) * plane
    flat = arena.take(size + plan.tail)
    flat.fill(0)
    body = flat[:size].reshape(*lead, *padded)
    dst_idx, src_idx = [], []
    for ax, g in zip(axes, plan.groups, strict=True):
        # padded[e] holds x[e + u_lo - (shifts - 1)]
        first = g.u_lo - (g.shifts - 1)
        lo, hi = max(first, 0), min(first + g.padded, ax.n)
        dst_idx.append(slice(lo - first, max(hi, lo) - first))
        src_idx.append(slice(lo, max(hi, lo)))
    src = xg[(slice(None),) * 3 + tuple(src_idx)]
    if plan.merged:
        src = src.transpose(1, 2, 0, *range(3, 3 + dims))
    np.copyto(body[(slice(None),) * 3 + tuple(dst_idx)], src)
    if plan.shifts == 1:
        cols = body.reshape(*lead, plane)
    else:
        shape = (n_groups, plan.shifts, cig, nb) if plan.merged else (nb, n_groups, plan.shifts, cig)
        cols = arena.take(*shape, plan.columns)
        for i, ms in enumerate(itertools.product(*(range(g.shifts) for g in plan.groups))):
            off = sum((g.shifts - 1 - m) * st for g, m, st in zip(plan.groups, ms, strides, strict=True))
            shifted = flat[off : off + size].reshape(*lead, plane)[..., : plan.columns]
            np.copyto(cols[:, i] if plan.merged else cols[:, :, i], shifted)
    if plan.merged:
        return cols.reshape(n_groups, -1, nb * plan.columns)
    return cols.reshape(nb, n_groups, -1, plan.columns)
