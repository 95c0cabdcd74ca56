"""The exact set of input sizes for which a network builds and every join matches, per axis.

Every layer is floor-affine with a slope >= 0, so every size is a nondecreasing function of
``H``, and with ``M`` the least common denominator of every layer's slope (as a fraction of
``H``) it is exactly ``size(H + M) = size(H) + slope*M``: a term ``floor((a*x + b) / c)`` of
``x = A*m + B`` is affine in ``m`` when ``c`` divides ``a*A``. So:

* every layer's bounds hold together exactly for ``H >= T`` (monotone sizes: one threshold);
* a join whose inputs have equal slopes holds on a set of residues of ``H`` modulo ``M``, found
  by cutting ``[0, M)`` where the inputs' sizes change (a step function is constant between its
  steps, so an interval whose ends agree is decided at once): the work follows the number of
  steps that matter, not ``M``;
* a join whose inputs have different slopes holds at most once per residue class.

The valid set is periodic above a threshold, plus finitely many sizes below. Axes are
independent: each one is solved alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from math import lcm
from typing import TypeVar

from deconv_cli.core.net.graph import JOINS, Network, Node
from deconv_cli.core.net.sizes import check, joined, ones, size_map
from deconv_cli.core.net.valid import Valid
from deconv_cli.errors import DeconvError, ExitCode

K = TypeVar("K")
V = TypeVar("V")

# the longest period the solver takes (the residues it lists grow with it)
MAX_MODULUS = 10**5


def works(network: Network, axis: int, n: int) -> bool:
    """Whether the network builds with every join matching on ``axis`` at input size ``n``."""
    sizes: dict[str, int | None] = {}
    broadcast = ones(network, axis)
    for node in network.nodes:
        inputs = [sizes[name] for name in node.inputs] or [n]
        if None in inputs:
            return False
        if node.kind in JOINS:
            size = joined(node, inputs, broadcast)  # type: ignore[arg-type]
            if size is None:
                return False
            sizes[node.name] = size
        else:
            sizes[node.name] = size_map(node, axis)(inputs[0])  # type: ignore[arg-type]
    return None not in sizes.values()


def _raw(node: Node, axis: int, n: int) -> int:
    """The layer's size formula at ``n``, bounds aside (exact for any integer, so at residues)."""
    return min(term(n) for term in size_map(node, axis).terms)


@dataclass(frozen=True)
class Shape:
    """The network on one axis as the solver reads it: the input each layer's size follows (a
    join passes on the one named in ``follow``, else its first), every size's slope in ``H``,
    the period ``modulus`` and the ``threshold`` from which every layer builds (0: none does)."""

    network: Network
    axis: int
    source: dict[str, str]
    ones: frozenset[str]  # the sizes 1 at every H, which elementwise joins broadcast
    slopes: dict[str, Fraction]
    modulus: int
    threshold: int

    def sizes(self, n: int) -> dict[str, int]:
        """Every size at input ``n`` by the formulas alone."""
        out: dict[str, int] = {}
        for node in self.network.nodes:
            if not node.inputs:
                out[node.name] = n
            elif node.kind in JOINS:  # where the inputs fit; else a size that fails the join anyway
                fitted = joined(node, [out[name] for name in node.inputs], self.ones)
                out[node.name] = out[self.source[node.name]] if fitted is None else fitted
            else:
                out[node.name] = _raw(node, self.axis, out[node.inputs[0]])
        return out

    def builds(self, n: int) -> bool:
        """Whether every layer accepts its input at ``n`` (joins aside)."""
        sizes = self.sizes(n)
        return n >= 1 and all(
            sizes[node.inputs[0]] >= rule.min_in and sizes[node.name] >= rule.min_out
            for node in self.network.nodes
            if node.inputs and node.kind not in JOINS
            for rule in (size_map(node, self.axis),)
        )

    def period(self, names: Sequence[str]) -> int:
        """The period of the sizes of ``names``: the denominators of their ancestors' slopes."""
        parents = {node.name: node.inputs[:1] for node in self.network.nodes}
        parents.update({name: (first,) for name, first in self.source.items()})
        period, seen, stack = 1, set(), list(names)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                period = lcm(period, self.slopes[name].denominator)
                stack.extend(parents[name])
        return period


