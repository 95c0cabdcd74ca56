"""``deconv overlap``: how evenly the kernel of a transposed conv covers its output.

The scatter ``full[i*s + j*d] += x[i] * w[j]`` gives an interior output position ``t``
one tap for every kernel index ``j`` with ``j*d ≡ t (mod s)``. When the phases
``t mod s`` get different counts, the output shows a checkerboard (Odena et al.,
"Deconvolution and Checkerboard Artifacts", 2016). Pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deconv_cli.errors import DeconvError


@dataclass(frozen=True)
class Coverage:
    """How uneven a set of tap counts is; ``ratio`` is None when a position gets no tap (a hole)."""

    max: int
    min: int
    ratio: float | None
    holes: int
    verdict: Literal["even", "uneven"]

    @classmethod
    def of(cls, counts: Sequence[int]) -> Coverage:
        """Summarise ``counts``.

        >>> Coverage.of([2, 1])
        Coverage(max=2, min=1, ratio=2.0, holes=0, verdict='uneven')
        """
        most, fewest = max(counts), min(counts)
        return cls(
            max=most,
            min=fewest,
            ratio=most / fewest if fewest else None,
            holes=list(counts).count(0),
            verdict="even" if most == fewest else "uneven",
        )


@dataclass(frozen=True)
class AxisOverlap:
    """One axis: taps per phase ``t mod s`` and the nearest kernel sizes with even coverage."""

    kernel_size: int
    stride: int
    dilation: int
    counts: tuple[int, ...]
    coverage: Coverage
    alternatives: tuple[int, ...]


@dataclass(frozen=True)
class OverlapReport:
    """Every axis, and the tile of taps per position over one period (one row in 1-D)."""

    axes: tuple[AxisOverlap, ...]
    tile: tuple[tuple[int, ...], ...]
    coverage: Coverage


def taps(kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, ...]:
    """Taps per interior output position of each phase ``r``: ``#{j < k : j*d ≡ r (mod s)}``.

    >>> taps(3, 2), taps(4, 2), taps(3, 2, dilation=2)
    ((2, 1), (2, 2), (3, 0))
    """
    counts = [0] * stride
    for j in range(kernel_size):
        counts[j * dilation % stride] += 1
    return tuple(counts)


def even(kernel_size: int, stride: int, dilation: int = 1) -> bool:
    """Whether every output phase gets as many taps: no checkerboard.

    >>> even(4, 2), even(3, 2), even(4, 2, dilation=2)
    (True, False, False)
    """
    return len(set(taps(kernel_size, stride, dilation))) == 1


def alternatives(kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, ...]:
    """The nearest kernel sizes below and above ``kernel_size`` with even coverage.

    With ``gcd(d, s) = 1`` even means ``s`` divides ``k``, so both lie within ``s`` of
    ``k``; with ``gcd(d, s) > 1`` some phases never get a tap and no size is even.

    >>> alternatives(3, 2), alternatives(4, 2), alternatives(1, 3), alternatives(3, 2, dilation=2)
    ((2, 4), (2, 6), (3,), ())
    """
    k, s = kernel_size, stride
    below = range(k - 1, max(k - s, 1) - 1, -1)
    above = range(k + 1, k + s + 1)
    nearest = (next((c for c in sizes if even(c, s, dilation)), None) for sizes in (below, above))
    return tuple(c for c in nearest if c is not None)


def overlap(kernel_size: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> OverlapReport:
    """Coverage per axis, and of the tile (the outer product of the axes' counts in 2-D).

    >>> report = overlap([3, 4], [2, 2], [1, 1])
    >>> report.tile, report.coverage.verdict
    (((4, 4), (2, 2)), 'uneven')
    """
    if len(kernel_size) > 2:
        raise DeconvError(f"overlap covers 1-D and 2-D kernels (got {len(kernel_size)} axes)")
    axes = []
    for k, s, d in zip(kernel_size, stride, dilation, strict=True):
        counts = taps(k, s, d)
        axes.append(AxisOverlap(k, s, d, counts, Coverage.of(counts), alternatives(k, s, d)))
    rows = axes[0].counts if len(axes) == 2 else (1,)
    tile = tuple(tuple(r * c for c in axes[-1].counts) for r in rows)
    return OverlapReport(tuple(axes), tile, Coverage.of([count for row in tile for count in row]))
