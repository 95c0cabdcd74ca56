"""NumPy execution engine for transposed convolution.

Semantics: ``full[i*s + j*d] += x[i] * w[j]`` (the gradient of
cross-correlation, no kernel flip), then ``out[t] = full_ext[t + L]`` where
``full_ext`` is ``full`` zero-extended on both sides, so negative crops add
zeros.

Every strategy is one or a few matmuls; a small cost model picks per call:

* phase GEMM: the output splits by ``t mod s`` into stride phases, each a
  plain correlation with the taps that land on it.  Input patches (im2col)
  are gathered once per group of phases and one GEMM yields every phase of
  the group, so the sum over taps happens inside BLAS.  Per spatial axis,
  phases either share patches (kernel zero-padded to a common tap grid) or
  get their own.  Patches come from a zero-padded copy of the input whose
  flattened planes turn every tap shift into one contiguous slice; the GEMM
  then also computes junk columns at row ends, which are never read.
* columns (col2im): one GEMM gives every tap's contribution, then one strided
  add per tap scatters them.  Traffic scales with C_out rather than C_in, so
  it wins when a layer shrinks the channel count.
* channels-last columns: the same with pixels as GEMM rows, so each overlap
  add moves whole (phase, channel) rows; for small images with many channels.
* pointwise: every input spatial size is 1 (a latent vector), taps never
  overlap and one GEMM writes the output.
* Karatsuba: when every kernel footprint spans at most two stride blocks
  (k4 s2, k16 s8, ...), pairs of inputs multiply like two-term polynomials
  with three products instead of four per axis: 9 GEMMs instead of 16 in
  2-D.  Channels last for small images (the products combine over whole
  rows of channels); channels first for large ones (the last combining step
  writes the stride phases in place).

Copies and adds run on the calling thread: a pool of copy threads measured
no faster end to end on 2 cores, as OpenBLAS keeps its threads spinning for
a while after each GEMM and they compete for the cores.  The final scatter
into the interleaved output is done block by block so each output block is
written by all phases while it is in cache.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_MAX_MEMORY", "conv_transpose"]

DEFAULT_MAX_MEMORY = 1 << 30

Array = npt.NDArray[np.floating[Any]]
Progress = Callable[[int, int], None]

# Cost model, in ns per element or per flop, measured with numpy 2.4 and
# OpenBLAS on a 2-core AVX-512 machine; only the ratios matter.
_NS_FLAT = 0.15  # contiguous slice copy
_NS_CONTIG_ADD = 0.3  # in-place add over long contiguous rows
_NS_TRANSPOSE = 1.0  # copy that moves the channel axis across the pixels
_NS_FLOP = 1.0 / 220.0  # BLAS sgemm, both cores
_NS_PLAN = 50_000.0  # fixed cost of one more im2col + GEMM pass per batch


def _strided_ns(run: int) -> float:
    """Strided copy with contiguous inner runs of ``run`` elements: numpy
    pays a fixed overhead per inner loop on top of the per-element cost."""
    return 0.3 + 8.0 / run


def _add_ns(run: int) -> float:
    """Strided in-place add with inner runs of ``run`` elements."""
    return 0.75 + 10.0 / run


# Intermediates beyond this fall out of the last-level cache and slow every
# copy, so the batch is split below it even when max_memory allows more.
_CACHE_CHUNK_BYTES = 16 << 20
# GEMMs that run sample by sample lose nothing to small chunks, which keep
# their results in cache until the scatter reads them, so those plans split
# finer (GEMMs over a whole chunk get thinner instead).
_SAMPLE_CHUNK_BYTES = 4 << 20
# Per-sample GEMMs thinner than this many columns, or smaller than this many
# multiply-adds, run far below BLAS peak; the batch then joins the columns.
_MIN_GEMM_COLUMNS = 256
_MIN_GEMM_MACS = 1 << 21
# Output elements per block of the final scatter (about half an L2 cache).
_BLOCK_ELEMENTS = 1 << 17


@dataclass(frozen=True)
class _Axis:
    n: int  # input length
    k: int
    s: int
    d: int
    lo: int  # left crop (negative: zeros prepended)
    o: int  # output length

    @property
    def footprint(self) -> int:
        """Outputs one input reaches: the dilated kernel's span."""
        return self.d * (self.k - 1) + 1


@dataclass(frozen=True)
class _Group:
    """Phases of one axis that share one set of input patches."""

    phases: tuple[int, ...]  # residues t mod s
    counts: tuple[int, ...]  # outputs per phase
    starts: tuple[int, ...]  # each phase's window start inside the patch
    taps: tuple[tuple[int, ...], ...]  # kernel index per shift; k = zero tap
    shifts: int  # T: patch row m holds x[u - m]
    u_lo: int  # patch column 0 is position u = u_lo
    width: int  # U

    @property
    def padded(self) -> int:
        """Length of the zero-padded input copy that every shift reads."""
        return self.width + self.shifts - 1