def shape(network: Network, axis: int, follow: dict[str, str] | None = None) -> Shape:
    """The network's ``Shape`` on ``axis``; refuses a period above ``MAX_MODULUS``."""
    check(network)
    source: dict[str, str] = {}
    broadcast = ones(network, axis)
    slopes: dict[str, Fraction] = {}
    constant: dict[str, int] = {}  # the sizes at H = 1: those of slope 0 at every H
    modulus = 1
    for node in network.nodes:
        if not node.inputs:
            slopes[node.name], constant[node.name] = Fraction(1), 1
        elif node.kind in JOINS:
            spread = [name for name in node.inputs if node.kind != "add" or name not in broadcast]
            source[node.name] = (follow or {}).get(node.name, (spread or node.inputs)[0])
            slopes[node.name] = slopes[source[node.name]]
            constant[node.name] = constant[source[node.name]]
        else:
            rule = size_map(node, axis)
            before, slope = slopes[node.inputs[0]], slopes[node.inputs[0]] * rule.terms[0].slope
            slopes[node.name], constant[node.name] = slope, _raw(node, axis, constant[node.inputs[0]])
            modulus = lcm(modulus, slope.denominator)
            if modulus > MAX_MODULUS:
                raise DeconvError(
                    f"the valid sizes repeat with a period above {MAX_MODULUS} (the strides multiply "
                    "to more); check one size with --in",
                    ExitCode.FAILURE,
                )
            # a size that no longer depends on H (after a resize) failing its bound fails for
            # every H: nothing builds, and the layers after it add no period
            if (before == 0 and constant[node.inputs[0]] < rule.min_in) or (
                slope == 0 and constant[node.name] < rule.min_out
            ):
                return Shape(network, axis, source, broadcast, slopes, modulus, 0)
    built = Shape(network, axis, source, broadcast, slopes, modulus, 0)
    # the bounds hold on an up-set of H (sizes are monotone): double, then bisect
    high = 1
    while not built.builds(high):
        high *= 2
    low = high // 2  # fails (or is 0)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if built.builds(middle) else (middle, high)
    return Shape(network, axis, source, broadcast, slopes, modulus, high)


def pieces(low: int, high: int, key: Callable[[int], K]) -> Iterator[tuple[int, int, K]]:
    """``[low, high)`` cut into the intervals where the nondecreasing ``key`` is constant, in
    order: an interval whose ends agree is one piece, others are halved."""
    stack = [(low, high, key(low), key(high - 1))]
    while stack:
        low, high, first, last = stack.pop()
        if first == last:
            yield low, high, first
            continue
        middle = (low + high) // 2
        stack += [(middle, high, key(middle), last), (low, middle, first, key(middle - 1))]


def _joins(form: Shape) -> list[tuple[str, str]]:
    """Each join's pairs of inputs that must match: its first against each other one, but for
    the inputs an elementwise join broadcasts (``sizes.ones``)."""
    pairs = []
    for node in form.network.nodes:
        if node.kind in JOINS:
            kept = [name for name in node.inputs if node.kind != "add" or name not in form.ones]
            pairs += [(kept[0], other) for other in kept[1:]]
    return pairs


def valid(network: Network, axis: int) -> Valid:
    """The exact set of input sizes on ``axis`` for which the network builds and every join matches.

    >>> from deconv_cli.core.net.graph import Node, SizeMap, Term
    >>> pool = SizeMap((Term(1, 0, 2),))
    >>> up = SizeMap.affine(2, 0)
    >>> net = Network((Node("x", "input", (), ()), Node("p", "max_pool", ("x",), (pool,)),
    ...     Node("u", "upsample", ("p",), (up,)), Node("c", "concat", ("x", "u"), ())), 1)
    >>> valid(net, 0)
    Valid(modulus=2, residues=(0,), start=2, also=())
    """
    form = shape(network, axis)
    if not form.threshold:
        return Valid(1, (), 1, ())
    pairs = _joins(form)
    if any(form.slopes[a] != form.slopes[b] for a, b in pairs):
        return Valid(1, (), 1, _points(form, pairs))
    # equal slopes: each join holds on a set of residues modulo its inputs' period; the sets
    # meet modulo the least common multiple of the periods, each join cut (where its sizes
    # step) only within what the joins before it left
    period, kept = 1, [(0, 1)]
    for a, b in pairs:
        both = lcm(period, form.period((a, b)))
        kept = [
            (start, end)
            for low, high in _repeat(kept, period, both)
            for start, end, (x, y) in pieces(low, high, partial(_pair, form, a, b))
            if x == y
        ]
        period = both
    return rays(period, kept, form.threshold)


def _pair(form: Shape, one: str, other: str, n: int) -> tuple[int, int]:
    sizes = form.sizes(n)
    return sizes[one], sizes[other]


def _repeat(intervals: list[tuple[int, int]], period: int, modulus: int) -> list[tuple[int, int]]:
    """Residue intervals modulo ``period`` as intervals modulo its multiple ``modulus``, merged."""
    out: list[tuple[int, int]] = []
    for low, high in (
        (low + shift, high + shift) for shift in range(0, modulus, period) for low, high in intervals
    ):
        if out and out[-1][1] == low:
            out[-1] = (out[-1][0], high)
        else:
            out.append((low, high))
    return out


