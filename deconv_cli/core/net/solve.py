"""Sizes through a network: at one input size, and the exact set of input sizes that work.

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

from deconv_cli.core.net.graph import IDENTITY, JOINS, Network, Node, SizeMap
from deconv_cli.errors import DeconvError, ExitCode

# the finest residue classes the solver keeps (work and memory grow with it)
MAX_MODULUS = 10**5
# the most sizes listed below the periodic part
MAX_ALSO = 10**4
AXIS_NAMES = {1: ("H",), 2: ("H", "W"), 3: ("D", "H", "W")}


def check(network: Network) -> None:
    """Refuse a network the solver cannot read: names, order, inputs, joins, ranks."""
    seen: set[str] = set()
    if not network.nodes or network.nodes[0].kind != "input":
        raise DeconvError("a network starts with its input layer")
    for index, node in enumerate(network.nodes):
        if node.name in seen:
            raise DeconvError(f"layer name {node.name!r} is used twice; give each layer its own name")
        missing = [name for name in node.inputs if name not in seen]
        if missing:
            raise DeconvError(f"layer {node.name!r} reads {missing[0]!r}, which no earlier layer defines")
        seen.add(node.name)
        if index and node.kind == "input":
            raise DeconvError(f"layer {node.name!r}: a network has one input (the first layer)")
        if node.kind in JOINS:
            if len(node.inputs) < 2:
                raise DeconvError(
                    f"{node.kind} {node.name!r} needs two or more inputs (got {len(node.inputs)})"
                )
        elif index and len(node.inputs) != 1:
            raise DeconvError(f"layer {node.name!r} ({node.kind}) reads one input (got {len(node.inputs)})")
        if node.kind not in JOINS and node.axes and len(node.axes) != network.rank:
            raise DeconvError(
                f"layer {node.name!r} has {len(node.axes)} spatial axes but the network has {network.rank}"
            )


def size_map(node: Node, axis: int) -> SizeMap:
    """The node's map on ``axis``: the identity for inputs and layers given without one."""
    return node.axes[axis] if node.axes else IDENTITY


# ---- one input size ----------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSizes:
    """A layer's output size per axis (None: not computed), and whether it refused its input."""

    name: str
    op: str
    inputs: tuple[str, ...]
    sizes: tuple[int | None, ...]
    refused: bool = False


@dataclass(frozen=True)
class JoinSizes:
    """A join: the size per axis of each of its inputs, and whether they all match."""

    name: str
    op: str
    inputs: tuple[str, ...]
    sizes: tuple[tuple[int | None, ...], ...]
    match: bool


@dataclass(frozen=True)
class Evaluation:
    """The whole network at one input size; ``ok`` when every layer builds and every join matches."""

    size: tuple[int, ...]
    layers: tuple[LayerSizes, ...]
    joins: tuple[JoinSizes, ...]
    ok: bool

    def layer(self, name: str) -> LayerSizes:
        return next(layer for layer in self.layers if layer.name == name)


def evaluate(network: Network, size: tuple[int, ...]) -> Evaluation:
    """Every layer's size per axis at input ``size`` (one value per axis).

    A join passes its first input's size on; a layer after a failure has no size.
    """
    check(network)
    if len(size) != network.rank:
        raise DeconvError(f"--in has {len(size)} sizes but the network has {network.rank} spatial axes")
    sizes: dict[str, tuple[int | None, ...]] = {}
    layers, joins = [], []
    ok = True
    for node in network.nodes:
        inputs = [sizes[name] for name in node.inputs] or [size]
        refused = False
        if node.kind in JOINS:
            match = all(None not in s for s in inputs) and len(set(inputs)) == 1
            joins.append(JoinSizes(node.name, node.kind, node.inputs, tuple(inputs), match))
            out = inputs[0] if match else tuple(None for _ in size)
            ok &= match
        else:
            out = tuple(None if n is None else size_map(node, axis)(n) for axis, n in enumerate(inputs[0]))
            refused = any(o is None and n is not None for o, n in zip(out, inputs[0], strict=True))
            ok &= not refused
        sizes[node.name] = out
        layers.append(LayerSizes(node.name, node.kind, node.inputs, out, refused))
    return Evaluation(size, tuple(layers), tuple(joins), ok)


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


# ---- every input size ----------------------------------------------------------------------


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


@dataclass(frozen=True)
class Valid:
    """``H`` works exactly when ``H >= start`` and ``H % modulus in residues``, or ``H in also``."""

    modulus: int
    residues: tuple[int, ...]
    start: int
    also: tuple[int, ...]

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        return n in self.also or (n >= self.start and n % self.modulus in self.residues)

    def json(self) -> dict[str, object]:
        return {
            "modulus": self.modulus,
            "residues": list(self.residues),
            "from": self.start,
            "also": list(self.also),
        }

    def first(self, count: int, start: int = 1) -> list[int]:
        """The first ``count`` valid sizes from ``start`` on."""
        found = [n for n in self.also if n >= start][:count]
        if not self.residues:
            return found
        n = max(start, self.start)
        while len(found) < count:
            base = n - n % self.modulus
            found.extend(base + r for r in self.residues if base + r >= n)
            n = base + self.modulus
        return sorted(found)[:count]

    def below(self, n: int) -> int | None:
        """The largest valid size <= ``n``."""
        if self.residues and n >= self.start:
            base = n - n % self.modulus
            last = max(
                [base + r for r in self.residues if base + r <= n]
                or [base - self.modulus + self.residues[-1]]
            )
            if last >= self.start:
                return last  # every size in ``also`` is below ``start``
        return max((a for a in self.also if a <= n), default=None)

    def above(self, n: int) -> int | None:
        """The smallest valid size >= ``n``."""
        found = self.first(1, n)
        return found[0] if found else None

    def within(self, low: int, high: int, limit: int) -> list[int]:
        """The valid sizes in ``[low, high]``, at most ``limit`` of them."""
        return [n for n in self.first(limit, low) if n <= high]


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


def sentence(valid: Valid, name: str = "H") -> str:
    """The valid set in words.

    >>> sentence(Valid(16, (0,), 32, ()))
    'H = 16m for m >= 2 (32, 48, 64, ...)'
    >>> sentence(Valid(4, (1, 3), 5, (2,)))
    'H >= 5 with H mod 4 in {1, 3} (5, 7, 9, ...); also H = 2'
    """
    also = ""
    if valid.also:
        shown = ", ".join(map(str, valid.also[:10]))
        more = f" and {len(valid.also) - 10} more" if len(valid.also) > 10 else ""
        also = f"{name} = {shown}{more}"
    if not valid.residues:
        return f"only {also}" if also else f"no {name} works"
    examples = ", ".join(map(str, valid.first(3, valid.start))) + ", ..."
    m, r = valid.modulus, valid.residues
    if m == 1:
        rule = f"every {name} >= {valid.start}"
    elif len(r) == 1:
        offset = f" + {r[0]}" if r[0] else ""
        rule = f"{name} = {m}m{offset} for m >= {valid.start // m}"
    else:
        listed = _runs(r) if len(r) <= 12 else f"{len(r)} of {m} residues (see --json)"
        rule = f"{name} >= {valid.start} with {name} mod {m} in {{{listed}}}"
    return f"{rule} ({examples})" + (f"; also {also}" if also else "")


def _runs(values: tuple[int, ...]) -> str:
    """``0, 1, 2, 3, 5`` as ``0..3, 5``.

    >>> _runs((0, 1, 2, 3, 5, 7, 8))
    '0..3, 5, 7, 8'
    """
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ", ".join(f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs)
