"""Where a network breaks and the smallest fixes (the mirror rule is ``mirror``).

A join breaks when the decoder's upsampling (a conv_transpose, an upsample) does not give back
the size its encoder tensor had: the fixes are that layer's output_padding (or output_size=)
in its framework's terms, the nearest input sizes that work (pad up or crop down, as nnU-Net's
pad_shape does), or a crop / pad at the join.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.core.net import solve
from deconv_cli.core.net.graph import JOINS, Network, Node, Transposed
from deconv_cli.core.net.sizes import Evaluation, size_map
from deconv_cli.core.net.valid import AXIS_NAMES, Valid
from deconv_cli.errors import DeconvError

UP = ("conv_transpose", "upsample", "resize")
# how far from its size a conv_transpose's output is searched when layers follow it before the join
SEARCH = 64


@dataclass(frozen=True)
class Break:
    """A join whose inputs differ (or a layer that refuses its input), what caused it, the fixes."""

    at: str
    cause: str | None
    problem: str
    fixes: tuple[str, ...]
    because: tuple[str, ...] = ()


def _node(network: Network, name: str) -> Node:
    return next(node for node in network.nodes if node.name == name)


def upstream(network: Network, name: str) -> tuple[Node | None, tuple[Node, ...]]:
    """The nearest upsampling layer that feeds ``name`` through single-input layers, and the
    layers between it and ``name`` (in order), or None when a join or the input comes first."""
    between: list[Node] = []
    node = _node(network, name)
    while node.kind not in UP:
        if node.kind in JOINS or not node.inputs:
            return None, ()
        between.insert(0, node)
        node = _node(network, node.inputs[0])
    return node, tuple(between)


def transposed_of(node: Node) -> tuple[Transposed, ...]:
    """A conv_transpose's parameters per axis: as its reader typed them, or from its params as
    Keras (``kernel_size``, ``strides``, ``padding``, ``dilation_rate``, ``output_padding``) and
    ONNX (``kernel_shape``, ``strides``, ``pads``, ``auto_pad``, ``dilations``) write them;
    () when they cannot be read.

    >>> from deconv_cli.core.net.graph import IDENTITY
    >>> params = (("kernel_shape", "[3]"), ("strides", "[2]"), ("pads", "[1, 0]"))
    >>> [(t.kernel_size, t.stride, str(t.padding), t.output_padding)
    ...  for t in transposed_of(Node("u", "conv_transpose", ("x",), (IDENTITY,), params, "onnx"))]
    [(3, 2, '1:0', 0)]
    """
    if node.transposed or node.kind != "conv_transpose":
        return node.transposed
    rank = len(node.axes)
    params = {key: value.strip().strip('"').lower() for key, value in node.params}

    def ints(keys: tuple[str, ...], default: int | None, count: int = rank) -> list[int | None]:
        for key in keys:
            if key in params and params[key] not in ("null", "none"):
                values = [int(v) for v in re.findall(r"-?\d+", params[key])]
                if len(values) == 1:
                    values *= count
                if len(values) != count:
                    raise ValueError(key)
                return list(values)
        return [default] * count

    try:
        kernel = ints(("kernel_size", "kernel_shape"), None)
        strides = ints(("strides", "stride"), 1)
        dilations = ints(("dilation_rate", "dilations", "dilation"), 1)
        extra = ints(("output_padding",), 0 if node.framework == "onnx" else None)
        mode = {"same_upper": "same", "same": "same", "same_lower": "same_lower", "valid": "valid"}.get(
            params.get("auto_pad", params.get("padding", "")), ""
        )
        pads = ints(("pads",), 0, 2 * rank) if not mode else []
    except ValueError:
        return ()
    if None in kernel:
        return ()
    paddings = [
        Padding(mode) if mode else Padding.explicit(pads[a] or 0, pads[a + rank] or 0)  # type: ignore[arg-type]
        for a in range(rank)
    ]
    return tuple(
        Transposed(kernel[a] or 1, strides[a] or 1, dilations[a] or 1, paddings[a], extra[a])
        for a in range(rank)
    )


def _through(between: tuple[Node, ...], axis: int, n: int | None) -> int | None:
    for node in between:
        n = None if n is None else size_map(node, axis)(n)
    return n


def reach(framework: str, transposed: Transposed, n: int, target: int) -> str | None:
    """The parameter that makes a conv_transpose give ``target`` from ``n``, in the framework's
    own terms, or None when it cannot.

    >>> reach("torch", Transposed(3, 2, 1, output_padding=None), 4, 10)
    'output_padding=1'
    """
    rules = FRAMEWORKS[framework]
    axis = Axis(n, transposed.kernel_size, transposed.stride, transposed.dilation)

    def gives(options: Options) -> bool:
        try:
            return rules.resolve(axis, options).output == target
        except DeconvError:
            return False

    if framework in ("torch", "onnx", "keras"):
        if framework == "keras" and gives(Options(transposed.padding)):
            return "output_padding=None"  # Keras: omitted differs from 0
        try:
            base = rules.resolve(axis, Options(transposed.padding, 0)).output
        except DeconvError:
            return None
        if target >= base and gives(Options(transposed.padding, target - base)):
            return f"output_padding={target - base}"
    if framework in ("tf", "onnx") and gives(Options(transposed.padding, output_shape=target)):
        return f"output_shape={target}"
    return None


def breaks(network: Network, evaluation: Evaluation) -> tuple[Break, ...]:
    """Every broken join and refusing layer at ``evaluation``'s input size, with its fixes."""
    names = AXIS_NAMES[network.rank]
    found = []
    try:
        valid = tuple(solve.valid(network, axis) for axis in range(network.rank))
        inputs = _input_fix(evaluation.size, valid, names)
    except DeconvError as error:  # a period too long to solve: the other fixes still hold
        inputs = (f"no nearest input size: {str(error).partition(';')[0]}",)
    for layer in evaluation.layers:
        if layer.refused:
            node = _node(network, layer.name)
            source = evaluation.layer(node.inputs[0]).sizes if node.inputs else evaluation.size
            axes = [
                f"{names[axis]} {n}"
                for axis, n in enumerate(source)
                if n is not None and layer.sizes[axis] is None
            ]
            problem = f"{layer.name} ({layer.op}) refuses its input: {', '.join(axes)} is too small"
            found.append(Break(layer.name, layer.name, problem, inputs))
    for join in evaluation.joins:
        if join.match or any(None in sizes for sizes in join.sizes):
            continue
        found.append(_join_break(network, evaluation, join.name, inputs, names))
    return tuple(found)


