"""Columns (col2im): one GEMM gives every tap's contribution, then the taps
are summed into the output.  Traffic scales with C_out rather than C_in, so
it wins when a layer shrinks the channel count.

Where every stride phase of the output fits in the input's extents (1-D and
2-D; ``by_phase``), each phase is summed in a buffer laid out like the input
planes, where a tap's shift is one flat offset and each add runs over whole
planes; one blocked pass then copies the phases into the interleaved output.
numpy's strided adds, one per tap straight into the output, cost several
times more per element (measured: sr k3s2 0.7x, 128->3 0.75x the time).
Elsewhere each tap adds into the output directly.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deconv_cli.arrays.engine.axis import Axis, phase_taps
from deconv_cli.arrays.engine.buffers import Arena, Array, add_all, assign_all, blockwise


def by_phase(axes: Sequence[Axis]) -> bool:
    """Whether the taps are summed phase by phase: at most two axes, and every
    phase no longer than the input along each axis."""
    return len(axes) <= 2 and all(count <= ax.n for ax in axes for _, count, _ in phase_taps(ax))


def scratch(axes: Sequence[Axis], c_out: int) -> int:
    """Intermediate elements per sample: every tap's columns, and the phase sums."""
    plane = math.prod(ax.n for ax in axes)
    taps = c_out * math.prod(ax.k for ax in axes) * plane
    if not by_phase(axes):
        return taps
    return taps + c_out * plane * math.prod(len(phase_taps(ax)) for ax in axes)


def run(
    x: Array,
    w: Array,
    out: Array,
    axes: Sequence[Axis],
    n_groups: int,
    bias: Array | None,
    arena: Arena,
) -> None:
    """col2im strategy for one chunk.  Phase by phase it writes every output
    (with the bias); otherwise it adds into out, already initialised."""
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
    if by_phase(axes):
        bias_g = None if bias is None else bias.reshape(1, n_groups, cog, *[1] * len(axes))
        _sum_phases(cols, outg, tuple(axes), bias_g, arena)
    else:
        _add_taps(cols, outg, axes)


Index = tuple[Any, ...]


@dataclass(frozen=True)
class _TapSum:
    """One tap's flat add into a phase sum, and its row-end correction."""

    tap: Index  # the tap's kernel indices into the columns
    total: slice  # flat range of the phase sum it adds to
    source: slice  # the same range shifted by the tap's offset
    wrapped: Index | None  # where the flat slice crossed row ends: restored afterwards


@dataclass(frozen=True)
class _PhaseSum:
    taps: tuple[_TapSum, ...]
    covering: bool  # the first tap reaches every position: copied, not added to zeros
    output: Index  # the phase's outputs: every s-th from its residue
    window: Index  # the part of the sum that holds them
    # a phase of one covering tap needs no sum: its outputs are this window of the tap's plane
    alone: Index | None = None


@functools.lru_cache(maxsize=64)
def _phase_sums(axes: tuple[Axis, ...]) -> tuple[_PhaseSum, ...]:
    """Per phase, the flat adds of its taps; shapes only, so cached.

    Flattened, tap j's contribution to phase position q = i + off is one
    slice offset by off.  Along the last axis of a 2-D plane the flat slice
    also runs across row ends and reads the neighbouring row there; those
    elements (``wrapped``) are saved before the add and restored after it,
    which is exact where subtracting again would round, or turn an infinity
    into NaN.  Positions at or past a phase's length are never copied out,
    so they may hold anything.
    """
    ns = [ax.n for ax in axes]
    strides = [math.prod(ns[a + 1 :]) for a in range(len(ns))]
    lead: Index = (slice(None),) * 3
    sums = []
    for phases in itertools.product(*(phase_taps(ax) for ax in axes)):
        taps: list[_TapSum] = []
        covering = False
        window: Index = ()
        for offs in itertools.product(*(sorted(offsets.items()) for _, _, offsets in phases)):
            box = [
                (max(0, off), min(count, n + off))
                for (off, _), (_, count, _), n in zip(offs, phases, ns, strict=True)
            ]
            if any(hi <= lo for lo, hi in box):
                continue
            shift = sum(off * st for (off, _), st in zip(offs, strides, strict=True))
            first = sum(lo * st for (lo, _), st in zip(box, strides, strict=True))
            last = sum((hi - 1) * st for (_, hi), st in zip(box, strides, strict=True)) + 1
            wrapped = None
            if len(axes) == 2:
                wrapped = _wrapped(box[0], offs[1][0], phases[1][1], ns[1])
            tap = _TapSum(
                tap=(*lead, *(j for _, j in offs)),
                total=slice(first, last),
                source=slice(first - shift, last - shift),
                wrapped=wrapped,
            )
            if not covering and all(
                box_ == (0, count) for box_, (_, count, _) in zip(box, phases, strict=True)
            ):
                # it reaches every position, so a copy serves (what it puts across row ends is zeroed)
                taps.insert(0, tap)
                covering = True
                # phase position q holds the tap's input q - off (off <= 0 when it covers)
                window = (
                    *lead,
                    *(slice(-off, count - off) for (off, _), (_, count, _) in zip(offs, phases, strict=True)),
                )
            else:
                taps.append(tap)
        alone = window if covering and len(taps) == 1 else None
        sums.append(
            _PhaseSum(
                taps=tuple(taps),
                covering=covering,
                alone=alone,
                output=lead
                + tuple(slice(rho, None, ax.s) for ax, (rho, _, _) in zip(axes, phases, strict=True)),
                window=lead + tuple(slice(0, count) for _, count, _ in phases),
            )
        )
    return tuple(sums)