_PhaseTaps = tuple[int, int, dict[int, int]]


def _phase_taps(ax: _Axis) -> list[_PhaseTaps]:
    """(residue, output count, {offset: tap}) for every phase that has work.

    Output ``t = q*s + rho`` receives ``x[q - off] * w[j]`` from each tap ``j``
    of its phase, where ``off = (j*d - lo - rho) / s``.
    """
    result = []
    for rho in range(ax.s):
        count = len(range(rho, ax.o, ax.s))
        offs = {
            (j * ax.d - ax.lo - rho) // ax.s: j for j in range(ax.k) if (j * ax.d - ax.lo - rho) % ax.s == 0
        }
        if count and offs:
            result.append((rho, count, offs))
    return result


def _make_group(k: int, phases: Sequence[_PhaseTaps]) -> _Group:
    # Shift m = off + e with e = -min(off) keeps shifts >= 0; the phase then
    # reads patch positions u = q + e.
    es = [-min(offs) for _, _, offs in phases]
    shifts = max(max(offs) + e + 1 for e, (_, _, offs) in zip(es, phases, strict=True))
    u_lo = min(es)
    u_hi = max(e + count for e, (_, count, _) in zip(es, phases, strict=True))
    return _Group(
        phases=tuple(rho for rho, _, _ in phases),
        counts=tuple(count for _, count, _ in phases),
        starts=tuple(e - u_lo for e in es),
        taps=tuple(
            tuple(offs.get(m - e, k) for m in range(shifts))
            for e, (_, _, offs) in zip(es, phases, strict=True)
        ),
        shifts=shifts,
        u_lo=u_lo,
        width=u_hi - u_lo,
    )


def _axis_options(ax: _Axis) -> list[list[_Group]]:
    """Candidate groupings of one axis: all phases shared, or one per phase."""
    phases = _phase_taps(ax)
    shared = [_make_group(ax.k, phases)]
    if len(phases) == 1:
        return [shared]
    return [shared, [_make_group(ax.k, [p]) for p in phases]]


