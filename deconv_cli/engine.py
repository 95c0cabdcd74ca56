"""NumPy execution engine for transposed convolution.

Semantics: ``full[i*s + j*d] += x[i] * w[j]`` (no kernel flip), then
``out[t] = full_ext[t + L]`` where ``full_ext`` is ``full`` zero-extended on
both sides, so negative crops add zeros.

Strategies, chosen per call by a small cost model (all built on matmul):

* phase GEMM: the output splits by ``t mod s`` into stride phases; each phase
  is a plain correlation with the taps that land on it.  Input patches
  (im2col) are gathered once per group of phases and one GEMM yields every
  phase of the group, so the sum over taps happens inside BLAS.  Phases share
  patches (kernel zero-padded to a common tap grid) or get their own; chosen
  per spatial axis.  Extra traffic ~ C_in.
* columns (col2im): one GEMM gives every tap's contribution, then one strided
  add per tap scatters them.  Extra traffic ~ C_out, so it wins when the
  layer shrinks the channel count.
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

# Cost-model weights (ns per element copied / added, per flop) measured on a
# 2-core AVX-512 machine with OpenBLAS; only their ratios matter.
_NS_COPY = 0.35
_NS_ADD = 0.8
_NS_FLOP = 1.0 / 220.0
# Chunks whose intermediates outgrow the caches run slower, so the batch is
# split below this size even when max_memory would allow more.
_CACHE_CHUNK_BYTES = 48 << 20
# Below this many output columns per sample, the batch joins the GEMM columns.
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


def _phase_cost(choice: Sequence[Sequence[_Group]], cig: int, c_in: int, c_out: int) -> float:
    """Modelled ns per sample of the phase GEMM for per-axis groupings."""
    patch = c_in * math.prod(sum(g.shifts * g.width for g in gs) for gs in choice)
    macs = cig * c_out * math.prod(sum(len(g.phases) * g.shifts * g.width for g in gs) for gs in choice)
    return _NS_COPY * patch + _NS_FLOP * 2 * macs


def _phase_bytes(choice: Sequence[Sequence[_Group]], c_in: int, c_out: int) -> int:
    """Per-sample bytes/itemsize of the largest group's patches plus result."""
    return max(
        c_in * math.prod(g.shifts * g.width for g in combo)
        + c_out * math.prod(len(g.phases) * g.width for g in combo)
        for combo in itertools.product(*choice)
    )


def _phase_weights(w: Array, combo: Sequence[_Group], groups: int) -> Array:
    """Weights as (groups, phases x cog, shifts x cig), zero for padded taps."""
    c_in, cog = w.shape[:2]
    cig = c_in // groups
    ks = w.shape[2:]
    # (G, k..., cog, cig): one contiguous block per tap.
    wt = np.ascontiguousarray(w.reshape(groups, cig, cog, *ks).transpose(0, *range(3, 3 + len(ks)), 2, 1))
    nph = [len(g.phases) for g in combo]
    shifts = [g.shifts for g in combo]
    wmat = np.zeros((groups, *nph, cog, *shifts, cig), dtype=w.dtype)
    for ps in itertools.product(*(range(p) for p in nph)):
        for ms in itertools.product(*(range(t) for t in shifts)):
            js = tuple(g.taps[p][m] for g, p, m in zip(combo, ps, ms, strict=True))
            if all(j < k for j, k in zip(js, ks, strict=True)):
                wmat[(slice(None), *ps, slice(None), *ms)] = wt[(slice(None), *js)]
    return wmat.reshape(groups, math.prod(nph) * cog, math.prod(shifts) * cig)


