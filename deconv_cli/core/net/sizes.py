"""Sizes through a network at one input size: every layer's size per axis, every join's inputs.

Also the checks every network passes before it is evaluated or solved: unique names, inputs
defined before they are read, one input first, joins with two inputs or more, one map per axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deconv_cli.core.net.graph import IDENTITY, JOINS, Network, Node, SizeMap
from deconv_cli.errors import DeconvError


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


def ones(network: Network, axis: int) -> frozenset[str]:
    """The layers whose size on ``axis`` is 1 at every input size (a global pool, a resize to 1,
    and what keeps that size after them): an elementwise join (``add``: Add, Mul, ...)
    broadcasts them, as every framework does (a squeeze-and-excitation block)."""
    found: set[str] = set()
    for node in network.nodes:
        if node.kind in JOINS:
            if all(name in found for name in node.inputs):
                found.add(node.name)
        elif node.inputs:
            rule = size_map(node, axis)
            if (
                rule(1) == 1
                if node.inputs[0] in found
                else any(t.numerator == 0 and t(0) == 1 for t in rule.terms)
            ):
                found.add(node.name)
    return frozenset(found)


def joined(node: Node, sizes: Sequence[int], broadcast: frozenset[str]) -> int | None:
    """A join's size on one axis, None when its inputs do not fit: equal, but for the inputs an
    elementwise join broadcasts (``ones``)."""
    kept = {
        s for name, s in zip(node.inputs, sizes, strict=True) if node.kind != "add" or name not in broadcast
    }
    if len(kept) > 1:
        return None
    return kept.pop() if kept else min(sizes)


def evaluate(network: Network, size: tuple[int, ...]) -> Evaluation:
    """Every layer's size per axis at input ``size`` (one value per axis).

    A join passes its first input's size on; a layer after a failure has no size.
    """
    check(network)
    if len(size) != network.rank:
        raise DeconvError(f"--in has {len(size)} sizes but the network has {network.rank} spatial axes")
    sizes: dict[str, tuple[int | None, ...]] = {}
    broadcast = [ones(network, axis) for axis in range(network.rank)]
    layers, joins = [], []
    ok = True
    for node in network.nodes:
        inputs = [sizes[name] for name in node.inputs] or [size]
        refused = False
        if node.kind in JOINS:
            fitted = [
                joined(node, axis, broadcast[a])
                for a, axis in enumerate(zip(*inputs, strict=True))
                if None not in axis
            ]
            match = len(fitted) == len(size) and None not in fitted
            joins.append(JoinSizes(node.name, node.kind, node.inputs, tuple(inputs), match))
            out = tuple(fitted) if match else tuple(None for _ in size)
            ok &= match
        else:
            out = tuple(None if n is None else size_map(node, axis)(n) for axis, n in enumerate(inputs[0]))
            refused = any(o is None and n is not None for o, n in zip(out, inputs[0], strict=True))
            ok &= not refused
        sizes[node.name] = out
        layers.append(LayerSizes(node.name, node.kind, node.inputs, out, refused))
    return Evaluation(size, tuple(layers), tuple(joins), ok)
