"""A Keras model's architecture as a ``Network``: the JSON of ``model.to_json()`` or a ``.keras`` file.

Both hold the same config (the ``.keras`` zip keeps it in ``config.json``); the standard library
reads it, no Keras needed. Functional and Sequential models, Keras 3 (``args`` / ``keras_history``)
and Keras 2 (``[[name, node, tensor, kwargs]]``) inbound nodes. Layers that cannot change a spatial
size (normalizations, activations, dropouts, Dense on the channels) pass through as identities; a
layer that could and that deconv does not know is refused with one line naming it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from deconv_cli.core.net import keras_config, layers, malformed
from deconv_cli.core.net.graph import Network, Node, SizeMap
from deconv_cli.core.net.keras_config import MAX_DIGITS, Long, brief, config_of, corrupt
from deconv_cli.errors import DeconvError, ExitCode

# layers whose output has their input's spatial size, whatever their parameters
NEUTRAL = {
    "Activation", "ActivityRegularization", "AlphaDropout", "BatchNormalization", "Dense", "Dropout",
    "ELU", "EinsumDense", "GaussianDropout", "GaussianNoise", "GroupNormalization", "Identity",
    "LayerNormalization", "LeakyReLU", "Masking", "Normalization", "PReLU", "ReLU", "Rescaling",
    "Softmax", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ThresholdedReLU",
    "UnitNormalization",
}  # fmt: skip
# elementwise merges: like Add, they need equal sizes
ELEMENTWISE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
_CONV = re.compile(r"(?:Conv|Convolution|SeparableConv|SeparableConvolution|DepthwiseConv)([123])D$")
_CONV_T = re.compile(r"(?:Conv|Convolution)([123])DTranspose$")
_POOL = re.compile(r"(Max|Average|Avg)Pool(?:ing)?([123])D$")
_RESHAPE = re.compile(r"(UpSampling|ZeroPadding|Cropping)([123])D$")
_GLOBAL = re.compile(r"Global(Max|Average|Avg)Pool(?:ing)?([123])D$")


def network(source: bytes | str | dict[str, Any]) -> Network:
    """The network a Keras model config describes (``deconv net model.json``).

    >>> config = {"class_name": "Sequential", "config": {"layers": [
    ...     {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, None, 1]}},
    ...     {"class_name": "Conv1D", "config": {"name": "c", "kernel_size": [3], "strides": [2],
    ...      "padding": "same", "dilation_rate": [1]}}]}}
    >>> net = network(config)
    >>> [(node.name, node.kind) for node in net.nodes], net.nodes[1].axes[0](7)
    ([('x', 'input'), ('c', 'conv')], 4)
    """
    model = config_of(source)
    return malformed.read("Keras model", (__name__, keras_config.__name__), lambda: _model(model))


def _model(model: dict[str, Any]) -> Network:
    if model.get("class_name") == "Sequential":
        return _sequential(model.get("config"))
    if model.get("class_name") not in ("Functional", "Model"):
        raise DeconvError(
            f"not a Keras Functional or Sequential model (class_name {brief(model.get('class_name'))})",
            ExitCode.FAILURE,
        )
    return _functional(model.get("config"))


def _rank(shape: Any, name: str) -> int:
    if not isinstance(shape, list) or len(shape) < 3:
        raise DeconvError(
            f"input {name!r} has shape {brief(shape)}: deconv needs (batch, spatial..., channels), "
            "1 to 3 spatial axes"
        )
    return len(shape) - 2


def _input_shape(layer: dict[str, Any]) -> Any:
    config = layer["config"]
    return config.get("batch_shape", config.get("batch_input_shape"))


def _layers(config: Any) -> list[dict[str, Any]]:
    """The config's layer entries, each checked to have a ``class_name`` and a ``config``."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise corrupt(f"its config has no list of 'layers' (got {brief(config)})")
    entries: list[dict[str, Any]] = config["layers"]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise corrupt(f"layer {index} is {brief(entry)}, not an object")
        inner = entry.get("config")
        name = entry.get("name", inner.get("name") if isinstance(inner, dict) else None)
        label = f"layer {index}" + (f" ({name!r})" if isinstance(name, str) else "")
        for key, kind in (("class_name", str), ("config", dict)):
            if key not in entry:
                raise corrupt(f"{label} has no {key!r}")
            if not isinstance(entry[key], kind):
                raise corrupt(f"{label}: {key} is {brief(entry[key])}")
    return entries


