"""NumPy execution engine for transposed convolution.

Semantics: ``full[i*s + j*d] += x[i] * w[j]`` (no kernel flip), then
``out[t] = full_ext[t + L]`` where ``full_ext`` is ``full`` zero-extended on
both sides, so negative crops add zeros.

Strategies, all built on matmul and chosen per call by a small cost model:

* phase GEMM: the output splits by ``t mod s`` into stride phases; each phase
  is a plain correlation with the taps that land on it.  Input patches
  (im2col) are gathered once per group of phases and one GEMM yields every
  phase of the group, so the sum over taps happens inside BLAS.  Per spatial
  axis, phases either share patches (kernel zero-padded to a common tap
  grid) or get their own.  Patches come from a zero-padded copy of the input
  whose flattened planes make every tap shift a contiguous slice; the GEMM
  then also computes a few junk columns at row ends, which are never read.
* columns (col2im): one GEMM gives every tap's contribution, then one strided
  add per tap scatters them.  Traffic scales with C_out rather than C_in, so
  it wins when the layer shrinks the channel count.
* pointwise: when every input spatial size is 1 (a latent vector), taps never
  overlap and one GEMM produces the output.
"""

from __future__ import annotations

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

# Cost-model weights in ns (per element of a contiguous copy, per flop, per
# GEMM plan and chunk), measured with OpenBLAS on a 2-core AVX-512 machine.
# Only their ratios matter.
_NS_FLAT = 0.15
_NS_FLOP = 1.0 / 220.0
_NS_PLAN = 50_000.0
# Intermediates beyond this fall out of the last-level cache and slow every
# copy, so the batch is split below it even when max_memory allows more.
_CACHE_CHUNK_BYTES = 24 << 20
# Below this many GEMM columns per sample, the batch joins the GEMM columns:
# thin per-sample GEMMs run far below BLAS peak.
_MIN_GEMM_COLUMNS = 256