def _phase_gemm(
    x: Array,
    w: Array,
    out: Array,
    axes: Sequence[_Axis],
    choice: Sequence[Sequence[_Group]],
    groups: int,
    bias: Array | None,
) -> None:
    """Phase-GEMM strategy for one batch chunk; writes every covered output."""
    nb, c_in = x.shape[:2]
    c_out = out.shape[1]
    cig, cog = c_in // groups, c_out // groups
    dims = len(axes)
    xg = x.reshape(nb, groups, cig, *x.shape[2:])
    outg = out.reshape(nb, groups, cog, *out.shape[2:])
    bias_g = None if bias is None else bias.reshape(1, groups, cog, *[1] * dims)
    for combo in itertools.product(*choice):
        shifts = [g.shifts for g in combo]
        widths = [g.width for g in combo]
        nph = [len(g.phases) for g in combo]
        wmat = _phase_weights(w, combo, groups)
        # Small windows make per-sample GEMMs too thin, so the batch joins
        # the GEMM columns; otherwise per-sample GEMMs keep samples outermost,
        # which makes the final scatter into NC... order cheaper.
        merged = math.prod(widths) < _MIN_GEMM_COLUMNS
        identity = all(
            t == 1 and g.u_lo == 0 and g.width == ax.n for ax, g, t in zip(axes, combo, shifts, strict=True)
        )
        if identity and not merged:
            # One shift and the window is x itself: x is the patch matrix.
            y = np.matmul(wmat, xg.reshape(nb, groups, cig, -1))
        else:
            patches = _patches(xg, axes, combo, merged)
            if merged:
                y = np.matmul(wmat, patches.reshape(groups, wmat.shape[2], -1))
            else:
                y = np.matmul(wmat, patches.reshape(nb, groups, wmat.shape[2], -1))
        if merged:
            # (G, P..., cog, n, U...) viewed with samples first.
            yv = y.reshape(groups, *nph, cog, nb, *widths)
            yv = yv.transpose(dims + 2, 0, *range(1, dims + 2), *range(dims + 3, 2 * dims + 3))
        else:
            yv = y.reshape(nb, groups, *nph, cog, *widths)
        for ps in itertools.product(*(range(p) for p in nph)):
            src = yv[
                (
                    slice(None),
                    slice(None),
                    *ps,
                    slice(None),
                    *(slice(g.starts[p], g.starts[p] + g.counts[p]) for g, p in zip(combo, ps, strict=True)),
                )
            ]
            dst = outg[
                (
                    slice(None),
                    slice(None),
                    slice(None),
                    *(slice(g.phases[p], None, ax.s) for ax, g, p in zip(axes, combo, ps, strict=True)),
                )
            ]
            if bias_g is None:
                np.copyto(dst, src)
            else:
                np.add(src, bias_g, out=dst)


def _patches(xg: Array, axes: Sequence[_Axis], combo: Sequence[_Group], merged: bool) -> Array:
    """im2col: row m of an axis holds x[u - m], u in [u_lo, u_lo + width).

    Layout (G, T..., cig, n, U...) when merged, else (n, G, T..., cig, U...).
    Positions outside x are zero.
    """
    nb, groups, cig = xg.shape[:3]
    dims = len(axes)
    shifts = [g.shifts for g in combo]
    widths = [g.width for g in combo]
    if merged:
        patches = np.empty((groups, *shifts, cig, nb, *widths), dtype=xg.dtype)
    else:
        patches = np.empty((nb, groups, *shifts, cig, *widths), dtype=xg.dtype)
    for ms in itertools.product(*(range(t) for t in shifts)):
        dst_idx: list[slice] = []
        src_idx: list[slice] = []
        for ax, g, m in zip(axes, combo, ms, strict=True):
            first = g.u_lo - m
            lo, hi = max(first, 0), max(min(first + g.width, ax.n), max(first, 0))
            dst_idx.append(slice(lo - first, hi - first))
            src_idx.append(slice(lo, hi))
        if merged:
            block = patches[(slice(None), *ms)]  # (G, cig, n, U...)
            src = xg[(slice(None),) * 3 + tuple(src_idx)].transpose(1, 2, 0, *range(3, 3 + dims))
        else:
            block = patches[(slice(None), slice(None), *ms)]  # (n, G, cig, U...)
            src = xg[(slice(None),) * 3 + tuple(src_idx)]
        np.copyto(block[(..., *dst_idx)], src)
        # Zero only the border slabs the copy did not reach.
        for a, sl in enumerate(dst_idx):
            pre = (slice(None),) * (3 + a)
            block[(*pre, slice(0, sl.start))] = 0
            block[(*pre, slice(sl.stop, None))] = 0
    return patches


