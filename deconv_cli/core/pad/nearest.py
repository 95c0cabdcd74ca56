"""When nothing gives the size: the nearest sizes that can be reached, and which limit to raise.

Closed forms only: ``Framework.reach`` gives every reachable size per padding kind as a
few ranges, so the work depends on the number of kernels and strides searched, never on
the sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis
from deconv_cli.errors import DeconvError

Shape = tuple[int, ...]


def _below(sizes: range, target: int) -> int | None:
    if not sizes or target < sizes.start:
        return None
    return sizes[min(len(sizes) - 1, (target - sizes.start) // sizes.step)]


def _above(sizes: range, target: int) -> int | None:
    index = max(0, -(-(target - sizes.start) // sizes.step))
    return sizes[index] if index < len(sizes) else None


def reachable(frameworks: Iterable[str], axes: Sequence[Axis], out: Sequence[int]) -> list[Shape]:
    """The reachable shapes nearest below and above ``out`` (every axis of one padding kind)."""
    found: list[Shape] = []
    for name in frameworks:
        framework = FRAMEWORKS[name]
        try:
            per_axis = [framework.reach(a, len(axes)) for a in axes]
        except DeconvError:
            continue
        for kind in per_axis[0]:
            if not all(kind in reach for reach in per_axis):
                continue
            sides = [
                [[v for r in reach[kind] if (v := pick(r, o)) is not None] for pick in (_below, _above)]
                for reach, o in zip(per_axis, out, strict=True)
            ]
            if not all(below or above for below, above in sides):
                continue
            # each axis as near as it gets from below (above where it cannot), and the reverse
            for first in (0, 1):
                found.append(
                    tuple(
                        _closest(side[first] or side[1 - first], o)
                        for side, o in zip(sides, out, strict=True)
                    )
                )
    return found


def _closest(sizes: Sequence[int], target: int) -> int:
    return min(sizes, key=lambda size: abs(size - target))


def nearest(shapes: Iterable[Shape], out: Sequence[int]) -> list[Shape]:
    """The closest shape below ``out`` (by total size) and the closest above.

    >>> nearest([(8,), (3,), (70,)], [60])
    [(8,), (70,)]
    """
    wanted = sum(out)

    def distance(shape: Shape) -> int:
        return sum(abs(a - b) for a, b in zip(shape, out, strict=True))

    unique = set(shapes)
    below = [s for s in unique if sum(s) < wanted]
    above = [s for s in unique if sum(s) > wanted]
    return [min(side, key=lambda s: (distance(s), s)) for side in (below, above) if side]


def smallest_kernel(
    frameworks: Sequence[str],
    n: Sequence[int],
    out: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    above: int,
) -> int | None:
    """The smallest kernel above ``above`` that reaches ``out`` with one of ``strides``.

    Explicit paddings reach every size up to the full length plus an output_padding below
    ``max(s, d)``, and the full length grows by ``d`` per kernel tap: the smallest kernel
    whose reach covers ``out`` (or the next two, for a parity) reaches it when any does.
    """
    best: int | None = None
    for s in strides:
        start = above + 1
        for m, o, d in zip(n, out, dilation, strict=True):
            start = max(start, -(-(o - (m - 1) * s - max(s, d)) // d) + 1)
        for k in range(start, start + 3):
            axes = [Axis(m, k, s, d) for m, d in zip(n, dilation, strict=True)]
            if tuple(out) in _exact(frameworks, axes, out):
                best = k if best is None else min(best, k)
                break
    return best


def smallest_stride(
    frameworks: Sequence[str],
    n: Sequence[int],
    out: Sequence[int],
    kernels: Sequence[int],
    dilation: Sequence[int],
    above: int,
) -> int | None:
    """The smallest stride above ``above`` that reaches ``out`` with one of ``kernels``: SAME
    reaches ``n*s``, explicit paddings about the full length ``(n-1)*s + extent``."""
    candidates: set[int] = set()
    for m, o in zip(n, out, strict=True):
        same = -(-o // m)  # SAME's n*s reaches o
        candidates.update((same, same + 1, o // max(m - 1, 1) + 1))
    for s in sorted(c for c in candidates if c > above):
        for k in kernels:
            axes = [Axis(m, k, s, d) for m, d in zip(n, dilation, strict=True)]
            if tuple(out) in _exact(frameworks, axes, out):
                return int(s)
    return None


def _exact(frameworks: Sequence[str], axes: Sequence[Axis], out: Sequence[int]) -> list[Shape]:
    return [tuple(out)] if tuple(out) in reachable(frameworks, axes, out) else []