@dataclass(frozen=True)
class _Axis:
    n: int  # input length
    k: int
    s: int
    d: int
    lo: int  # left crop (negative: zeros prepended)
    o: int  # output length


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
            tuple(offs.get(m - e, k) for m in range(shifts)) for e, (_, _, offs) in zip(es, phases, strict=True)
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
    rows: int  # phases x C_out
    shifts: int
    merged: bool  # batch folded into the GEMM columns
    tail: int  # the largest shift reads this far past the padded planes

    @staticmethod
    def of(axes: Sequence[_Axis], groups: Sequence[_Group], c_out: int) -> _Plan:
        padded = [g.padded for g in groups]
        columns = groups[0].width * math.prod(padded[1:])
        merged = columns < _MIN_GEMM_COLUMNS
        return _Plan(
            groups=tuple(groups),
            identity=not merged
            and all(g.shifts == 1 and g.u_lo == 0 and g.width == ax.n for ax, g in zip(axes, groups, strict=True)),
            columns=columns,
            rows=c_out * math.prod(len(g.phases) for g in groups),
            shifts=math.prod(g.shifts for g in groups),
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
        return (
            _strided_ns(run) * self.padded_size(c_in)
            + _NS_FLAT * self.patch_size(c_in)
            + _NS_FLOP * flops
        )

    def scratch(self, c_in: int) -> int:
        """Elements of intermediates per sample."""
        return self.padded_size(c_in) + self.patch_size(c_in) + self.rows * self.columns


def _strided_ns(run: int) -> float:
    """Modelled ns per element of a strided numpy copy with inner runs ``run``:
    each inner loop has a fixed overhead on top of the per-element cost."""
    return 0.3 + 8.0 / run


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


def _phase_weights(w: Array, groups: Sequence[_Group], n_groups: int) -> Array:
    """Weights as (G, shifts x cig, phases x cog), zero for padded taps.

    Each (phase, shift) pair is one contiguous (cig, cog) block of the
    per-tap transposed kernel; the GEMM reads the result transposed, which
    BLAS does without a copy.
    """
    c_in, cog = w.shape[:2]
    cig = c_in // n_groups
    ks = w.shape[2:]
    dims = len(ks)
    # (G, k..., cig, cog): cheap to produce, since cog stays innermost.
    per_tap = np.ascontiguousarray(
        np.moveaxis(w.reshape(n_groups, cig, cog, *ks), (1, 2), (1 + dims, 2 + dims))
    )
    shifts = [g.shifts for g in groups]
    nph = [len(g.phases) for g in groups]
    wk = np.zeros((n_groups, *shifts, cig, *nph, cog), dtype=w.dtype)
    for ps in itertools.product(*(range(p) for p in nph)):
        for ms in itertools.product(*(range(t) for t in shifts)):
            js = tuple(g.taps[p][m] for g, p, m in zip(groups, ps, ms, strict=True))
            if all(j < k for j, k in zip(js, ks, strict=True)):
                wk[(slice(None), *ms, slice(None), *ps)] = per_tap[(slice(None), *js)]
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
    for plan, wk in plans:
        arena.used = 0
        wmat = wk.transpose(0, 2, 1)
        rows = plan.rows // n_groups
        if plan.identity:
            y = arena.take(nb, n_groups, rows, plan.columns)
            np.matmul(wmat, xg.reshape(nb, n_groups, cig, -1), out=y)
        elif plan.merged:
            patches = _patches(xg, axes, plan, arena)
            y = arena.take(n_groups, rows, nb * plan.columns)
            np.matmul(wmat, patches, out=y)
        else:
            patches = _patches(xg, axes, plan, arena)
            y = arena.take(nb, n_groups, rows, plan.columns)
            np.matmul(wmat, patches, out=y)
        window = (plan.groups[0].width, *(g.padded for g in plan.groups[1:]))
        nph = [len(g.phases) for g in plan.groups]
        if plan.merged:
            yv = np.moveaxis(y.reshape(n_groups, *nph, cog, nb, *window), 2 + dims, 0)
        else:
            yv = y.reshape(nb, n_groups, *nph, cog, *window)
        for ps in itertools.product(*(range(p) for p in nph)):
            src = yv[
                (slice(None), slice(None))
                + ps
                + (slice(None),)
                + tuple(slice(g.starts[p], g.starts[p] + g.counts[p]) for g, p in zip(plan.groups, ps, strict=True))
            ]
            dst = outg[
                (slice(None),) * 3
                + tuple(slice(g.phases[p], None, ax.s) for ax, g, p in zip(axes, plan.groups, ps, strict=True))
            ]
            if bias_g is None:
                np.copyto(dst, src)
            else:
                np.add(src, bias_g, out=dst)


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
            if plan.merged:
                cols[:, i] = shifted
            else:
                cols[:, :, i] = shifted
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
    for js in itertools.product(*(range(ax.k) for ax in axes)):
        rs = [ranges[a][j] for a, j in enumerate(js)]
        if any(i1 == i0 for i0, i1, _ in rs):
            continue
        src = cols[(slice(None),) * 3 + js + tuple(slice(i0, i1) for i0, i1, _ in rs)]
        dst = outg[
            (slice(None),) * 3
            + tuple(slice(t0, t0 + (i1 - i0 - 1) * ax.s + 1, ax.s) for ax, (i0, i1, t0) in zip(axes, rs, strict=True))
        ]
        dst += src


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
    """Transposed convolution of ``x`` (N, C_in, *spatial) with PyTorch-layout
    ``w`` (C_in, C_out // groups, *k); computes and returns in ``x.dtype``.

    ``max_memory`` bounds the engine's per-sample intermediates (not x, the
    weights or the output) by splitting the batch; one sample always runs,
    even over budget.  ``progress(done, total)`` gets the number of samples
    processed after each chunk.
    """
    dtype = x.dtype
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=dtype)
    batch, c_in = x.shape[:2]
    c_out = w.shape[1] * groups
    cig = c_in // groups
    axes = []
    for n, k, s, d, (lo, hi) in zip(x.shape[2:], w.shape[2:], stride, dilation, crop, strict=True):
        o = (n - 1) * s + d * (k - 1) + 1 - lo - hi
        # A length-1 input never overlaps itself, so any stride beyond the
        # kernel span is equivalent and gives every tap its own phase.
        axes.append(_Axis(n, k, max(s, d * (k - 1) + 1) if n == 1 else s, d, lo, o))
    dims = len(axes)
    out_shape = (batch, c_out, *(ax.o for ax in axes))
    bias_b = None if bias is None else np.asarray(bias, dtype=dtype).reshape(c_out, *[1] * dims)
    budget = DEFAULT_MAX_MEMORY if max_memory is None else max_memory

    pointwise = all(ax.n == 1 for ax in axes)
    direct = pointwise and all(ax.d == 1 and ax.lo == 0 and ax.o == ax.k for ax in axes)
    phases = [_phase_taps(ax) for ax in axes]
    covered = all(sum(count for _, count, _ in ph) == ax.o for ax, ph in zip(axes, phases, strict=True))
    plans: list[_Plan] = []
    use_columns = False
    tail = 0
    if pointwise:
        scratch = c_out * math.prod(ax.k for ax in axes)
    elif all(phases):
        plans = min(
            (
                [_Plan.of(axes, combo, c_out) for combo in itertools.product(*option)]
                for option in itertools.product(*(_axis_options(ax) for ax in axes))
            ),
            key=lambda ps: batch * sum(p.cost(cig, c_in) for p in ps) + _NS_PLAN * len(ps),
        )
        taps_in = math.prod(ax.k * ax.n for ax in axes)
        col_cost = (_add_ns(axes[-1].n) + _NS_FLOP * 2 * cig) * c_out * taps_in
        if col_cost < sum(p.cost(cig, c_in) for p in plans):
            use_columns, plans = True, []
            scratch = c_out * taps_in
        else:
            scratch = max(p.scratch(c_in) for p in plans)
            tail = max(p.tail for p in plans)
    else:
        # Every output lies in the zero extension: only the bias remains.
        scratch = 0

    # Outputs the GEMM paths never write must hold zero (or the bias) first.
    if direct or (plans and covered):
        out = np.empty(out_shape, dtype=dtype)
    else:
        out = np.zeros(out_shape, dtype=dtype)
        if bias_b is not None:
            out += bias_b
    chunk = min(batch, max(1, min(budget, _CACHE_CHUNK_BYTES) // max(1, scratch * dtype.itemsize)))
    if scratch == 0:
        chunk = batch
    arena = _Arena(chunk * scratch + tail, dtype)
    weighted = [(plan, _phase_weights(w, plan.groups, groups)) for plan in plans]
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        if pointwise:
            _pointwise(x[start:stop], w, out[start:stop], axes, groups, direct, arena)
        elif use_columns:
            _columns(x[start:stop], w, out[start:stop], axes, groups, arena)
        elif plans:
            _phase_gemm(x[start:stop], out[start:stop], axes, weighted, groups, bias_b, arena)
        if progress is not None:
            progress(stop, batch)
    if direct and bias_b is not None:
        out += bias_b
    return out


def _add_ns(run: int) -> float:
    """Modelled ns per element of a strided in-place add with inner runs ``run``."""
    return 0.75 + 10.0 / run