def _wrapped(rows: tuple[int, int], off1: int, count1: int, n1: int) -> Index | None:
    """Where a 2-D flat add shifted by ``off1`` along rows crossed row ends, in rows
    [lo0, hi0) of the sum: columns it reached only by reading the neighbouring row."""
    lo0, hi0 = rows
    lead: Index = (slice(None),) * 3
    if off1 > 0:  # columns [0, off1) of every row after the first: the previous row's end
        return (*lead, slice(lo0 + 1, hi0), slice(0, off1))
    stop = min(n1, count1)  # columns past the phase's length are never copied out
    if off1 < 0 and n1 + off1 < stop:  # of every row before the last: the next row's start
        return (*lead, slice(lo0, hi0 - 1), slice(n1 + off1, stop))
    return None


def _sum_phases(cols: Array, outg: Array, axes: tuple[Axis, ...], bias_g: Array | None, arena: Arena) -> None:
    """Each phase summed over its taps in a buffer of the input's extents,
    then all copied into the output in one blocked pass (see ``_phase_sums``)."""
    nb, n_groups, cog = cols.shape[:3]
    ns = [ax.n for ax in axes]
    taps = cols.reshape(nb, n_groups, cog, *(ax.k for ax in axes), math.prod(ns))
    pairs = []
    for phase in _phase_sums(axes):
        if phase.alone is not None:
            plane = taps[phase.taps[0].tap].reshape(nb, n_groups, cog, *ns)
            pairs.append((outg[phase.output], plane[phase.alone]))
            continue
        total = arena.take(nb, n_groups, cog, math.prod(ns))
        if not phase.covering:
            total.fill(0)
        grid = total.reshape(nb, n_groups, cog, *ns)
        for i, tap in enumerate(phase.taps):
            src = taps[tap.tap]
            copy = i == 0 and phase.covering
            saved = None if tap.wrapped is None or copy else grid[tap.wrapped].copy()
            if copy:
                np.copyto(total[..., tap.total], src[..., tap.source])
            else:
                total[..., tap.total] += src[..., tap.source]
            if tap.wrapped is not None:
                grid[tap.wrapped] = 0 if saved is None else saved
        pairs.append((outg[phase.output], grid[phase.window]))
    # The phases interleave: each output block gets all of them while in cache.
    blockwise(assign_all, pairs, outg.shape, bias_g)


def _tap_range(ax: Axis, j: int) -> tuple[int, int, int]:
    """Inputs [i0, i1) that tap j sends inside the output, and the first t."""
    shift = j * ax.d - ax.lo
    i0 = max(0, -(shift // ax.s))
    i1 = min(ax.n, (ax.o - 1 - shift) // ax.s + 1)
    return i0, max(i0, i1), i0 * ax.s + shift


def _add_taps(cols: Array, outg: Array, axes: Sequence[Axis]) -> None:
    """One strided add per tap, straight into the output."""
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
