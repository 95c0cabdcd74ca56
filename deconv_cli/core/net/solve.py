"""The exact set of input sizes for which a network builds and every join matches, per axis.

Every layer is floor-affine, so on each residue class of ``H`` modulo ``M`` (``H = M*m + r``)
every size in the network is exactly affine in ``m`` once ``M`` is fine enough: a term
``floor((a*x + b) / c)`` of ``x = A*m + B`` is affine when ``c`` divides ``a*A``, and otherwise
the class splits into ``c / gcd(c, a*A)`` finer ones. A layer's bounds are then linear in ``m``
(a ray ``m >= m0``), and a join holds for every ``m`` or none (equal slopes) or at one ``m``
(different slopes). The valid set is periodic above a threshold, plus finitely many sizes below.
Axes are independent: each one is solved alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd, lcm

from deconv_cli.core.net.graph import JOINS, Network
from deconv_cli.core.net.sizes import check, size_map
from deconv_cli.core.net.valid import Valid
from deconv_cli.errors import DeconvError, ExitCode

# the finest residue classes the solver keeps (work and memory grow with it)
MAX_MODULUS = 10**5
# the most sizes listed below the periodic part
MAX_ALSO = 10**4


def works(network: Network, axis: int, n: int) -> bool:
    """Whether the network builds with every join matching on ``axis`` at input size ``n``."""
    sizes: dict[str, int | None] = {}
    for node in network.nodes:
        inputs = [sizes[name] for name in node.inputs] or [n]
        if None in inputs:
            return False
        if node.kind in JOINS:
            if len(set(inputs)) != 1:
                return False
            sizes[node.name] = inputs[0]
        else:
            sizes[node.name] = size_map(node, axis)(inputs[0])  # type: ignore[arg-type]
    return None not in sizes.values()


@dataclass
class Class:
    """Input sizes ``H = modulus*m + residue`` for ``m >= low``; each size is ``A*m + B``."""

    modulus: int
    residue: int
    low: int
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)

    def at(self, m: int) -> int:
        return self.modulus * m + self.residue

    def split(self, factor: int) -> list[Class]:
        """The ``factor`` finer classes ``m = factor*m' + j``."""
        modulus = self.modulus * factor
        if modulus > MAX_MODULUS:
            raise DeconvError(
                f"the valid sizes repeat with a period above {MAX_MODULUS} (the strides multiply to "
                "more); check one size with --in",
                ExitCode.FAILURE,
            )
        return [
            Class(
                modulus,
                self.residue + self.modulus * j,
                -((j - self.low) // factor),
                {name: (a * factor, a * j + b) for name, (a, b) in self.sizes.items()},
            )
            for j in range(factor)
        ]

    def at_least(self, size: tuple[int, int], bound: int) -> bool:
        """Narrow ``m`` to where ``A*m + B >= bound``; False when no ``m`` is left."""
        a, b = size
        if a == 0:
            return b >= bound
        self.low = max(self.low, -((b - bound) // a))
        return True


def classes(network: Network, axis: int, follow: dict[str, str] | None = None) -> list[Class]:
    """The residue classes on which every size is affine, joins not enforced (a join passes on
    its input named in ``follow``, else its first), each narrowed to the ``m`` where every layer
    accepts its input."""
    check(network)
    done: list[Class] = []
    first = Class(1, 0, 1)  # H >= 1
    stack: list[tuple[Class, int]] = [(first, 0)]
    nodes = network.nodes
    while stack:
        part, index = stack.pop()
        while index < len(nodes):
            node = nodes[index]
            x = part.sizes[node.inputs[0]] if node.inputs else (part.modulus, part.residue)
            if node.kind in JOINS:
                part.sizes[node.name] = part.sizes[(follow or {}).get(node.name, node.inputs[0])]
                index += 1
                continue
            rule = size_map(node, axis)
            a, b = x
            factor = 1
            for term in rule.terms:
                factor = lcm(factor, term.denominator // gcd(term.denominator, term.numerator * a))
            if factor > 1:
                stack.extend((finer, index) for finer in part.split(factor))
                break
            out = min(
                (
                    term.numerator * a // term.denominator,
                    (term.numerator * b + term.offset) // term.denominator,
                )
                for term in rule.terms
            )
            if not (part.at_least(x, rule.min_in) and part.at_least(out, rule.min_out)):
                break
            part.sizes[node.name] = out
            index += 1
        else:
            done.append(part)
    return sorted(done, key=lambda c: (c.modulus, c.residue))


def _periodic(values: set[int], modulus: int) -> tuple[int, tuple[int, ...]]:
    """The smallest period of a residue set modulo ``modulus`` (periods divide each other, so
    dividing out one prime factor at a time while the set keeps the period finds it)."""
    rest, prime, primes = modulus, 2, []
    while prime * prime <= rest:
        while rest % prime == 0:
            primes.append(prime)
            rest //= prime
        prime += 1
    primes += [rest] if rest > 1 else []
    for prime in primes:
        smaller = modulus // prime
        if all((r + smaller) % modulus in values for r in values):
            modulus, values = smaller, {r % smaller for r in values}
    return modulus, tuple(sorted(values))


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
    rays: list[Class] = []
    points: set[int] = set()
    joins = [node for node in network.nodes if node.kind in JOINS]
    for part in classes(network, axis):
        fixed: set[int] = set()
        alive = True
        for join in joins:
            (a, b), *others = (part.sizes[name] for name in join.inputs)
            for c, d in others:
                if a == c:
                    alive &= b == d
                elif (d - b) % (a - c) == 0:
                    fixed.add((d - b) // (a - c))
                else:
                    alive = False
        if not alive or any(m < part.low for m in fixed) or len(fixed) > 1:
            continue
        if fixed:
            n = part.at(fixed.pop())
            if n >= 1 and works(network, axis, n):
                points.add(n)
        else:
            rays.append(part)
    return combine(rays, points)


def combine(rays: list[Class], points: set[int]) -> Valid:
    if not rays:
        return Valid(1, (), 1, tuple(sorted(points)))
    modulus = 1
    for ray in rays:
        modulus = lcm(modulus, ray.modulus)
    if modulus > MAX_MODULUS:
        raise DeconvError(
            f"the valid sizes repeat with a period above {MAX_MODULUS}; check one size with --in",
            ExitCode.FAILURE,
        )
    residues = {ray.residue + ray.modulus * j for ray in rays for j in range(modulus // ray.modulus)}
    modulus, kept = _periodic(residues, modulus)
    # the last size the periodic rule gets wrong: a class's sizes below its start, or a lone point
    misses = [ray.at(ray.low - 1) for ray in rays if ray.low >= 1]
    threshold = max([0, *misses, *points]) + 1
    start = Valid(modulus, kept, threshold, ()).first(1, threshold)[0]
    early = {n for n in points if n < start}
    for ray in rays:
        first = ray.at(max(ray.low, 0))
        if first < start:
            count = (start - first + ray.modulus - 1) // ray.modulus
            if len(early) + count > MAX_ALSO:
                raise DeconvError(
                    f"more than {MAX_ALSO} sizes work below the periodic part; check sizes with --in A..B",
                    ExitCode.FAILURE,
                )
            early.update(range(first, start, ray.modulus))
    return Valid(modulus, kept, start, tuple(sorted(n for n in early if n >= 1)))
