"""The golden networks, each described once, and what deconv makes of them (no framework needed).

``make_nets.py`` turns every ``Net`` into PyTorch and Keras models and records, for every input size
on an axis, how far each framework gets and the size of every layer; ``tests/test_net_golden.py``
builds deconv's ``Network`` from the same description (``network``) and compares.

A layer is ``(name, op, inputs, params)``. ``op`` is one of conv, max, avg, convT, up, resize,
pad, crop, concat, add, act (shape-neutral). A parameter value is either one value for every
framework or a dict ``{framework: value}``, and either one value for every axis or a list with one
value per axis; a ``(begin, end)`` tuple is one value. Parameters: ``k`` (kernel_size), ``s``
(stride), ``d`` (dilation), ``pad`` (padding: torch int, keras 'same' / 'valid'), ``ceil``
(ceil_mode), ``op`` (output_padding), ``scale``, ``size``, ``b`` / ``e`` (pad or crop begin / end).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from deconv_cli.core.net import layers
from deconv_cli.core.net.graph import Network, Node

Layer = tuple[str, str, tuple[str, ...], dict[str, Any]]

KIND = {
    "conv": "conv",
    "max": "max_pool",
    "avg": "avg_pool",
    "convT": "conv_transpose",
    "up": "upsample",
    "resize": "resize",
    "pad": "pad",
    "crop": "crop",
    "concat": "concat",
    "add": "add",
    "act": "identity",
}


@dataclass(frozen=True)
class Net:
    name: str
    rank: int
    layers: tuple[Layer, ...]
    frameworks: tuple[str, ...] = ("torch", "keras")
    axes: tuple[int, ...] = (0,)  # the axes whose sizes are swept (the others held fixed)
    hmax: int = 300
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def value(params: dict[str, Any], key: str, framework: str, axis: int, default: Any = None) -> Any:
    """One parameter for one framework and axis."""
    item = params.get(key, default)
    if isinstance(item, dict):
        item = item.get(framework, default)
    if isinstance(item, list):
        item = item[axis]
    return item


def per_axis(params: dict[str, Any], key: str, framework: str, rank: int, default: Any = None) -> list[Any]:
    return [value(params, key, framework, axis, default) for axis in range(rank)]


def size_map(op: str, params: dict[str, Any], framework: str, axis: int) -> layers.SizeMap:
    def get(key: str, default: Any = None) -> Any:
        return value(params, key, framework, axis, default)

    if op == "conv":
        return layers.conv(framework, get("k"), get("s", 1), get("d", 1), get("pad", 0))
    if op in ("max", "avg"):
        return layers.pool(framework, get("k"), get("s"), get("d", 1), get("pad", 0), get("ceil", False))
    if op == "convT":
        return layers.conv_transpose(framework, get("k"), get("s", 1), get("d", 1), get("pad", 0), get("op"))
    if op == "up":
        return layers.upsample(framework, get("scale"))
    if op == "resize":
        return layers.resize(get("size"))
    if op == "pad":
        return layers.pad(get("b"), get("e"))
    if op == "crop":
        return layers.crop(get("b"), get("e"))
    raise ValueError(f"no size map for {op}")


def network(net: Net, framework: str) -> Network:
    """deconv's model of ``net`` in ``framework``'s conventions, through core.net.layers."""
    nodes = [Node("x", "input", (), ())]
    for name, op, inputs, params in net.layers:
        axes = ()
        if op not in ("concat", "add", "act"):
            axes = tuple(size_map(op, params, framework, axis) for axis in range(net.rank))
        shown = tuple((key, str(value(params, key, framework, 0))) for key in sorted(params))
        nodes.append(Node(name, KIND[op], inputs, axes, shown, framework))
    return Network(tuple(nodes), net.rank)


def run(network: Network, axis: int, n: int) -> tuple[dict[str, int], str | None]:
    """Each layer's size on ``axis`` at input size ``n`` up to the first layer that fails (its name
    is the second value, None when the whole network works). A join fails on unequal sizes."""
    sizes: dict[str, int] = {network.nodes[0].name: n}
    for node in network.nodes[1:]:
        inputs = [sizes[name] for name in node.inputs]
        if node.kind in ("concat", "add"):
            if len(set(inputs)) != 1:
                return sizes, node.name
            out: int | None = inputs[0]
        else:
            out = node.axes[axis](inputs[0]) if node.axes else inputs[0]
        if out is None:
            return sizes, node.name
        sizes[node.name] = out
    return sizes, None


# ---- the networks ------------------------------------------------------------------------------

BOTH = {"torch": 1, "keras": "same"}  # a stride-1 conv keeping the size: k=3, torch padding 1


def unet(
    depth: int,
    conv: dict[str, Any] | None = None,
    down: tuple[str, dict[str, Any]] = ("max", {"k": 2}),
    up: tuple[str, dict[str, Any]] = ("convT", {"k": 2, "s": 2}),
    convs: int = 2,
    join: str = "concat",
    crops: list[tuple[int, int]] | None = None,
    after_up: dict[str, Any] | None = None,
) -> tuple[Layer, ...]:
    """An encoder-decoder with ``depth`` downsamplings and a skip join at every level."""
    conv = conv or {"k": 3, "pad": BOTH}
    out: list[Layer] = []
    last = "x"

    def add(name: str, op: str, inputs: tuple[str, ...], params: dict[str, Any]) -> str:
        out.append((name, op, inputs, params))
        return name

    skips = []
    for level in range(depth):
        for i in range(convs):
            last = add(f"enc{level}_{i}", "conv", (last,), conv)
        skips.append(last)
        last = add(f"down{level}", down[0], (last,), down[1])
    for i in range(convs):
        last = add(f"mid_{i}", "conv", (last,), conv)
    for level in reversed(range(depth)):
        last = add(f"up{level}", up[0], (last,), up[1])
        if after_up is not None:
            last = add(f"up{level}_conv", "conv", (last,), after_up)
        skip = skips[level]
        if crops is not None:
            b, e = crops[level]
            skip = add(f"crop{level}", "crop", (skip,), {"b": b, "e": e})
        last = add(f"join{level}", join, (skip, last), {})
        for i in range(convs):
            last = add(f"dec{level}_{i}", "conv", (last,), conv)
    return tuple(out)


def after(first: Layer, layers_: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """``first``, then ``layers_`` reading its output instead of the network input."""
    moved = tuple((n, o, tuple(first[0] if i == "x" else i for i in ins), p) for n, o, ins, p in layers_)
    return (first, *moved)


def stack(*layers_: tuple[str, dict[str, Any]]) -> tuple[Layer, ...]:
    """A chain without joins."""
    out: list[Layer] = []
    last = "x"
    for index, (op, params) in enumerate(layers_):
        name = f"{op}{index}"
        out.append((name, op, (last,), params))
        last = name
    return tuple(out)


TORCH = ("torch",)
UP = ("up", {"scale": 2})
CONVT_K4 = ("convT", {"k": 4, "s": 2, "pad": {"torch": 1, "keras": "same"}})
STRIDED = ("conv", {"k": 3, "s": 2, "pad": {"torch": 1, "keras": "same"}})
STRIDED_K4 = ("conv", {"k": 4, "s": 2, "pad": {"torch": 1, "keras": "same"}})


def _melgan_res(index: int, last: str, dilation: int) -> tuple[list[Layer], str]:
    name = f"res{index}"
    conv = (
        f"{name}_conv",
        "conv",
        (last,),
        {"k": 3, "d": dilation, "pad": {"torch": dilation, "keras": "same"}},
    )
    return [
        conv,
        (f"{name}_act", "act", (conv[0],), {}),
        (f"{name}_add", "add", (last, f"{name}_act"), {}),
    ], (f"{name}_add")


def melgan(strides: tuple[int, ...]) -> tuple[Layer, ...]:
    """A MelGAN / HiFi-GAN style 1-D generator: kernel 2s, stride s up-stacks with dilated residuals."""
    out: list[Layer] = [("pre", "conv", ("x",), {"k": 7, "pad": {"torch": 3, "keras": "same"}})]
    last = "pre"
    for index, s in enumerate(strides):
        params = {
            "k": 2 * s,
            "s": s,
            "pad": {"torch": s // 2 + s % 2, "keras": "same"},
            "op": {"torch": s % 2, "keras": None},
        }
        out.append((f"upT{index}", "convT", (last,), params))
        last = f"upT{index}"
        for r, dilation in enumerate((1, 3, 9)):
            block, last = _melgan_res(10 * index + r, last, dilation)
            out.extend(block)
    return tuple(out)


NETS: tuple[Net, ...] = (
    Net("unet2_pool_convT", 1, unet(2)),
    Net("unet3_pool_convT", 1, unet(3)),
    Net("unet4_pool_convT", 1, unet(4)),
    Net("unet5_pool_convT", 1, unet(5), hmax=300),
    Net("unet3_avgpool_convT", 1, unet(3, down=("avg", {"k": 2}))),
    Net("unet3_pool_upsample", 1, unet(3, up=UP)),
    Net("unet4_pool_upsample_conv", 1, unet(4, up=UP, after_up={"k": 3, "pad": BOTH})),
    Net("unet3_strided_convT4", 1, unet(3, down=STRIDED, up=CONVT_K4)),
    Net("unet4_strided4_convT4", 1, unet(4, down=STRIDED_K4, up=CONVT_K4, convs=1)),
    Net("unet3_strided_upsample", 1, unet(3, down=STRIDED, up=UP)),
    Net(
        "unet2_valid_crop",
        1,
        unet(2, conv={"k": 3, "pad": {"torch": 0, "keras": "valid"}}, crops=[(16, 16), (4, 4)]),
        notes="the original U-Net: valid convolutions, skips cropped by a constant",
    ),
    Net(
        "unet3_valid_crop",
        1,
        unet(3, conv={"k": 3, "pad": {"torch": 0, "keras": "valid"}}, crops=[(40, 40), (16, 16), (4, 4)]),
    ),
    Net("unet3_k5", 1, unet(3, conv={"k": 5, "pad": {"torch": 2, "keras": "same"}})),
    Net(
        "unet3_k7_pool3",
        1,
        unet(
            3,
            conv={"k": 7, "pad": {"torch": 3, "keras": "same"}},
            down=("max", {"k": 3}),
            up=("convT", {"k": 3, "s": 3}),
        ),
    ),
    Net("unet3_dilated", 1, unet(3, conv={"k": 3, "d": 2, "pad": {"torch": 2, "keras": "same"}})),
    Net("unet3_ceil_mode", 1, unet(3, down=("max", {"k": 2, "ceil": True})), frameworks=TORCH),
    Net(
        "unet3_pool_same",
        1,
        unet(3, down=("max", {"k": 2, "pad": {"keras": "same"}})),
        frameworks=("keras",),
        notes="Keras 'same' pooling, the ceil_mode of Keras",
    ),
    Net(
        "unet3_pool3_s2_p1_ceil",
        1,
        unet(
            3,
            down=("max", {"k": 3, "s": 2, "pad": 1, "ceil": True}),
            up=("convT", {"k": 3, "s": 2, "pad": 1}),
        ),
        notes="odd sizes: ceil_mode pooling gives (n+1)/2 and the 2m-1 transposed conv gives n back",
        frameworks=TORCH,
    ),
    Net(
        "unet3_pool3_s2_same",
        1,
        unet(3, down=("max", {"k": 3, "s": 2, "pad": "same"}), up=("convT", {"k": 3, "s": 2, "pad": "same"})),
        frameworks=("keras",),
    ),
    Net(
        "unet3_convT3_op1",
        1,
        unet(3, down=STRIDED, up=("convT", {"k": 3, "s": 2, "pad": 1, "op": 1})),
        frameworks=TORCH,
    ),
    Net(
        "unet3_convT3_no_op",
        1,
        unet(3, down=STRIDED, up=("convT", {"k": 3, "s": 2, "pad": 1})),
        frameworks=TORCH,
        notes="2n-1 never meets n: no input size works",
    ),
    Net(
        "unet3_keras_convT_valid",
        1,
        unet(3, up=("convT", {"k": 3, "s": 2, "pad": "valid"}), after_up={"k": 2, "pad": "valid"}),
        frameworks=("keras",),
    ),
    Net(
        "unet3_keras_convT_op0",
        1,
        unet(
            3, down=("max", {"k": 2, "pad": "same"}), up=("convT", {"k": 3, "s": 2, "pad": "same", "op": 0})
        ),
        frameworks=("keras",),
    ),
    Net("fcn_add", 1, unet(3, join="add", convs=1)),
    Net(
        "unet3_pad_before_pool",
        1,
        after(("pad0", "pad", ("x",), {"b": 1, "e": 2}), unet(3)),
    ),
    Net(
        "unet2_pool_s1",
        1,
        unet(
            2,
            down=("max", {"k": 3, "s": 1, "pad": {"torch": 1, "keras": "same"}}),
            up=("conv", {"k": 3, "pad": BOTH}),
        ),
    ),
    Net("audio_melgan_8822", 1, melgan((8, 8, 2, 2)), hmax=120),
    Net("audio_hifigan_odd", 1, melgan((5, 3, 2)), hmax=150),
    Net(
        "audio_up_stack",
        1,
        stack(
            ("convT", {"k": 16, "s": 8, "pad": {"torch": 4, "keras": "same"}}),
            ("convT", {"k": 5, "s": 3, "pad": {"torch": 1, "keras": "valid"}}),
            ("up", {"scale": 2}),
            ("conv", {"k": 5, "pad": {"torch": 0, "keras": "valid"}}),
            ("crop", {"b": 1, "e": 2}),
        ),
        frameworks=TORCH,
    ),
    Net(
        "audio_down_up_valid",
        1,
        stack(
            ("conv", {"k": 7, "s": 3, "pad": {"torch": 0, "keras": "valid"}}),
            ("max", {"k": 3, "s": 2}),
            ("convT", {"k": 4, "s": 2, "pad": {"torch": 0, "keras": "valid"}}),
            ("convT", {"k": 7, "s": 3, "pad": {"torch": 0, "keras": "valid"}}),
        ),
    ),
    Net(
        "unet2_2d_rect",
        2,
        unet(
            2,
            conv={"k": [3, 5], "pad": {"torch": [1, 2], "keras": "same"}},
            down=("max", {"k": [2, 3]}),
            up=("convT", {"k": [2, 3], "s": [2, 3]}),
        ),
        axes=(0, 1),
        hmax=200,
    ),
    Net(
        "unet3_2d_strided_rect",
        2,
        unet(
            3,
            down=("conv", {"k": 3, "s": [2, 1], "pad": {"torch": 1, "keras": "same"}}),
            up=("convT", {"k": [4, 3], "s": [2, 1], "pad": {"torch": 1, "keras": "same"}}),
            convs=1,
        ),
        axes=(0, 1),
        hmax=200,
    ),
    Net(
        "unet2_2d_pad_crop",
        2,
        (
            *after(("pad0", "pad", ("x",), {"b": [2, 0], "e": [2, 1]}), unet(2)),
            ("crop_out", "crop", ("dec0_1",), {"b": [2, 0], "e": [2, 1]}),
        ),
        axes=(0, 1),
        hmax=150,
    ),
    Net("unet2_3d", 3, unet(2), axes=(0,), hmax=48, extra={"fixed": 16}),
    Net(
        "unet2_3d_strided",
        3,
        unet(2, down=STRIDED, up=CONVT_K4, convs=1),
        axes=(0,),
        hmax=48,
        extra={"fixed": 16},
    ),
)


# ---- the records' compact form -----------------------------------------------------------------


def _longest(items: list[Any], start: int) -> tuple[int, int]:
    """(period, length): items[start:start+length] repeats its first ``period`` items, the
    period (<= 64) chosen to save the most; (1, 1) when nothing repeats."""
    best = (1, 1)
    for period in range(1, min(len(items) - start, 64) + 1):
        length = period
        while start + length < len(items) and items[start + length] == items[start + length - period]:
            length += 1
        if length - period > best[1] - best[0]:
            best = (period, length)
    return best


def encode(values: list[int | None]) -> list[list[Any]]:
    """Sizes over h = 1, 2, ... (None where the layer was not reached) as segments
    ``[h0, v0, steps, count]``: ``count`` points from size ``v0`` at ``h0``, each next one
    ``[dh, dv]`` further, cycling through ``steps``. Floor-affine sizes (and the sizes where a
    network works) step periodically, so a layer is a few segments."""
    points = [(h, v) for h, v in enumerate(values, start=1) if v is not None]
    steps = [[h2 - h1, v2 - v1] for (h1, v1), (h2, v2) in itertools.pairwise(points)]
    out: list[list[Any]] = []
    index = 0
    while index < len(points):
        period, length = _longest(steps, index) if index < len(steps) else (0, 0)
        out.append([*points[index], steps[index : index + period], length + 1])
        index += length + 1
    return out


def decode(segments: list[list[Any]], length: int) -> list[int | None]:
    values: list[int | None] = [None] * length
    for h, v, steps, count in segments:
        for i in range(count):
            values[h - 1] = v
            if steps:
                h, v = h + steps[i % len(steps)][0], v + steps[i % len(steps)][1]
    return values


def encode_labels(labels: list[str]) -> list[list[Any]]:
    """A label per h = 1, 2, ... as segments ``[h0, pattern, count]`` (the pattern repeated)."""
    out: list[list[Any]] = []
    index = 0
    while index < len(labels):
        period, length = _longest(labels, index)
        out.append([index + 1, labels[index : index + period], length])
        index += length
    return out


def decode_labels(segments: list[list[Any]]) -> list[str]:
    return [pattern[i % len(pattern)] for _, pattern, count in segments for i in range(count)]