def _points(form: Shape, pairs: list[tuple[str, str]]) -> tuple[int, ...]:
    """The sizes where joins of different slopes meet: at most one per residue class."""
    modulus, found = form.modulus, set()
    for residue in range(modulus):
        sizes = form.sizes(residue)
        fixed: set[int] = set()
        alive = True
        for one, other in pairs:
            a, c = int(form.slopes[one] * modulus), int(form.slopes[other] * modulus)
            b, d = sizes[one], sizes[other]
            if a == c:
                alive &= b == d
            elif (d - b) % (a - c) == 0:
                fixed.add((d - b) // (a - c))
            else:
                alive = False
        if alive and len(fixed) == 1:
            n = modulus * fixed.pop() + residue
            if n >= form.threshold and works(form.network, form.axis, n):
                found.add(n)
    return tuple(sorted(found))


def rays(modulus: int, residues: list[tuple[int, int]], threshold: int) -> Valid:
    """``H >= threshold`` with ``H mod modulus`` in the intervals ``residues``, as a ``Valid``
    in its shortest period (what ``H`` below ``threshold`` would break sets where it starts).

    >>> rays(8, [(0, 1), (4, 5)], 3)
    Valid(modulus=4, residues=(0,), start=4, also=())
    """
    merged: list[tuple[int, int]] = []
    for low, high in sorted(residues):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    if not merged:
        return Valid(1, (), 1, ())
    modulus, merged = _shortest(modulus, merged)
    # the last size of the periodic rule below the threshold (the rule gets it wrong), then the
    # first one from there
    n = threshold - 1
    quotient, rest = divmod(n, modulus)
    before = [quotient * modulus + min(rest, high - 1) for low, high in merged if low <= rest]
    last = before[-1] if before else (quotient - 1) * modulus + merged[-1][1] - 1
    n = max(last, 0) + 1
    quotient, rest = divmod(n, modulus)
    after = [quotient * modulus + max(rest, low) for low, high in merged if high > rest]
    start = after[0] if after else (quotient + 1) * modulus + merged[0][0]
    return Valid(modulus, tuple(r for low, high in merged for r in range(low, high)), start, ())


def _shortest(modulus: int, intervals: list[tuple[int, int]]) -> tuple[int, list[tuple[int, int]]]:
    """The smallest period of a set of residues (periods divide each other, so dividing out one
    prime factor at a time while every slice of the set is the same finds it)."""
    rest, prime, primes = modulus, 2, []
    while prime * prime <= rest:
        while rest % prime == 0:
            primes.append(prime)
            rest //= prime
        prime += 1
    primes += [rest] if rest > 1 else []
    for prime in primes:
        size = modulus // prime
        slices: list[list[tuple[int, int]]] = [[] for _ in range(prime)]
        for low, high in intervals:
            while low < high:
                index, end = low // size, min(high, (low // size + 1) * size)
                slices[index].append((low - index * size, end - index * size))
                low = end
        if all(part == slices[0] for part in slices):
            modulus, intervals = size, slices[0]
    return modulus, intervals


def by_class(
    form: Shape, names: Sequence[str], value: Callable[[tuple[int, ...]], V]
) -> tuple[int, list[tuple[int, int, V]]]:
    """``value`` of the sizes of ``names`` at each residue class's first size that builds, as
    intervals ``[low, high)`` of those first sizes, and the period they repeat in.

    The first sizes fill ``[T, T + M)``. The sizes of ``names`` repeat, shifted, with their own
    period ``P`` (a divisor of ``M``), and ``value`` is taken to change with such a shift only
    while the sizes are small (a framework's rule is ``s*n + c`` once the layer builds): so the
    second period and the last stand for every one after the first, and the work follows the
    steps of the sizes within one period, not ``M``.
    """
    modulus, start = form.modulus, form.threshold
    period = form.period(names)
    count = modulus // period

    def key(n: int) -> tuple[int, ...]:
        sizes = form.sizes(n)
        return tuple(sizes[name] for name in names)

    def window(index: int) -> list[tuple[int, int, V]]:
        """The values on the ``index``-th period, shifted back onto the first."""
        shift, out = index * period, list[tuple[int, int, V]]()
        for low, high, sizes in pieces(start + shift, start + shift + period, key):
            found = value(sizes)
            if out and out[-1][2] == found:
                out[-1] = (out[-1][0], high - shift, found)
            else:
                out.append((low - shift, high - shift, found))
        return out

    first = window(0)
    if count == 1:
        return modulus, first
    later = window(1)
    if later != window(count - 1):  # not settled by the second period: every period, exactly
        return modulus, [
            (low + k * period, high + k * period, v) for k in range(count) for low, high, v in window(k)
        ]
    if later == first:
        return period, first
    # the first period differs (small sizes), the rest repeats the second
    return modulus, first + [
        (low + k * period, high + k * period, v) for k in range(1, count) for low, high, v in later
    ]
