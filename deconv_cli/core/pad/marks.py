"""What makes a legal setting odd, in closed form (no loop over a kernel or a stride).

A setting is marked, and ranked after the plain ones, when it

- ``discards``: crops ``extent`` or more from an edge, so every contribution of the first
  or last input element is thrown away;
- ``zeros``: appends or prepends zeros past the full result (a constant edge: bias only);
- ``holes``: leaves output phases that no kernel tap reaches (``k*d < s``-like: some
  ``t mod s`` has no ``j`` with ``j*d ≡ t``);
- ``uneven``: gives the output phases different numbers of taps (a checkerboard).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd

from deconv_cli.core.geometry import Axis, Layer

#: every mark, in the order they are listed
MARKS = ("discards", "zeros", "holes", "uneven")


def holes(axis: Axis) -> bool:
    """Whether some output phase gets no tap: taps ``j*d mod s`` reach only the multiples of
    ``g = gcd(d, s)``, and ``s/g`` distinct phases need ``k >= s/g`` taps.

    >>> holes(Axis(1, 1, 3)), holes(Axis(1, 3, 2, 2)), holes(Axis(1, 4, 2))
    (True, True, False)
    """
    common = gcd(axis.dilation, axis.stride)
    return common > 1 or axis.kernel_size < axis.stride


def even(axis: Axis) -> bool:
    """Whether every output phase gets as many taps (``overlap.even`` in closed form): no holes
    and the ``s`` phases share the ``k`` taps equally.

    >>> even(Axis(1, 4, 2)), even(Axis(1, 3, 2)), even(Axis(1, 16, 8))
    (True, False, True)
    """
    return not holes(axis) and axis.kernel_size % axis.stride == 0


def overlaps(axis: Axis) -> bool:
    """Whether some output position gets more than one tap (``k > s`` phases' worth).

    >>> overlaps(Axis(1, 2, 2)), overlaps(Axis(1, 4, 2))
    (False, True)
    """
    return axis.kernel_size * gcd(axis.dilation, axis.stride) > axis.stride


def marks(axes: Sequence[Axis], layers: Sequence[Layer]) -> tuple[str, ...]:
    """The marks of a setting that gives ``layers`` on ``axes``.

    >>> marks([Axis(8, 2, 1)], [Layer(1, 4, 4)]), marks([Axis(3, 3, 2)], [Layer(8, 0, -1)])
    (('discards',), ('zeros', 'uneven'))
    """
    pairs = list(zip(axes, layers, strict=True))
    found = {
        "discards": any(max(t.begin, t.end) >= a.extent for a, t in pairs),
        "zeros": any(min(t.begin, t.end) < 0 for a, t in pairs),
        "holes": any(holes(a) for a in axes),
        "uneven": not any(holes(a) for a in axes) and not all(even(a) for a in axes),
    }
    return tuple(mark for mark in MARKS if found[mark])
