"""Karatsuba, channels last: when every kernel footprint spans at most two
stride blocks (k4 s2, k16 s8, ...), pairs of inputs multiply like two-term
polynomials with three products instead of four per axis (9 GEMMs instead
of 16 in 2-D).  This module holds the block algebra both Karatsuba
strategies share, and the channels-last one: the products combine over
whole rows of channels, which suits small images."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from deconv_cli.arrays.engine.axis import Axis
from deconv_cli.arrays.engine.buffers import BLOCK_ELEMENTS, Arena, Array, at


@dataclass(frozen=True)
class Blocks:
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
    def of(ax: Axis) -> Blocks:
        if ax.footprint > ax.s:
            tiles = -(-ax.n // 2)
            return Blocks(True, tiles, 2 * tiles + 1)
        return Blocks(False, ax.n, ax.n)

    @property
    def step(self) -> int:
        return 2 if self.pair else 1

    @property
    def products(self) -> int:
        return 3 if self.pair else 1


def fits(axes: Sequence[Axis], n_groups: int) -> bool:
    """Every kernel footprint within two blocks, and at least one pair."""
    return n_groups == 1 and max(-(-ax.footprint // ax.s) for ax in axes) == 2


def weights(w: Array, axes: Sequence[Axis], blocks: Sequence[Blocks]) -> Array:
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
    split = full.reshape(c_in, *interleave([b.step for b in blocks], [ax.s for ax in axes]), c_out)
    # (block-tap u..., C_in, offset r inside the block..., C_out)
    src = split.transpose(*range(1, 2 * dims, 2), 0, *range(2, 2 * dims + 1, 2), 2 * dims + 1)
    v = np.empty((*(b.products for b in blocks), *src.shape[dims:]), dtype=w.dtype)
    expand_pairs(src, v, blocks, lambda shape: np.empty(shape, dtype=w.dtype))
    return v.reshape(*(b.products for b in blocks), c_in, -1)


def interleave(first: Sequence[int], second: Sequence[int]) -> list[int]:
    return [n for pair in zip(first, second, strict=True) for n in pair]


def expand_pairs(
    src: Array, dst: Array, blocks: Sequence[Blocks], temp: Callable[[tuple[int, ...]], Array]
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


def run(
    x: Array,
    out: Array,
    axes: Sequence[Axis],
    blocks: Sequence[Blocks],
    v: Array,
    bias: Array | None,
    arena: Arena,
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
        at(xcl, 1 + a, slice(ax.n, None)).fill(0)
    np.copyto(xcl[(slice(None), *(slice(0, ax.n) for ax in axes))], np.moveaxis(x, 1, -1))
    # (step..., n, tiles..., C_in)
    split = xcl.reshape(nb, *interleave(tiles, [b.step for b in blocks]), c_in)
    src = split.transpose(*range(2, 2 * dims + 1, 2), 0, *range(1, 2 * dims, 2), 2 * dims + 1)
    t = arena.take(*prods, nb, *tiles, c_in)
    expand_pairs(src, t, blocks, lambda shape: arena.take(*shape))
    rows = nb * math.prod(tiles)
    p = arena.take(*prods, rows, v.shape[-1])
    for idx in itertools.product(*(range(n) for n in prods)):
        np.matmul(t[idx].reshape(rows, c_in), v[idx], out=p[idx])
    # Combine in sub-chunks of samples whose blocks stay in cache.
    pv = p.reshape(*prods, nb, *tiles, -1)
    per_sample = math.prod(b.blocks * ax.s for ax, b in zip(axes, blocks, strict=True)) * out.shape[1]
    sub = max(1, min(nb, BLOCK_ELEMENTS // per_sample))
    keep = arena.used
    for n0 in range(0, nb, sub):
        arena.used = keep
        _combine(at(pv, dims, slice(n0, n0 + sub)), out[n0 : n0 + sub], axes, blocks, bias, arena)


def _combine(
    p: Array, out: Array, axes: Sequence[Axis], blocks: Sequence[Blocks], bias: Array | None, arena: Arena
) -> None:
    """Products (products..., n, tiles..., s... x C_out) to the cropped,
    channels-first output, through the full output in channels-last order."""
    dims = len(axes)
    nb, c_out = out.shape[:2]
    strides = [ax.s for ax in axes]
    # The full output as (n, Q1, s1, Q2, s2, ..., C_out), and viewed with
    # the blocks first, as the products come.
    y = arena.take(nb, *interleave([b.blocks for b in blocks], strides), c_out)
    yv = y.transpose(0, *range(1, 2 * dims, 2), *range(2, 2 * dims + 1, 2), 2 * dims + 1)
    cur = combine_axes(p.reshape(*p.shape[: 1 + 2 * dims], *strides, c_out), blocks, 1, arena)
    if blocks[0].pair:
        pair_blocks([cur[e] for e in range(3)], yv, 1, 0)
    else:
        np.copyto(yv, cur[0])
    full = y.reshape(nb, *(b.blocks * ax.s for ax, b in zip(axes, blocks, strict=True)), c_out)
    src_idx, dst_idx = [], []
    for ax, b in zip(axes, blocks, strict=True):
        t0, t1 = written(ax, b)
        src_idx.append(slice(t0 + ax.lo, t1 + ax.lo))
        dst_idx.append(slice(t0, t1))
    src = np.moveaxis(full[(slice(None), *src_idx)], -1, 1)
    dst = out[(slice(None), slice(None), *dst_idx)]
    if bias is None:
        np.copyto(dst, src)
    else:
        np.add(src, bias, out=dst)


def combine_axes(cur: Array, blocks: Sequence[Blocks], lead: int, arena: Arena) -> Array:
    """Combine the products of every axis but the first into full blocks,
    from the last axis down.  ``cur`` is (products..., ``lead`` axes,
    tiles...); the result keeps axis 0's products and tiles."""
    for a in reversed(range(1, len(blocks))):
        pos = a + lead + a  # axis a in cur[..., e]: after the products left, the lead and axes < a
        if blocks[a].pair:
            c0 = at(cur, a, 0)
            dst = arena.take(*c0.shape[:pos], blocks[a].blocks, *c0.shape[pos + 1 :])
            pair_blocks([at(cur, a, e) for e in range(3)], dst, pos, 0)
            cur = dst
        else:
            cur = at(cur, a, 0)
    return cur


def written(ax: Axis, b: Blocks) -> tuple[int, int]:
    """Outputs [t0, t1) inside the blocks; the rest are zeros a crop adds."""
    t0 = max(0, -ax.lo)
    return t0, max(t0, min(ax.o, b.blocks * ax.s - ax.lo))


def pair_blocks(products: Sequence[Array], dst: Array, pos: int, q0: int) -> None:
    """Blocks ``q0, q0 + 1, ...`` (axis ``pos`` of ``dst``) from the three
    products of a pair axis's tiles: block ``2i`` gets ``x0 w0`` of tile
    ``i`` and ``x1 w1`` of tile ``i - 1``, block ``2i + 1`` the middle term
    ``(x0 + x1)(w0 + w1) - x0 w0 - x1 w1``."""
    c0, c1, c2 = products
    tiles = c0.shape[pos]
    q1 = q0 + dst.shape[pos]

    def tile(c: Array, i0: int, i1: int) -> Array:
        return at(c, pos, slice(i0, i1 + 1))

    def block(q: int, count: int) -> Array:
        return at(dst, pos, slice(q - q0, q - q0 + 2 * count - 1, 2))

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