def _name(entry: dict[str, Any], index: int, default: str | None = None) -> str:
    name = entry.get("name", entry["config"].get("name", default))
    if not isinstance(name, str):
        raise corrupt(f"layer {index} ({entry['class_name']}) has no 'name'")
    return name


def _sequential(config: Any) -> Network:
    entries = _layers(config)
    if not entries:
        raise DeconvError("the Sequential model has no layers", ExitCode.FAILURE)
    first, start = entries[0], 0
    if first["class_name"] == "InputLayer":
        name, shape, start = _name(first, 0, "input"), _input_shape(first), 1
    else:
        build = first.get("build_config")
        name = "input"
        shape = _input_shape(first) or (build.get("input_shape") if isinstance(build, dict) else None)
    rank = _rank(shape, name)
    channels_first = _channels_first(entries)
    nodes = [Node(name, "input", (), ())]
    for index in range(start, len(entries)):
        entry = entries[index]
        nodes.append(_node(entry, _name(entry, index), (nodes[-1].name,), rank, channels_first))
    return Network(tuple(nodes), rank)


def _history(argument: Any, where: str) -> list[tuple[str, int]]:
    """(layer, node index) of every Keras tensor in a Keras 3 call argument."""
    if isinstance(argument, dict) and argument.get("class_name") == "__keras_tensor__":
        config = argument.get("config")
        history = config.get("keras_history") if isinstance(config, dict) else None
        return [_source(history, where, "its keras_history is not [layer, node, tensor]")]
    if isinstance(argument, list | tuple):
        return [found for item in argument for found in _history(item, where)]
    if isinstance(argument, dict):
        return [found for item in argument.values() for found in _history(item, where)]
    return []


def _source(entry: Any, where: str, problem: str) -> tuple[str, int]:
    """(layer, node index) from ``[layer, node, tensor, ...]``."""
    if not (
        isinstance(entry, list)
        and len(entry) >= 3
        and isinstance(entry[0], str)
        and isinstance(entry[1], int)
        and not isinstance(entry[1], bool)
    ):
        raise corrupt(f"{where}: {problem} (got {brief(entry)})")
    return entry[0], entry[1]


def _inbound(node: Any, where: str) -> list[tuple[str, int]]:
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return _history(node.get("args", []), where)
    if not isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        raise corrupt(f"{where} is {brief(node)}, not [[layer, node, tensor, kwargs], ...]")
    return [_source(entry, where, "an input is not [layer, node, tensor, kwargs]") for entry in node]


def _functional(config: Any) -> Network:
    entries = _layers(config)
    inputs = config.get("input_layers", [])
    inputs = [inputs] if isinstance(inputs, list) and inputs and isinstance(inputs[0], str) else inputs
    if not isinstance(inputs, list):
        raise corrupt(f"its input_layers is {brief(inputs)}, not [[layer, node, tensor], ...]")
    if len(inputs) != 1:
        raise DeconvError(f"the model has {len(inputs)} inputs; deconv analyses models with one input")
    if not (isinstance(inputs[0], list) and inputs[0] and isinstance(inputs[0][0], str)):
        raise corrupt(f"its input_layers is {brief(inputs)}, not [[layer, node, tensor]]")
    calls: dict[tuple[str, int], str] = {}  # (layer, node index) -> the node's name in the network
    nodes: list[Node] = []
    rank = 0
    channels_first = _channels_first(entries)
    for index, entry in enumerate(entries):
        name = _name(entry, index)
        inbound = entry.get("inbound_nodes", [])
        if not isinstance(inbound, list):
            raise corrupt(f"layer {name!r}: its inbound_nodes is {brief(inbound)}, not a list")
        if entry["class_name"] == "InputLayer" or not inbound:
            if name != inputs[0][0]:
                raise DeconvError(
                    f"layer {name!r} ({entry['class_name']}) has no inputs and is not the model input"
                )
            rank = _rank(_input_shape(entry), name)
            nodes.insert(0, Node(name, "input", (), ()))
            calls[(name, 0)] = name
            continue
        for call_index, call in enumerate(inbound):
            node_name = name if len(inbound) == 1 else f"{name}#{call_index}"
            where = f"layer {name!r}, inbound node {call_index}"
            sources = tuple(calls.get(item, f"{item[0]}#{item[1]}") for item in _inbound(call, where))
            calls[(name, call_index)] = node_name
            nodes.append(_node(entry, node_name, sources, rank, channels_first))
    if not nodes or nodes[0].kind != "input":
        raise DeconvError("the model config has no InputLayer", ExitCode.FAILURE)
    return Network(tuple(nodes), rank)


