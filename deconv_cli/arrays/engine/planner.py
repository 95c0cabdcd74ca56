"""The planner: a cost model in ns per sample picks the cheapest strategy for
a layer's shapes (constants measured, see costs.py), and the chunk sizes."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from deconv_cli.arrays.engine import axis, columns
from deconv_cli.arrays.engine.axis import Axis, Group, make_group, phase_taps
from deconv_cli.arrays.engine.costs import (
    NS_CONTIG_ADD,
    NS_FLAT,
    NS_PLAN,
    NS_TRANSPOSE,
    add_ns,
    flop_ns,
    strided_ns,
)
from deconv_cli.arrays.engine.karatsuba import Blocks, fits
from deconv_cli.arrays.engine.phase import Plan

# Intermediates beyond this fall out of the last-level cache and slow every
# copy, so the batch is split below it even when max_memory allows more.
CACHE_CHUNK_BYTES = 16 << 20
# GEMMs that run sample by sample (per-sample phase plans, col2im) lose
# nothing to small chunks, which keep their results in cache until the
# scatter reads them, so those plans split finer (GEMMs over a whole chunk
# get thinner instead).  Measured: 128->3 col2im takes 0.75x the time of
# 16 MiB chunks.
SAMPLE_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class Choice:
    """The plan for one layer's shapes."""

    kind: str  # the strategy's module name, or "none" when no tap lands
    scratch: int  # intermediate elements per sample
    covered: bool  # the strategy writes every output
    plans: tuple[Plan, ...] = ()  # phase's im2col + GEMM passes
    shared: tuple[Group, ...] = ()  # channels_last's phase groups
    # the BLAS's own threads run it, else worker threads run batch chunks
    # (the copies and adds around the GEMMs then use every core too)
    blas_threaded: bool = False

    @property
    def exact(self) -> bool:
        """Every output sums only the products of its own taps, so a NaN or inf reaches the
        outputs it feeds and no others.  Karatsuba's differences, and zero taps filling a
        shared grid (0 x inf is NaN), would reach others too."""
        if self.kind == "phase":
            return all(plan.exact for plan in self.plans)
        return self.kind in ("pointwise", "columns", "none")

    @property
    def per_sample(self) -> bool:
        """Its GEMMs run sample by sample, whatever the chunk."""
        return self.kind == "columns" or (self.kind == "phase" and not any(p.merged for p in self.plans))


@functools.lru_cache(maxsize=64)
def strategy(
    axes: tuple[Axis, ...], batch: int, c_in: int, c_out: int, n_groups: int, exact: bool = False
) -> Choice:
    """Cached since it only depends on shapes and costs about as much as a small layer.
    ``exact``: only a strategy whose outputs sum their own taps alone (``Choice.exact``)."""
    if all(ax.n == 1 for ax in axes):
        # No intermediates when the GEMM can write the output in place.
        direct = all(ax.d == 1 and ax.lo == 0 and ax.o == ax.k for ax in axes)
        scratch = 0 if direct and n_groups == 1 else c_out * math.prod(ax.k for ax in axes)
        # a latent vector is one GEMM, which the BLAS threads best by itself
        return Choice("pointwise", scratch, direct, blas_threaded=True)
    if not all(phase_taps(ax) for ax in axes):
        # Every output lies in the zero extension: only the bias remains.
        return Choice("none", 0, False)
    kind, scratch, plans, shared = _choose(axes, batch, c_in, c_out, n_groups, exact)
    if kind.startswith("karatsuba"):
        # Its blocks hold the full output; zeros a negative crop adds stay unwritten.
        covered = all(ax.lo >= 0 and ax.o + ax.lo <= Blocks.of(ax).blocks * ax.s for ax in axes)
    else:
        # phase by phase, every phase with taps is written
        covered = (kind != "columns" or columns.by_phase(axes)) and all(
            sum(count for _, count, _ in phase_taps(ax)) == ax.o for ax in axes
        )
    # Phase GEMMs, and col2im summed by phase, measured faster on the BLAS's
    # own threads (128->3: 0.74x the time on worker threads): what runs
    # around their GEMMs is bound by memory, not by a core.
    blas_threaded = kind == "phase" or (kind == "columns" and columns.by_phase(axes))
    return Choice(kind, scratch, covered, tuple(plans), tuple(shared), blas_threaded)