def _tap_range(ax: _Axis, j: int) -> tuple[int, int, int]:
    """Inputs [i0, i1) that tap j sends inside the output, and the first t."""
    shift = j * ax.d - ax.lo
    i0 = max(0, -(shift // ax.s))
    i1 = min(ax.n, (ax.o - 1 - shift) // ax.s + 1)
    return i0, max(i0, i1), i0 * ax.s + shift


def _columns(x: Array, w: Array, out: Array, axes: Sequence[_Axis], groups: int) -> None:
    """col2im strategy for one chunk; adds into out (already initialised)."""
    nb, c_in = x.shape[:2]
    c_out = out.shape[1]
    cig, cog = c_in // groups, c_out // groups
    taps = math.prod(ax.k for ax in axes)
    # (G, taps x cog, cig) so each sample's GEMM reads x in place.
    wmat = w.reshape(groups, cig, cog, taps).transpose(0, 3, 2, 1).reshape(groups, taps * cog, cig)
    cols = np.matmul(wmat, x.reshape(nb, groups, cig, -1))
    cols = cols.reshape(nb, groups, *(ax.k for ax in axes), cog, *x.shape[2:])
    outg = out.reshape(nb, groups, cog, *out.shape[2:])
    ranges = [[_tap_range(ax, j) for j in range(ax.k)] for ax in axes]
    for js in itertools.product(*(range(ax.k) for ax in axes)):
        rs = [ranges[a][j] for a, j in enumerate(js)]
        if any(i1 == i0 for i0, i1, _ in rs):
            continue
        src = cols[(slice(None), slice(None), *js, slice(None), *(slice(i0, i1) for i0, i1, _ in rs))]
        dst = outg[
            (
                slice(None),
                slice(None),
                slice(None),
                *(
                    slice(t0, t0 + (i1 - i0 - 1) * ax.s + 1, ax.s)
                    for ax, (i0, i1, t0) in zip(axes, rs, strict=True)
                ),
            )
        ]
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

    ``max_memory`` bounds the engine's intermediates (not x, w or the output)
    by splitting the batch; one sample always runs even if it exceeds it.
    ``progress(done, total)`` is called with processed samples after each chunk.
    """
    dtype = x.dtype
    w = np.ascontiguousarray(w, dtype=dtype)
    x = np.ascontiguousarray(x)
    if bias is not None:
        bias = np.asarray(bias, dtype=dtype)
    batch, c_in = x.shape[:2]
    c_out = w.shape[1] * groups
    cig = c_in // groups
    axes = []
    for n, k, s, d, (lo, hi) in zip(x.shape[2:], w.shape[2:], stride, dilation, crop, strict=True):
        o = (n - 1) * s + d * (k - 1) + 1 - lo - hi
        # A length-1 input never overlaps itself, so any stride > the kernel
        # span is equivalent and gives every tap its own phase.
        axes.append(_Axis(n, k, max(s, d * (k - 1) + 1) if n == 1 else s, d, lo, o))
    out_shape = (batch, c_out, *(ax.o for ax in axes))
    budget = DEFAULT_MAX_MEMORY if max_memory is None else max_memory
    itemsize = dtype.itemsize

    covered = _full_coverage(axes)
    out = np.empty(out_shape, dtype=dtype) if covered else np.zeros(out_shape, dtype=dtype)
    if not all(_phase_taps(ax) for ax in axes):
        # Every output lies in the zero extension: only the bias remains.
        if bias is not None:
            out += bias.reshape(c_out, *[1] * len(axes))
        if progress is not None:
            progress(batch, batch)
        return out

    options = [_axis_options(ax) for ax in axes]
    choice = min(
        itertools.product(*options),
        key=lambda ch: _phase_cost(ch, cig, c_in, c_out),
    )
    spatial_in = math.prod(ax.n for ax in axes)
    taps = math.prod(ax.k for ax in axes)
    col_cost = _NS_ADD * c_out * taps * spatial_in + _NS_FLOP * 2 * cig * c_out * taps * spatial_in
    use_columns = col_cost < _phase_cost(choice, cig, c_in, c_out)
    per_sample = itemsize * (c_out * taps * spatial_in if use_columns else _phase_bytes(choice, c_in, c_out))
    chunk = max(1, min(budget, _CACHE_CHUNK_BYTES) // per_sample)
    chunk = min(chunk, batch)

    if use_columns:
        out[...] = 0 if bias is None else bias.reshape(c_out, *[1] * len(axes))
    elif not covered and bias is not None:
        out += bias.reshape(c_out, *[1] * len(axes))
    for start in range(0, batch, chunk):
        stop = min(start + chunk, batch)
        if use_columns:
            _columns(x[start:stop], w, out[start:stop], axes, groups)
        else:
            _phase_gemm(x[start:stop], w, out[start:stop], axes, choice, groups, bias)
        if progress is not None:
            progress(stop, batch)
    return out


def _full_coverage(axes: Sequence[_Axis]) -> bool:
    """Whether every output position lies in a phase that has taps."""
    return all(sum(count for _, count, _ in _phase_taps(ax)) == ax.o for ax in axes)