@dataclass(frozen=True)
class _Plan:
    """One combination of per-axis groups: a single im2col + GEMM."""

    groups: tuple[_Group, ...]
    identity: bool  # one shift reading exactly x: x itself is the patch
    columns: int  # GEMM columns per sample, junk row ends included
    rows: int  # phases x C_out, over all conv groups
    shifts: int
    merged: bool  # batch folded into the GEMM columns
    tail: int  # the largest shift reads this far past the padded planes

    @staticmethod
    def of(axes: Sequence[_Axis], groups: Sequence[_Group], cig: int, cog: int, n_groups: int) -> _Plan:
        padded = [g.padded for g in groups]
        columns = groups[0].width * math.prod(padded[1:])
        shifts = math.prod(g.shifts for g in groups)
        # Every conv group's GEMM of a sample counts: however small each
        # is, the batched matmul runs them back to back on cached patches.
        rows = cog * math.prod(len(g.phases) for g in groups) * n_groups
        merged = columns < _MIN_GEMM_COLUMNS or rows * cig * shifts * columns < _MIN_GEMM_MACS
        return _Plan(
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
        return _strided_ns(run) * self.padded_size(c_in) + _NS_FLAT * self.patch_size(c_in) + _NS_FLOP * flops

    def im2col(self, c_in: int) -> int:
        """Elements per sample of the padded copy plus patches."""
        return self.padded_size(c_in) + self.patch_size(c_in)


class _Arena:
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


def _assign_all(pairs: Pairs, bias: Array | None, index: tuple[slice, ...]) -> None:
    """dst = src (+ bias of shape (1, G, cog, 1...)) within one block."""
    for dst, src in pairs:
        if bias is None:
            np.copyto(dst[index], src[index])
        else:
            np.add(src[index], bias[(slice(None), *index[1:])], out=dst[index])


def _add_all(pairs: Pairs, _bias: Array | None, index: tuple[slice, ...]) -> None:
    """dst += src within one block (the bias, if any, is already in dst)."""
    for dst, src in pairs:
        dst[index] += src[index]


def _blockwise(fn: BlockFn, pairs: Pairs, shape: Sequence[int], bias: Array | None) -> None:
    """Apply fn to every pair, block by block of (sample, channels).

    The pairs interleave into the same output (stride phases, or taps), so
    doing all of them per block while it sits in cache saves one trip to
    memory per pair.
    """
    nb, n_groups, cog = shape[:3]
    per_channel = max(1, math.prod(shape[3:]))
    channels = max(1, _BLOCK_ELEMENTS // per_channel)
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


def _per_tap(w: Array, n_groups: int) -> Array:
    """Kernel as (G, k..., cig, cog): one contiguous (cig, cog) block per tap.

    Cheap to produce because cog stays innermost.
    """
    c_in, cog = w.shape[:2]
    dims = w.ndim - 2
    w4 = w.reshape(n_groups, c_in // n_groups, cog, *w.shape[2:])
    return np.ascontiguousarray(np.moveaxis(w4, (1, 2), (1 + dims, 2 + dims)))


def _phase_weights(per_tap: Array, groups: Sequence[_Group]) -> Array:
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


def _phase_gemm(
    x: Array,
    out: Array,
    axes: Sequence[_Axis],
    plans: Sequence[tuple[_Plan, Array]],
    n_groups: int,
    bias: Array | None,
    arena: _Arena,
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
    _blockwise(_assign_all, pairs, outg.shape, bias_g)


def _patches(xg: Array, axes: Sequence[_Axis], plan: _Plan, arena: _Arena) -> Array:
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


def _tap_range(ax: _Axis, j: int) -> tuple[int, int, int]:
    """Inputs [i0, i1) that tap j sends inside the output, and the first t."""
    shift = j * ax.d - ax.lo
    i0 = max(0, -(shift // ax.s))
    i1 = min(ax.n, (ax.o - 1 - shift) // ax.s + 1)
    return i0, max(i0, i1), i0 * ax.s + shift


def _columns(x: Array, w: Array, out: Array, axes: Sequence[_Axis], n_groups: int, arena: _Arena) -> None:
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
    _blockwise(_add_all, pairs, outg.shape, None)


def _pointwise(
    x: Array, w: Array, out: Array, axes: Sequence[_Axis], n_groups: int, direct: bool, arena: _Arena
) -> None:
    """All input spatial sizes are 1: out[t = j*d - lo] = x . w[j], one GEMM.

    With ``direct`` the output is exactly the full kernel footprint and, for
    one group, the GEMM writes it in place; otherwise in-range taps are copied.
    """
    nb, c_in = x.shape[:2]
    cig = c_in // n_groups
    cog = out.shape[1] // n_groups
    w3 = w.reshape(n_groups, cig, -1)
    if n_groups == 1 and direct:
        np.matmul(x.reshape(nb, c_in), w3[0], out=out.reshape(nb, -1))
        return
    arena.used = 0
    full = arena.take(n_groups, nb, w3.shape[2])
    np.matmul(x.reshape(nb, n_groups, cig).transpose(1, 0, 2), w3, out=full)
    fullg = np.moveaxis(full.reshape(n_groups, nb, cog, *(ax.k for ax in axes)), 0, 1)
    src_idx, dst_idx = [], []
    for ax in axes:
        valid = [j for j in range(ax.k) if 0 <= j * ax.d - ax.lo < ax.o]
        if not valid:
            return
        t0 = valid[0] * ax.d - ax.lo
        src_idx.append(slice(valid[0], valid[-1] + 1))
        dst_idx.append(slice(t0, t0 + (len(valid) - 1) * ax.d + 1, ax.d))
    outg = out.reshape(nb, n_groups, cog, *out.shape[2:])
    dst = outg[(slice(None),) * 3 + tuple(dst_idx)]
    src = fullg[(slice(None),) * 3 + tuple(src_idx)]
    if direct:
        np.copyto(dst, src)
    else:
        dst += src


def _channels_last_weights(w: Array, groups: Sequence[_Group]) -> Array:
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


def _channels_last(
    x: Array,
    out: Array,
    axes: Sequence[_Axis],
    groups: Sequence[_Group],
    wc: Array,
    bias: Array | None,
    arena: _Arena,
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
    _add_all(adds, None, ())
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
    _blockwise(_assign_all, pairs, outg.shape, None if bias is None else bias[None, None])


@dataclass(frozen=True)
class _Blocks:
    """One axis in the Karatsuba strategy's block form.

    The full output splits into blocks of ``s`` outputs.  When the kernel
    footprint spans two blocks (``pair``), input ``i`` feeds blocks ``i`` and
    ``i + 1`` through block-taps ``w0`` and ``w1``; a tile of two inputs then
    multiplies like two-term polynomials, ``(x0 + x1 z)(w0 + w1 z)``, which
    Karatsuba does with 3 products instead of 4: ``x0 w0``, ``x1 w1`` and
    ``(x0 + x1)(w0 + w1)``, whose difference from the other two is the middle
    term.  Otherwise each input feeds one block.
    """

    pair: bool
    tiles: int  # input tiles: pairs of inputs, or single inputs
    blocks: int  # output blocks covered

    @staticmethod
    def of(ax: _Axis) -> _Blocks:
        if ax.footprint > ax.s:
            tiles = -(-ax.n // 2)
            return _Blocks(True, tiles, 2 * tiles + 1)
        return _Blocks(False, ax.n, ax.n)

    @property
    def step(self) -> int:
        return 2 if self.pair else 1

    @property
    def products(self) -> int:
        return 3 if self.pair else 1


def _karatsuba_fits(axes: Sequence[_Axis], n_groups: int) -> bool:
    """Every kernel footprint within two blocks, and at least one pair."""
    return n_groups == 1 and max(-(-ax.footprint // ax.s) for ax in axes) == 2


def _karatsuba_weights(w: Array, axes: Sequence[_Axis], blocks: Sequence[_Blocks]) -> Array:
    """Kernels as (products..., C_in, s... x C_out)."""
    c_in, c_out = w.shape[:2]
    dims = len(axes)
    spans = tuple(b.step * ax.s for ax, b in zip(axes, blocks, strict=True))
    # (C_in, footprint..., C_out), zero where no tap lands
    taps = np.moveaxis(w, 1, -1)
    if taps.shape[1:-1] == spans:
        full = np.ascontiguousarray(taps)
    else:
        full = np.zeros((c_in, *spans, c_out), dtype=w.dtype)
        full[(slice(None), *(slice(0, ax.footprint, ax.d) for ax in axes))] = taps
    split = full.reshape(c_in, *_interleave([b.step for b in blocks], [ax.s for ax in axes]), c_out)
    # (block-tap u..., C_in, offset r inside the block..., C_out)
    src = split.transpose(*range(1, 2 * dims, 2), 0, *range(2, 2 * dims + 1, 2), 2 * dims + 1)
    v = np.empty((*(b.products for b in blocks), *src.shape[dims:]), dtype=w.dtype)
    _expand_pairs(src, v, blocks, lambda shape: np.empty(shape, dtype=w.dtype))
    return v.reshape(*(b.products for b in blocks), c_in, -1)


def _interleave(first: Sequence[int], second: Sequence[int]) -> list[int]:
    return [n for pair in zip(first, second, strict=True) for n in pair]


def _expand_pairs(
    src: Array, dst: Array, blocks: Sequence[_Blocks], temp: Callable[[tuple[int, ...]], Array]
) -> None:
    """Karatsuba's operands: along each pair axis (a leading axis of
    ``src``, of length 2) ``(a0, a1)`` becomes ``dst``'s ``(a0, a0 + a1, a1)``;
    single axes (length 1) pass through.  Only sums are computed before
    the last axis, the rest are views."""
    parts: list[tuple[tuple[int, ...], Array]] = [((), src)]
    for a, b in enumerate(blocks):
        grown = []
        for idx, part in parts:
            if not b.pair:
                grown.append(((*idx, 0), part[0]))
                continue
            total = dst[(*idx, 1)] if a == len(blocks) - 1 else temp(part[0].shape)
            np.add(part[0], part[1], out=total)
            grown += [((*idx, 0), part[0]), ((*idx, 1), total), ((*idx, 2), part[1])]
        parts = grown
    for idx, part in parts:
        if not (blocks[-1].pair and idx[-1] == 1):
            np.copyto(dst[idx], part)


def _at(a: Array, axis: int, index: int | slice) -> Array:
    """View of ``a`` indexed along one axis."""
    return a[(slice(None),) * axis + (index,)]


def _karatsuba(
    x: Array,
    out: Array,
    axes: Sequence[_Axis],
    blocks: Sequence[_Blocks],
    v: Array,
    bias: Array | None,
    arena: _Arena,
) -> None:
    """Karatsuba strategy for one chunk, channels last: one GEMM per
    product over (sample, tile) rows, then the products are combined into
    blocks and the blocks moved to the channels-first output."""
    nb, c_in = x.shape[:2]
    dims = len(axes)
    prods = tuple(b.products for b in blocks)
    tiles = tuple(b.tiles for b in blocks)
    arena.used = 0
    # Channels-last copy, zero-padded to whole tiles.
    xcl = arena.take(nb, *(b.tiles * b.step for b in blocks), c_in)
    for a, ax in enumerate(axes):
        _at(xcl, 1 + a, slice(ax.n, None)).fill(0)
    np.copyto(xcl[(slice(None), *(slice(0, ax.n) for ax in axes))], np.moveaxis(x, 1, -1))
    # (step..., n, tiles..., C_in)
    split = xcl.reshape(nb, *_interleave(tiles, [b.step for b in blocks]), c_in)
    src = split.transpose(*range(2, 2 * dims + 1, 2), 0, *range(1, 2 * dims, 2), 2 * dims + 1)
    t = arena.take(*prods, nb, *tiles, c_in)
    _expand_pairs(src, t, blocks, lambda shape: arena.take(*shape))
    rows = nb * math.prod(tiles)
    p = arena.take(*prods, rows, v.shape[-1])
    for idx in itertools.product(*(range(n) for n in prods)):
        np.matmul(t[idx].reshape(rows, c_in), v[idx], out=p[idx])
    # Combine in sub-chunks of samples whose blocks stay in cache.
    pv = p.reshape(*prods, nb, *tiles, -1)
    per_sample = math.prod(b.blocks * ax.s for ax, b in zip(axes, blocks, strict=True)) * out.shape[1]
    sub = max(1, min(nb, _BLOCK_ELEMENTS // per_sample))
    keep = arena.used
    for n0 in range(0, nb, sub):
        arena.used = keep
        _combine(_at(pv, dims, slice(n0, n0 + sub)), out[n0 : n0 + sub], axes, blocks, bias, arena)


def _combine(
    p: Array, out: Array, axes: Sequence[_Axis], blocks: Sequence[_Blocks], bias: Array | None, arena: _Arena
) -> None:
    """Products (products..., n, tiles..., s... x C_out) to the cropped,
    channels-first output, through the full output in channels-last order."""
    dims = len(axes)
    nb, c_out = out.shape[:2]
    strides = [ax.s for ax in axes]
    # The full output as (n, Q1, s1, Q2, s2, ..., C_out), and viewed with
    # the blocks first, as the products come.
    y = arena.take(nb, *_interleave([b.blocks for b in blocks], strides), c_out)
    yv = y.transpose(0, *range(1, 2 * dims, 2), *range(2, 2 * dims + 1, 2), 2 * dims + 1)
    cur = _combine_axes(p.reshape(*p.shape[: 1 + 2 * dims], *strides, c_out), blocks, 1, arena)
    if blocks[0].pair:
        _pair_blocks([cur[e] for e in range(3)], yv, 1, 0)
    else:
        np.copyto(yv, cur[0])
    full = y.reshape(nb, *(b.blocks * ax.s for ax, b in zip(axes, blocks, strict=True)), c_out)
    src_idx, dst_idx = [], []
    for ax, b in zip(axes, blocks, strict=True):
        t0, t1 = _written(ax, b)
        src_idx.append(slice(t0 + ax.lo, t1 + ax.lo))
        dst_idx.append(slice(t0, t1))
    src = np.moveaxis(full[(slice(None), *src_idx)], -1, 1)
    dst = out[(slice(None), slice(None), *dst_idx)]
    if bias is None:
        np.copyto(dst, src)
    else:
        np.add(src, bias, out=dst)


def _combine_axes(cur: Array, blocks: Sequence[_Blocks], lead: int, arena: _Arena) -> Array:
    """Combine the products of every axis but the first into full blocks,
    from the last axis down.  ``cur`` is (products..., ``lead`` axes,
    tiles...); the result keeps axis 0's products and tiles."""
    for a in reversed(range(1, len(blocks))):
        pos = a + lead + a  # axis a in cur[..., e]: after the products left, the lead and axes < a
        if blocks[a].pair:
            c0 = _at(cur, a, 0)
            dst = arena.take(*c0.shape[:pos], blocks[a].blocks, *c0.shape[pos + 1 :])
            _pair_blocks([_at(cur, a, e) for e in range(3)], dst, pos, 0)
            cur = dst
        else:
            cur = _at(cur, a, 0)
    return cur


def _written(ax: _Axis, b: _Blocks) -> tuple[int, int]:
    """Outputs [t0, t1) inside the blocks; the rest are zeros a crop adds."""
    t0 = max(0, -ax.lo)
    return t0, max(t0, min(ax.o, b.blocks * ax.s - ax.lo))


def _pair_blocks(products: Sequence[Array], dst: Array, pos: int, q0: int) -> None:
    """Blocks ``q0, q0 + 1, ...`` (axis ``pos`` of ``dst``) from the three
    products of a pair axis's tiles: block ``2i`` gets ``x0 w0`` of tile
    ``i`` and ``x1 w1`` of tile ``i - 1``, block ``2i + 1`` the middle term
    ``(x0 + x1)(w0 + w1) - x0 w0 - x1 w1``."""
    c0, c1, c2 = products
    tiles = c0.shape[pos]
    q1 = q0 + dst.shape[pos]

    def tile(c: Array, i0: int, i1: int) -> Array:
        return _at(c, pos, slice(i0, i1 + 1))

    def block(q: int, count: int) -> Array:
        return _at(dst, pos, slice(q - q0, q - q0 + 2 * count - 1, 2))

    # Even blocks 2i, i in [i0, i1]: tile 0 and tile ``tiles`` have one term.
    i0, i1 = -(-q0 // 2), (q1 - 1) // 2
    if i0 == 0 and i1 >= 0:
        np.copyto(block(0, 1), tile(c0, 0, 0))
        i0 = 1
    if i1 == tiles:
        np.copyto(block(2 * tiles, 1), tile(c2, tiles - 1, tiles - 1))
        i1 -= 1
    if i1 >= i0:
        np.add(tile(c0, i0, i1), tile(c2, i0 - 1, i1 - 1), out=block(2 * i0, i1 - i0 + 1))
    # Odd blocks 2i + 1
    i0, i1 = q0 // 2, min((q1 - 2) // 2, tiles - 1)
    if i1 >= i0:
        odd = block(2 * i0 + 1, i1 - i0 + 1)
        np.subtract(tile(c1, i0, i1), tile(c0, i0, i1), out=odd)
        odd -= tile(c2, i0, i1)


def _karatsuba_first(
    x: Array,
    out: Array,
    axes: Sequence[_Axis],
    blocks: Sequence[_Blocks],
    v: Array,
    bias: Array | None,
    arena: _Arena,
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
        _at(xp, 2 + a, slice(ax.n, None)).fill(0)
    np.copyto(xp[(slice(None), slice(None), *(slice(0, ax.n) for ax in axes))], x.swapaxes(0, 1))
    split = xp.reshape(c_in, nb, *_interleave(tiles, [b.step for b in blocks]))
    src = split.transpose(*range(3, 2 * dims + 2, 2), 0, 1, *range(2, 2 * dims + 1, 2))
    t = arena.take(*prods, c_in, nb, *tiles)
    _expand_pairs(src, t, blocks, lambda shape: arena.take(*shape))
    columns = nb * math.prod(tiles)
    p = arena.take(*prods, v.shape[-1], columns)
    for idx in itertools.product(*(range(n) for n in prods)):
        np.matmul(v[idx].T, t[idx].reshape(c_in, columns), out=p[idx])
    # (product of axis 0, s..., C_out, n, tiles of axis 0, blocks...)
    cur = _combine_axes(p.reshape(*prods, *strides, c_out, nb, *tiles), blocks, dims + 2, arena)
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
            _pair_blocks([src[e] for e in range(3)], dst, 2, ranges[0][0])
        else:
            np.copyto(dst, _at(src[0], 2, slice(ranges[0][0], ranges[0][1])))
    if bias is not None:
        box = out[
            (slice(None), slice(None), *(slice(*_written(ax, b)) for ax, b in zip(axes, blocks, strict=True)))
        ]
        box += bias


def _phase_blocks(ax: _Axis, b: _Blocks, r: int) -> tuple[int, int, int]:
    """Blocks [q0, q1) whose offset r lands inside the output, and the first output."""
    q0 = max(0, -((r - ax.lo) // ax.s))
    q1 = min(b.blocks, (ax.o - 1 + ax.lo - r) // ax.s + 1)
    return q0, q1, q0 * ax.s + r - ax.lo


def conv_transpose(
    x: Array,
    w: Array,
    *,
    stride: Sequence[int],
    dilation: Sequence[int],
    crop: Sequence[tuple[int, int]],
    groups: int = 1,
    bias: Array | None = None,
    max_memory: int | None = None,
    progress: Progress | None = None,
) -> Array:
    """Transposed convolution of ``x`` (N, C_in, *spatial) with ``w``
    (C_in, C_out // groups, *k) in PyTorch's layout; 1 to 3 spatial axes.

    Per axis, ``stride``, ``dilation`` and ``crop`` = (L, R) give an output
    of length (n - 1)*s + d*(k - 1) + 1 - L - R; negative crops add zeros.
    Arguments are assumed valid.  Computes in and returns ``x.dtype``; ``w``
    and ``bias`` (C_out,) are cast to it.

    ``max_memory`` (bytes, default 1 GiB) bounds the intermediates by
    splitting the batch; one sample always runs, even over budget.  Not
    counted: x, the output and kernel-sized rearrangements of w.
    ``progress(done, total)`` is called from this thread with the number of
    samples done after each chunk.
    """
    dtype = x.dtype
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=dtype)
    batch, c_in = x.shape[:2]
    c_out = w.shape[1] * groups
    axes = _axes(x.shape[2:], w.shape[2:], stride, dilation, crop)
    dims = len(axes)
    out_shape = (batch, c_out, *(ax.o for ax in axes))
    bias_b = None if bias is None else np.asarray(bias, dtype=dtype).reshape(c_out, *[1] * dims)
    budget = DEFAULT_MAX_MEMORY if max_memory is None else max_memory

    kind, scratch, covered, plans, shared = _strategy(axes, batch, c_in, c_out, groups)
    # Outputs the strategy never writes must hold zero (or the bias) first.
    if covered:
        out = np.empty(out_shape, dtype=dtype)
    else:
        out = np.zeros(out_shape, dtype=dtype)
        if bias_b is not None:
            out += bias_b
    per_sample = kind == "phase" and not any(plan.merged for plan in plans)
    cache = _SAMPLE_CHUNK_BYTES if per_sample else _CACHE_CHUNK_BYTES
    if scratch == 0:
        chunk = max(1, batch)
    else:
        chunk = max(1, min(batch, min(budget, cache) // (scratch * dtype.itemsize)))
    arena = _Arena(chunk * scratch + max((p.tail for p in plans), default=0), dtype)
    if kind == "phase":
        per_tap = _per_tap(w, groups)
        weighted = [(plan, _phase_weights(per_tap, plan.groups)) for plan in plans]
    elif kind == "channels_last":
        wc = _channels_last_weights(w, shared)
    elif kind.startswith("karatsuba"):
        blocks = [_Blocks.of(ax) for ax in axes]
        v = _karatsuba_weights(w, axes, blocks)
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        xs, outs = x[start:stop], out[start:stop]
        if kind == "pointwise":
            _pointwise(xs, w, outs, axes, groups, covered, arena)
        elif kind == "columns":
            _columns(xs, w, outs, axes, groups, arena)
        elif kind == "phase":
            _phase_gemm(xs, outs, axes, weighted, groups, bias_b, arena)
        elif kind == "channels_last":
            _channels_last(xs, outs, axes, shared, wc, bias_b, arena)
        elif kind == "karatsuba":
            _karatsuba(xs, outs, axes, blocks, v, bias_b, arena)
        elif kind == "karatsuba_first":
            _karatsuba_first(xs, outs, axes, blocks, v, bias_b, arena)
        if progress is not None:
            progress(stop, batch)
    if kind == "pointwise" and covered and bias_b is not None:
        out += bias_b
    return out


def _axes(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    crop: Sequence[tuple[int, int]],
) -> tuple[_Axis, ...]:
    axes = []
    for n, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, crop, strict=True):
        span = d * (k - 1) + 1
        # A length-1 input never overlaps itself, so any stride beyond the
        # kernel span is equivalent and gives every tap its own phase.
        axes.append(_Axis(n, k, max(s, span) if n == 1 else s, d, lo, (n - 1) * s + span - lo - hi))
    return tuple(axes)


@functools.lru_cache(maxsize=64)
def _strategy(
    axes: tuple[_Axis, ...], batch: int, c_in: int, c_out: int, n_groups: int
) -> tuple[str, int, bool, tuple[_Plan, ...], tuple[_Group, ...]]:
    """(kind, scratch elements per sample, whether every output gets
    written, phase plans, shared phase groups); cached since it only
    depends on shapes and costs about as much as a small layer."""
    if all(ax.n == 1 for ax in axes):
        # No intermediates when the GEMM can write the output in place.
        direct = all(ax.d == 1 and ax.lo == 0 and ax.o == ax.k for ax in axes)
        scratch = 0 if direct and n_groups == 1 else c_out * math.prod(ax.k for ax in axes)
        return "pointwise", scratch, direct, (), ()
    if not all(_phase_taps(ax) for ax in axes):
        # Every output lies in the zero extension: only the bias remains.
        return "none", 0, False, (), ()
    kind, scratch, plans, shared = _choose(axes, batch, c_in, c_out, n_groups)
    if kind.startswith("karatsuba"):
        # Its blocks hold the full output; zeros a negative crop adds stay unwritten.
        covered = all(ax.lo >= 0 and ax.o + ax.lo <= _Blocks.of(ax).blocks * ax.s for ax in axes)
    else:
        covered = kind != "columns" and all(
            sum(count for _, count, _ in _phase_taps(ax)) == ax.o for ax in axes
        )
    return kind, scratch, covered, tuple(plans), tuple(shared)


def _choose(
    axes: Sequence[_Axis], batch: int, c_in: int, c_out: int, n_groups: int
) -> tuple[str, int, list[_Plan], list[_Group]]:
    """Cheapest strategy by the cost model: (kind, scratch per sample, phase
    plans, shared phase groups for the channels-last path)."""
    cig = c_in // n_groups
    spatial_in = math.prod(ax.n for ax in axes)
    outputs = c_out * math.prod(ax.o for ax in axes)
    plans = min(
        (
            [_Plan.of(axes, combo, cig, c_out // n_groups, n_groups) for combo in itertools.product(*option)]
            for option in itertools.product(*(_axis_options(ax) for ax in axes))
        ),
        key=lambda ps: batch * sum(p.cost(cig, c_in) for p in ps) + _NS_PLAN * len(ps),
    )
    last_q = max(1, axes[-1].o // axes[-1].s)
    taps_in = c_out * math.prod(ax.k for ax in axes) * spatial_in
    # (ns per sample, scratch elements per sample) of each candidate
    costs = {
        "phase": (
            sum(p.cost(cig, c_in) for p in plans) + _strided_ns(last_q) * outputs,
            sum(p.rows * p.columns for p in plans) + max(p.im2col(c_in) for p in plans),
        ),
        "columns": ((_add_ns(axes[-1].n) + _NS_FLOP * 2 * cig) * taps_in, taps_in),
    }
    shared = [_make_group(ax.k, _phase_taps(ax)) for ax in axes]
    if n_groups == 1:
        row = c_out * math.prod(g.shifts * len(g.phases) for g in shared)
        buf = c_out * math.prod(
            len(g.phases) * (max(ax.n + g.shifts - 1, g.u_lo + g.width) - min(0, g.u_lo))
            for ax, g in zip(axes, shared, strict=True)
        )
        costs["channels_last"] = (
            _NS_TRANSPOSE * (c_in * spatial_in + outputs)
            + (_NS_FLOP * 2 * c_in + _NS_CONTIG_ADD) * row * spatial_in,
            c_in * spatial_in + row * spatial_in + buf,
        )
    if _karatsuba_fits(axes, n_groups):
        costs.update(_karatsuba_costs(axes, batch, c_in, c_out, outputs))
    kind = _pick({k: cost for k, (cost, _) in costs.items()})
    return kind, costs[kind][1], plans, shared


def _karatsuba_costs(
    axes: Sequence[_Axis], batch: int, c_in: int, c_out: int, outputs: int
) -> dict[str, tuple[float, int]]:
    """(ns per sample, scratch elements per sample) of both Karatsuba strategies."""
    blocks = [_Blocks.of(ax) for ax in axes]
    prods = [b.products for b in blocks]
    tiles = [b.tiles for b in blocks]
    padded = [b.tiles * b.step for b in blocks]
    row = math.prod(ax.s for ax in axes) * c_out
    patches = math.prod(prods) * math.prod(tiles) * c_in
    results = math.prod(prods) * math.prod(tiles) * row
    full = math.prod(b.blocks for b in blocks) * row
    # Sums of the input transform before the last axis, and partly combined
    # products before the first.
    sums = sum(
        math.prod(prods[:a]) * math.prod(tiles[: a + 1]) * math.prod(padded[a + 1 :]) * c_in
        for a, b in enumerate(blocks[:-1])
        if b.pair
    )
    partial = sum(
        math.prod(prods[:a]) * math.prod(tiles[:a]) * math.prod(b.blocks for b in blocks[a:]) * row
        for a, b in enumerate(blocks)
        if a and b.pair
    )
    common = (
        2 * _NS_FLAT * patches
        + _NS_FLOP * 2 * results * c_in
        + 2 * _NS_CONTIG_ADD * partial
        + _NS_FLAT * math.prod(prods) * c_in * row / batch
    )
    scratch = math.prod(padded) * c_in + sums + patches + results + partial
    run = blocks[-1].blocks
    return {
        # channels-last copies move channels across pixels, but run over
        # whole rows of (s... x C_out)
        "karatsuba": (
            common
            + _NS_TRANSPOSE * (c_in * math.prod(ax.n for ax in axes) + outputs)
            + 2 * _NS_CONTIG_ADD * (results + full),
            scratch + full,
        ),
        # channels-first writes every output three times with stride s
        "karatsuba_first": (
            common
            + _strided_ns(tiles[-1]) * c_in * math.prod(ax.n for ax in axes)
            + 3 * _add_ns(run) * outputs,
            scratch,
        ),
    }


def _pick(costs: dict[str, float]) -> str:
    return min(costs, key=costs.__getitem__)
