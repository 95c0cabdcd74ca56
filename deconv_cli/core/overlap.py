"""``deconv overlap``: how evenly the kernel of a transposed conv covers its output.

The scatter ``full[i*s + j*d] += x[i] * w[j]`` gives an interior output position ``t``
one tap for every kernel index ``j`` with ``j*d ≡ t (mod s)``. When the phases
``t mod s`` get different counts, the output shows a checkerboard (Odena et al.,
"Deconvolution and Checkerboard Artifacts", 2016). Pure Python.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from deconv_cli.errors import DeconvError

#: phases (1-D) or tile cells (2-D) listed one by one; beyond, only the closed form is reported
LISTED = 4096


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
        return cls.of_histogram(tuple((count, 1) for count in counts))

    @classmethod
    def of_histogram(cls, histogram: Sequence[tuple[int, int]]) -> Coverage:
        """Summarise (count, positions with that count) pairs.

        >>> Coverage.of_histogram([(1, 3), (0, 99999997)]).holes
        99999997
        """
        present = [count for count, positions in histogram if positions]
        most, fewest = max(present), min(present)
        return cls(
            max=most,
            min=fewest,
            ratio=most / fewest if fewest else None,
            holes=sum(positions for count, positions in histogram if count == 0),
            verdict="even" if most == fewest else "uneven",
        )


@dataclass(frozen=True)
class AxisOverlap:
    """One axis: taps per phase ``t mod s`` (None past ``LISTED`` phases) and the nearest
    kernel sizes with even coverage."""

    kernel_size: int
    stride: int
    dilation: int
    counts: tuple[int, ...] | None
    coverage: Coverage
    alternatives: tuple[int, ...]

    def tap(self, phase: int) -> int:
        """Taps of output phase ``phase`` (closed form, any stride)."""
        return tap(self.kernel_size, self.stride, self.dilation, phase)

    def histogram(self) -> tuple[tuple[int, int], ...]:
        return histogram(self.kernel_size, self.stride, self.dilation)


@dataclass(frozen=True)
class OverlapReport:
    """Every axis, and the tile of taps per position over one period (one row in 1-D;
    None past ``LISTED`` cells)."""

    axes: tuple[AxisOverlap, ...]
    tile: tuple[tuple[int, ...], ...] | None
    coverage: Coverage

    def at(self, row: int, column: int) -> int:
        """The tile's cell (closed form, any stride)."""
        first = self.axes[0].tap(row) if len(self.axes) == 2 else 1
        return first * self.axes[-1].tap(column)

    def histogram(self) -> tuple[tuple[int, int], ...]:
        """(taps, cells with that many) over the tile, most taps first."""
        if len(self.axes) == 1:
            return self.axes[0].histogram()
        found: dict[int, int] = {}
        for (a, m), (b, n) in itertools.product(self.axes[0].histogram(), self.axes[1].histogram()):
            found[a * b] = found.get(a * b, 0) + m * n
        return tuple(sorted(found.items(), reverse=True))


def tap(kernel_size: int, stride: int, dilation: int, phase: int) -> int:
    """Taps ``#{j < k : j*d ≡ phase (mod s)}`` in closed form.

    With ``g = gcd(d, s)`` only phases that ``g`` divides are reached, each by the
    kernel indices ``j ≡ j0 (mod s/g)``, ``j0 = (phase/g) * (d/g)^-1 mod s/g``.

    >>> [tap(3, 2, 1, r) for r in range(2)], tap(3, 100_000_000, 1, 2), tap(3, 2, 2, 1)
    ([2, 1], 1, 0)
    """
    g = math.gcd(dilation, stride)
    if phase % g:
        return 0
    period = stride // g
    first = (phase // g) * pow(dilation // g, -1, period) % period if period > 1 else 0
    return 0 if first >= kernel_size else (kernel_size - 1 - first) // period + 1


def histogram(kernel_size: int, stride: int, dilation: int = 1) -> tuple[tuple[int, int], ...]:
    """(taps, phases with that many), most taps first: ``k = q*(s/g) + r`` gives ``r``
    phases ``q+1`` taps, ``s/g - r`` phases ``q``, and the ``s - s/g`` others none.

    >>> histogram(3, 2), histogram(3, 100_000_000), histogram(3, 2, 2)
    (((2, 1), (1, 1)), ((1, 3), (0, 99999997)), ((3, 1), (0, 1)))
    """
    period = stride // math.gcd(dilation, stride)
    q, r = divmod(kernel_size, period)
    found: dict[int, int] = {}
    for count, phases in ((q + 1, r), (q, period - r), (0, stride - period)):
        if phases:
            found[count] = found.get(count, 0) + phases
    return tuple(sorted(found.items(), reverse=True))


def taps(kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, ...]:
    """Taps per interior output position of each phase ``r``: ``#{j < k : j*d ≡ r (mod s)}``.

    >>> taps(3, 2), taps(4, 2), taps(3, 2, dilation=2)
    ((2, 1), (2, 2), (3, 0))
    """
    return tuple(tap(kernel_size, stride, dilation, r) for r in range(stride))


def even(kernel_size: int, stride: int, dilation: int = 1) -> bool:
    """Whether every output phase gets as many taps: no checkerboard (``gcd(d, s) = 1`` and ``s | k``).

    >>> even(4, 2), even(3, 2), even(4, 2, dilation=2)
    (True, False, False)
    """
    return stride == 1 or (math.gcd(dilation, stride) == 1 and kernel_size % stride == 0)


def alternatives(kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, ...]:
    """The nearest kernel sizes below and above ``kernel_size`` with even coverage.

    With ``gcd(d, s) = 1`` even means ``s`` divides ``k``, so both lie within ``s`` of
    ``k``; with ``gcd(d, s) > 1`` some phases never get a tap and no size is even.

    >>> alternatives(3, 2), alternatives(4, 2), alternatives(1, 3), alternatives(3, 2, dilation=2)
    ((2, 4), (2, 6), (3,), ())
    """
    k, s = kernel_size, stride
    if s > 1 and math.gcd(dilation, s) > 1:
        return ()
    below = (k - 1) // s * s
    return tuple(c for c in (below, (k // s + 1) * s) if c >= 1)


def overlap(kernel_size: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> OverlapReport:
    """Coverage per axis, and of the tile (the outer product of the axes' counts in 2-D).

    Closed forms throughout: the work does not grow with the stride; counts are listed
    up to ``LISTED`` phases.

    >>> report = overlap([3, 4], [2, 2], [1, 1])
    >>> report.tile, report.coverage.verdict
    (((4, 4), (2, 2)), 'uneven')
    """
    if len(kernel_size) > 2:
        raise DeconvError(f"overlap covers 1-D and 2-D kernels (got {len(kernel_size)} axes)")
    axes = tuple(
        AxisOverlap(
            k,
            s,
            d,
            taps(k, s, d) if s <= LISTED else None,
            Coverage.of_histogram(histogram(k, s, d)),
            alternatives(k, s, d),
        )
        for k, s, d in zip(kernel_size, stride, dilation, strict=True)
    )
    rows = axes[0].stride if len(axes) == 2 else 1
    listed = rows * axes[-1].stride <= LISTED
    report = OverlapReport(axes, None, axes[0].coverage)
    tile = (
        tuple(tuple(report.at(r, c) for c in range(axes[-1].stride)) for r in range(rows)) if listed else None
    )
    return OverlapReport(axes, tile, Coverage.of_histogram(report.histogram()))