def _choose(
    axes: Sequence[Axis], batch: int, c_in: int, c_out: int, n_groups: int, exact: bool = False
) -> tuple[str, int, list[Plan], list[Group]]:
    """Cheapest strategy by the cost model: (kind, scratch per sample, phase
    plans, shared phase groups for the channels-last path)."""
    cig = c_in // n_groups
    spatial_in = math.prod(ax.n for ax in axes)
    outputs = c_out * math.prod(ax.o for ax in axes)
    plans = min(
        (
            [Plan.of(axes, combo, cig, c_out // n_groups, n_groups) for combo in itertools.product(*option)]
            for option in itertools.product(*(axis.options(ax) for ax in axes))
        ),
        key=lambda ps: batch * sum(p.cost(cig, c_in) for p in ps) + NS_PLAN * len(ps),
    )
    last_q = max(1, axes[-1].o // axes[-1].s)
    taps_in = c_out * math.prod(ax.k for ax in axes) * spatial_in
    # (ns per sample, scratch elements per sample) of each candidate
    costs = {
        "phase": (
            sum(p.cost(cig, c_in) for p in plans) + strided_ns(last_q) * outputs,
            sum(p.rows * p.columns for p in plans) + max(p.im2col(c_in) for p in plans),
        ),
        "columns": (
            flop_ns(cig, c_out // n_groups * math.prod(ax.k for ax in axes)) * 2 * cig * taps_in
            + (
                NS_CONTIG_ADD * taps_in + strided_ns(last_q) * outputs
                if columns.by_phase(axes)
                else add_ns(axes[-1].n) * taps_in
            ),
            columns.scratch(axes, c_out),
        ),
    }
    shared = [make_group(ax.k, phase_taps(ax)) for ax in axes]
    if n_groups == 1:
        row = c_out * math.prod(g.shifts * len(g.phases) for g in shared)
        buf = c_out * math.prod(
            len(g.phases) * (max(ax.n + g.shifts - 1, g.u_lo + g.width) - min(0, g.u_lo))
            for ax, g in zip(axes, shared, strict=True)
        )
        costs["channels_last"] = (
            NS_TRANSPOSE * (c_in * spatial_in + outputs)
            + (flop_ns(c_in, row) * 2 * c_in + NS_CONTIG_ADD) * row * spatial_in,
            c_in * spatial_in + row * spatial_in + buf,
        )
    if fits(axes, n_groups):
        costs.update(_karatsuba_costs(axes, batch, c_in, c_out, outputs))
    if exact:  # col2im adds every tap's products alone, and so do phase plans without zero taps
        costs = {
            k: v for k, v in costs.items() if k == "columns" or (k == "phase" and all(p.exact for p in plans))
        }
    kind = pick({k: cost for k, (cost, _) in costs.items()})
    return kind, costs[kind][1], plans, shared


def _karatsuba_costs(
    axes: Sequence[Axis], batch: int, c_in: int, c_out: int, outputs: int
) -> dict[str, tuple[float, int]]:
    """(ns per sample, scratch elements per sample) of both Karatsuba strategies."""
    blocks = [Blocks.of(ax) for ax in axes]
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
        2 * NS_FLAT * patches
        + flop_ns(c_in, row) * 2 * results * c_in
        + 2 * NS_CONTIG_ADD * partial
        + NS_FLAT * math.prod(prods) * c_in * row / batch
    )
    scratch = math.prod(padded) * c_in + sums + patches + results + partial
    run = blocks[-1].blocks
    return {
        # channels-last copies move channels across pixels, but run over
        # whole rows of (s... x C_out)
        "karatsuba": (
            common
            + NS_TRANSPOSE * (c_in * math.prod(ax.n for ax in axes) + outputs)
            + 2 * NS_CONTIG_ADD * (results + full),
            scratch + full,
        ),
        # channels-first writes every output three times with stride s
        "karatsuba_first": (
            common
            + strided_ns(tiles[-1]) * c_in * math.prod(ax.n for ax in axes)
            + 3 * add_ns(run) * outputs,
            scratch,
        ),
    }


def pick(costs: dict[str, float]) -> str:
    return min(costs, key=costs.__getitem__)