def _input_fix(size: tuple[int, ...], valid: tuple[Valid, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    up = [v.above(n) for v, n in zip(valid, size, strict=True)]
    down = [v.below(n) for v, n in zip(valid, size, strict=True)]
    if None in up and None in down:
        return ("no input size works: see deconv net without --in",)
    parts = []
    if None not in up:
        parts.append(f"pad the input up to {_sizes(up)}")  # type: ignore[arg-type]
    if None not in down:
        parts.append(f"crop it down to {_sizes(down)}")  # type: ignore[arg-type]
    return (" or ".join(parts),)


def _sizes(values: list[int]) -> str:
    return " x ".join(map(str, values))


def _join_break(
    network: Network, evaluation: Evaluation, name: str, inputs: tuple[str, ...], names: tuple[str, ...]
) -> Break:
    join = next(j for j in evaluation.joins if j.name == name)
    up: Node | None = None
    between: tuple[Node, ...] = ()
    skip, index = join.inputs[0], 0
    for position, source in enumerate(join.inputs):
        found, path = upstream(network, source)
        if found is not None:
            up, between, index = found, path, position
            skip = join.inputs[1 if position == 0 else 0]
            break
    ours = join.sizes[index]
    theirs = join.sizes[join.inputs.index(skip)]
    sides = ", ".join(
        f"{names[axis]} {a} vs {b}" for axis, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b
    )
    problem = f"{join.name} ({join.op}) joins {join.inputs[index]} and {skip}: {sides}"
    fixes = []
    if up is not None and up.kind == "conv_transpose" and transposed_of(up) and up.framework:
        fix = _transposed_fix(up, between, evaluation, theirs)
        if fix:
            fixes.append(fix)
    fixes.extend(inputs)
    mine = join.inputs[index]
    changes = []
    for axis, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        if a is not None and b is not None and a != b:
            small, large = (mine, skip) if a < b else (skip, mine)
            diff = abs(a - b)
            changes.append(
                f"crop {large} by {diff} on {names[axis]} ({max(a, b)} -> {min(a, b)}) "
                f"or pad {small} by {diff} ({min(a, b)} -> {max(a, b)})"
            )
    fixes.append("at the join: " + "; ".join(changes))
    cause = up.name if up is not None else None
    because = _rounding(network, evaluation, skip, join.inputs[index], names)
    return Break(join.name, cause, problem, tuple(fixes), because)


def _rounding(
    network: Network, evaluation: Evaluation, skip: str, decoder: str, names: tuple[str, ...]
) -> tuple[str, ...]:
    """The downsampling layers between the skip and the decoder side that rounded a size: where
    the size the decoder restores was lost."""
    parents = {node.name: node.inputs for node in network.nodes}
    ancestors, stack = set(), [decoder]
    while stack:
        name = stack.pop()
        if name not in ancestors:
            ancestors.add(name)
            stack.extend(parents[name])
    after, found = {skip}, []
    for node in network.nodes:
        if node.name == skip or not any(name in after for name in node.inputs):
            continue
        after.add(node.name)
        if node.name not in ancestors or node.kind in JOINS or not node.axes:
            continue
        source = evaluation.layer(node.inputs[0]).sizes
        sizes = evaluation.layer(node.name).sizes
        for axis, (n, out) in enumerate(zip(source, sizes, strict=True)):
            slope = node.axes[axis].terms[0].slope
            if n is None or out is None or slope >= 1 or (n * slope).denominator == 1:
                continue
            step = (n * slope).denominator
            found.append(f"{node.name} takes {names[axis]} {n} to {out}: {n} is not a multiple of {step}")
    return tuple(found)


def _transposed_fix(
    up: Node, between: tuple[Node, ...], evaluation: Evaluation, target: tuple[int | None, ...]
) -> str | None:
    """The conv_transpose's parameter per axis that makes the join match, if its framework has one."""
    n = evaluation.layer(up.inputs[0]).sizes
    out = evaluation.layer(up.name).sizes
    settings = []
    for axis, transposed in enumerate(transposed_of(up)):
        size, current, wanted = n[axis], out[axis], target[axis]
        if size is None or current is None or wanted is None:
            return None
        if _through(between, axis, current) == wanted:
            settings.append(reach(up.framework or "", transposed, size, current))
            continue
        # the layers between are monotone: the sizes that reach ``wanted`` lie near ``current``
        reachable = [
            t
            for t in range(max(1, current - SEARCH), current + SEARCH + 1)
            if _through(between, axis, t) == wanted
        ]
        options = [reach(up.framework or "", transposed, size, t) for t in reachable]
        settings.append(next((o for o in options if o), None))
    if None in settings:
        return None
    return f"set {_per_axis(settings)} on {up.name} ({up.framework})"  # type: ignore[arg-type]


def _per_axis(settings: list[str]) -> str:
    """``output_padding=1`` on every axis, or ``output_padding=(1, 0)``."""
    keys = {setting.split("=")[0] for setting in settings}
    if len(set(settings)) == 1 or len(keys) != 1:
        return settings[0] if len(set(settings)) == 1 else ", ".join(settings)
    key = keys.pop()
    return f"{key}=({', '.join(setting.split('=')[1] for setting in settings)})"
