"""One spatial axis as the engine sees it, and its stride phases.

Semantics per axis: ``full[i*s + j*d] += x[i] * w[j]``, then
``out[t] = full_ext[t + lo]`` with ``full_ext`` zero-extended on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Axis:
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
class Group:
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


PhaseTaps = tuple[int, int, dict[int, int]]


def phase_taps(ax: Axis) -> list[PhaseTaps]:
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


def make_group(k: int, phases: Sequence[PhaseTaps]) -> Group:
    # Shift m = off + e with e = -min(off) keeps shifts >= 0; the phase then
    # reads patch positions u = q + e.
    es = [-min(offs) for _, _, offs in phases]
    shifts = max(max(offs) + e + 1 for e, (_, _, offs) in zip(es, phases, strict=True))
    u_lo = min(es)
    u_hi = max(e + count for e, (_, count, _) in zip(es, phases, strict=True))
    return Group(
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


def options(ax: Axis) -> list[list[Group]]:
    """Candidate groupings of one axis: all phases shared, or one per phase."""
    phases = phase_taps(ax)
    shared = [make_group(ax.k, phases)]
    if len(phases) == 1:
        return [shared]
    return [shared, [make_group(ax.k, [p]) for p in phases]]


def axes_of(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    crop: Sequence[tuple[int, int]],
) -> tuple[Axis, ...]:
    axes = []
    for n, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, crop, strict=True):
        span = d * (k - 1) + 1
        # A length-1 input never overlaps itself, so any stride beyond the
        # kernel span is equivalent and gives every tap its own phase.
        axes.append(Axis(n, k, max(s, span) if n == 1 else s, d, lo, (n - 1) * s + span - lo - hi))
    return tuple(axes)