def _channels_first(entries: list[dict[str, Any]]) -> bool:
    """Whether the model keeps channels before the spatial axes (its layers say so)."""
    return any(entry["config"].get("data_format") == "channels_first" for entry in entries)


def _integer(value: Any, key: str) -> int:
    """A layer's integer parameter, of at most ``MAX_DIGITS`` digits."""
    if isinstance(value, Long) or (isinstance(value, int) and abs(value) >= 10**MAX_DIGITS):
        digits = str(value)
        shown = digits if len(digits) <= 20 else f"{digits[:10]}... ({len(digits)} digits)"
        raise DeconvError(
            f"{key} must be an integer of at most {MAX_DIGITS} digits (got {shown})", ExitCode.FAILURE
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeconvError(f"{key} must be an integer (got {brief(value)})", ExitCode.FAILURE)
    return value


def _per_axis(value: Any, rank: int, key: str) -> list[Any]:
    values = value if isinstance(value, list | tuple) else [value] * rank
    if len(values) != rank:
        raise DeconvError(f"{key} has {len(values)} values for {rank} spatial axes", ExitCode.FAILURE)
    return list(values)


def _pairs(value: Any, rank: int, key: str) -> list[tuple[int, int]]:
    """ZeroPadding / Cropping amounts: an int, one (begin, end) pair (1-D) or one per axis."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [(_integer(value, key), _integer(value, key))] * rank
    if rank == 1 and isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(_integer(value[0], key), _integer(value[1], key))]
    pairs = []
    for item in _per_axis(value, rank, key):
        pair = item if isinstance(item, list | tuple) else [item, item]
        if len(pair) != 2:
            raise DeconvError(
                f"{key} must be an int, or per axis an int or a (begin, end) pair (got {brief(value)})",
                ExitCode.FAILURE,
            )
        pairs.append((_integer(pair[0], key), _integer(pair[1], key)))
    return pairs


def _node(
    entry: dict[str, Any], name: str, inputs: tuple[str, ...], rank: int, channels_first: bool = False
) -> Node:
    cls, config = entry["class_name"], entry["config"]

    def named(make: Any) -> Any:
        try:
            return make()
        except DeconvError as error:
            raise DeconvError(f"layer {name!r} ({cls}): {error}", error.exit_code) from None

    def axes(make: Any) -> tuple[SizeMap, ...]:
        return tuple(named(lambda: tuple(make(axis) for axis in range(rank))))

    def get(key: str, default: Any = None) -> list[int]:
        return list(named(lambda: [_integer(v, key) for v in _per_axis(config.get(key, default), rank, key)]))

    def text(key: str, default: str) -> str:
        value = config.get(key, default)
        if not isinstance(value, str):
            raise DeconvError(
                f"layer {name!r} ({cls}): {key} must be a string such as 'same' or 'valid' "
                f"(got {brief(value)})",
                ExitCode.FAILURE,
            )
        return value

    shown = tuple(
        (key, json.dumps(config[key]))
        for key in ("kernel_size", "pool_size", "strides", "padding", "dilation_rate", "output_padding",
                    "size", "cropping", "height", "width")
        if key in config
    )  # fmt: skip
    if cls in ("Concatenate",):
        axis = named(lambda: _integer(config.get("axis", -1), "axis"))
        if axis not in ((1, -rank - 1) if channels_first else (-1, rank + 1)):
            raise DeconvError(f"layer {name!r} (Concatenate) joins along axis {axis}, a spatial axis")
        return Node(name, "concat", inputs, (), shown, "keras")
    if cls in ELEMENTWISE:
        return Node(name, "add", inputs, (), shown, "keras")
    if len(inputs) != 1:
        raise DeconvError(f"layer {name!r} ({cls}) reads {len(inputs)} inputs; deconv knows it with one")
    match = next((m for p in (_CONV, _CONV_T, _POOL, _RESHAPE, _GLOBAL) if (m := p.fullmatch(cls))), None)
    if match and int(match.groups()[-1]) != rank:
        raise DeconvError(
            f"layer {name!r} ({cls}) is {match.groups()[-1]}-D in a network with {rank} spatial axes"
        )
    if _CONV_T.fullmatch(cls) or _CONV.fullmatch(cls):
        kernel, strides, dilation = get("kernel_size"), get("strides", 1), get("dilation_rate", 1)
        named(lambda: layers.strides_with_dilation("keras", strides, dilation))
    if _CONV_T.fullmatch(cls):
        extra: list[int | None] = [None] * rank
        if config.get("output_padding") is not None:
            extra = list(get("output_padding"))
        padding = text("padding", "valid")
        return Node(
            name,
            "conv_transpose",
            inputs,
            axes(
                lambda a: layers.conv_transpose(
                    "keras", kernel[a], strides[a], dilation[a], padding, extra[a]
                )
            ),
            shown,
            "keras",
        )
    if _CONV.fullmatch(cls):
        padding = text("padding", "valid")

        def conv(a: int) -> SizeMap:
            if padding == "causal":  # left padding by the dilated kernel, as an explicit pair
                layers.conv("keras", kernel[a], strides[a], dilation[a], "valid")
                return layers.conv(
                    "tf", kernel[a], strides[a], dilation[a], (dilation[a] * (kernel[a] - 1), 0)
                )
            return layers.conv("keras", kernel[a], strides[a], dilation[a], padding)

        return Node(name, "conv", inputs, axes(conv), shown, "keras")
    pool = _POOL.fullmatch(cls)
    if pool:
        size = get("pool_size")
        strides = size if config.get("strides") is None else get("strides")
        padding = text("padding", "valid")
        kind = "max_pool" if pool.group(1) == "Max" else "avg_pool"
        return Node(
            name,
            kind,
            inputs,
            axes(lambda a: layers.pool("keras", size[a], strides[a], 1, padding)),
            shown,
            "keras",
        )
    reshape = _RESHAPE.fullmatch(cls)
    if reshape and reshape.group(1) == "UpSampling":
        size = get("size", 2)
        return Node(
            name, "upsample", inputs, axes(lambda a: layers.upsample("keras", size[a])), shown, "keras"
        )
    if reshape and reshape.group(1) == "ZeroPadding":
        pairs = named(lambda: _pairs(config.get("padding", 1), rank, "padding"))
        return Node(name, "pad", inputs, axes(lambda a: layers.pad(*pairs[a])), shown, "keras")
    if reshape:
        pairs = named(lambda: _pairs(config.get("cropping", 0), rank, "cropping"))
        return Node(name, "crop", inputs, axes(lambda a: layers.crop(*pairs[a])), shown, "keras")
    if _GLOBAL.fullmatch(
        cls
    ):  # every spatial axis to 1 (without keepdims, gone: the same to the layers after)
        return Node(name, "resize", inputs, axes(lambda a: layers.resize(1)), shown, "keras")
    if cls == "Resizing":
        if rank != 2:
            raise DeconvError(f"layer {name!r} (Resizing) is 2-D in a network with {rank} spatial axes")
        missing = [key for key in ("height", "width") if key not in config]
        if missing:
            raise DeconvError(f"layer {name!r} (Resizing) has no {missing[0]!r}", ExitCode.FAILURE)
        sizes = [named(lambda key=key: _integer(config[key], key)) for key in ("height", "width")]
        return Node(name, "resize", inputs, axes(lambda a: layers.resize(sizes[a])), shown, "keras")
    if cls in NEUTRAL and not (channels_first and cls in ("Dense", "EinsumDense")):  # Dense: last axis
        return Node(name, "identity", inputs, (), shown, "keras")
    raise DeconvError(
        f"layer {name!r} ({cls}): deconv does not know how it changes spatial sizes; "
        "supported: convolutions, pooling, global pooling, UpSampling, ZeroPadding, Cropping, Resizing, "
        "merges and shape-neutral layers"
    )
