"""A Keras model's architecture as a ``Network``: the JSON of ``model.to_json()`` or a ``.keras`` file.

Both hold the same config (the ``.keras`` zip keeps it in ``config.json``); the standard library
reads it, no Keras needed. Functional and Sequential models, Keras 3 (``args`` / ``keras_history``)
and Keras 2 (``[[name, node, tensor, kwargs]]``) inbound nodes. Layers that cannot change a spatial
size (normalizations, activations, dropouts, Dense on the channels) pass through as identities; a
layer that could and that deconv does not know is refused with one line naming it.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from deconv_cli.core.net import layers
from deconv_cli.core.net.graph import Network, Node, SizeMap
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


def config_of(source: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The model config from ``model.to_json()`` text or a ``.keras`` file's bytes."""
    if isinstance(source, dict):
        return source
    data = source.encode() if isinstance(source, str) else source
    try:
        if data[:2] == b"PK":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                data = archive.read("config.json")
        config = json.loads(data)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DeconvError(
            f"not a Keras model (model.to_json() or a .keras file): {message}", ExitCode.FAILURE
        ) from None
    if not isinstance(config, dict) or "config" not in config:
        raise DeconvError("not a Keras model config: no 'config' key at the top", ExitCode.FAILURE)
    return config


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
    if model.get("class_name") == "Sequential":
        return _sequential(model["config"])
    if model.get("class_name") not in ("Functional", "Model"):
        raise DeconvError(
            f"not a Keras Functional or Sequential model (class_name {model.get('class_name')!r})",
            ExitCode.FAILURE,
        )
    return _functional(model["config"])


def _rank(shape: Any, name: str) -> int:
    if not isinstance(shape, list) or len(shape) < 3:
        raise DeconvError(
            f"input {name!r} has shape {shape}: deconv needs (batch, spatial..., channels), "
            "1 to 3 spatial axes"
        )
    return len(shape) - 2


def _input_shape(layer: dict[str, Any]) -> Any:
    config = layer.get("config", {})
    return config.get("batch_shape", config.get("batch_input_shape"))


def _sequential(config: dict[str, Any]) -> Network:
    entries = config.get("layers", [])
    if entries and entries[0].get("class_name") == "InputLayer":
        first, entries = entries[0], entries[1:]
        name, shape = first["config"].get("name", "input"), _input_shape(first)
    elif entries:
        name, shape = (
            "input",
            _input_shape(entries[0]) or entries[0].get("build_config", {}).get("input_shape"),
        )
    else:
        raise DeconvError("the Sequential model has no layers", ExitCode.FAILURE)
    rank = _rank(shape, name)
    nodes = [Node(name, "input", (), ())]
    for entry in entries:
        nodes.append(_node(entry, entry["config"]["name"], (nodes[-1].name,), rank, _channels_first(entries)))
    return Network(tuple(nodes), rank)


def _history(argument: Any) -> list[tuple[str, int]]:
    """(layer, node index) of every Keras tensor in a Keras 3 call argument."""
    if isinstance(argument, dict) and argument.get("class_name") == "__keras_tensor__":
        layer, node, _ = argument["config"]["keras_history"]
        return [(layer, node)]
    if isinstance(argument, list | tuple):
        return [found for item in argument for found in _history(item)]
    if isinstance(argument, dict):
        return [found for item in argument.values() for found in _history(item)]
    return []


def _inbound(node: Any) -> list[tuple[str, int]]:
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        return _history(node.get("args", []))
    return [(entry[0], entry[1]) for entry in node]  # Keras 2: [[name, node, tensor, kwargs], ...]


def _functional(config: dict[str, Any]) -> Network:
    inputs = config.get("input_layers", [])
    inputs = [inputs] if inputs and isinstance(inputs[0], str) else inputs
    if len(inputs) != 1:
        raise DeconvError(f"the model has {len(inputs)} inputs; deconv analyses models with one input")
    entries = {
        entry["name"] if "name" in entry else entry["config"]["name"]: entry for entry in config["layers"]
    }
    calls: dict[tuple[str, int], str] = {}  # (layer, node index) -> the node's name in the network
    nodes: list[Node] = []
    rank = 0
    for name, entry in entries.items():
        inbound = entry.get("inbound_nodes", [])
        if entry["class_name"] == "InputLayer" or not inbound:
            if name != inputs[0][0]:
                raise DeconvError(
                    f"layer {name!r} ({entry['class_name']}) has no inputs and is not the model input"
                )
            rank = _rank(_input_shape(entry), name)
            nodes.insert(0, Node(name, "input", (), ()))
            calls[(name, 0)] = name
            continue
        for index, call in enumerate(inbound):
            node_name = name if len(inbound) == 1 else f"{name}#{index}"
            sources = tuple(calls.get(item, f"{item[0]}#{item[1]}") for item in _inbound(call))
            calls[(name, index)] = node_name
            nodes.append(_node(entry, node_name, sources, rank, _channels_first(config["layers"])))
    if not nodes or nodes[0].kind != "input":
        raise DeconvError("the model config has no InputLayer", ExitCode.FAILURE)
    return Network(tuple(nodes), rank)


def _channels_first(entries: list[dict[str, Any]]) -> bool:
    """Whether the model keeps channels before the spatial axes (its layers say so)."""
    return any(entry.get("config", {}).get("data_format") == "channels_first" for entry in entries)


def _per_axis(value: Any, rank: int, name: str, key: str) -> list[Any]:
    values = value if isinstance(value, list | tuple) else [value] * rank
    if len(values) != rank:
        raise DeconvError(f"layer {name!r}: {key} has {len(values)} values for {rank} spatial axes")
    return list(values)


def _pairs(value: Any, rank: int, name: str, key: str) -> list[tuple[int, int]]:
    """ZeroPadding / Cropping amounts: an int, one (begin, end) pair (1-D) or one per axis."""
    if isinstance(value, int):
        return [(value, value)] * rank
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(value[0], value[1])]
    return [(v, v) if isinstance(v, int) else (v[0], v[1]) for v in _per_axis(value, rank, name, key)]


def _node(
    entry: dict[str, Any], name: str, inputs: tuple[str, ...], rank: int, channels_first: bool = False
) -> Node:
    cls, config = entry["class_name"], entry.get("config", {})

    def named(make: Any) -> Any:
        try:
            return make()
        except DeconvError as error:
            raise DeconvError(f"layer {name!r} ({cls}): {error}") from None

    def axes(make: Any) -> tuple[SizeMap, ...]:
        return tuple(named(lambda: tuple(make(axis) for axis in range(rank))))

    def get(key: str, default: Any = None) -> list[Any]:
        return _per_axis(config.get(key, default), rank, name, key)

    shown = tuple(
        (key, json.dumps(config[key]))
        for key in ("kernel_size", "pool_size", "strides", "padding", "dilation_rate", "output_padding",
                    "size", "cropping", "height", "width")
        if key in config
    )  # fmt: skip
    if cls in ("Concatenate",):
        axis = config.get("axis", -1)
        if axis not in ((1, -rank - 1) if channels_first else (-1, rank + 1)):
            raise DeconvError(f"layer {name!r} (Concatenate) joins along axis {axis}, a spatial axis")
        return Node(name, "concat", inputs, (), shown, "keras")
    if cls in ELEMENTWISE:
        return Node(name, "add", inputs, (), shown, "keras")
    if len(inputs) != 1:
        raise DeconvError(f"layer {name!r} ({cls}) reads {len(inputs)} inputs; deconv knows it with one")
    match = _CONV.fullmatch(cls) or _CONV_T.fullmatch(cls) or _POOL.fullmatch(cls) or _RESHAPE.fullmatch(cls)
    if match and int(match.groups()[-1]) != rank:
        raise DeconvError(
            f"layer {name!r} ({cls}) is {match.groups()[-1]}-D in a network with {rank} spatial axes"
        )
    if _CONV_T.fullmatch(cls) or _CONV.fullmatch(cls):
        named(lambda: layers.strides_with_dilation("keras", get("strides", 1), get("dilation_rate", 1)))
    if _CONV_T.fullmatch(cls):
        kernel, strides, dilation = get("kernel_size"), get("strides", 1), get("dilation_rate", 1)
        extra = config.get("output_padding")
        extra = [None] * rank if extra is None else _per_axis(extra, rank, name, "output_padding")
        padding = config.get("padding", "valid")
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
        kernel, strides, dilation = get("kernel_size"), get("strides", 1), get("dilation_rate", 1)
        padding = config.get("padding", "valid")

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
        padding = config.get("padding", "valid")
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
        pairs = _pairs(config.get("padding", 1), rank, name, "padding")
        return Node(name, "pad", inputs, axes(lambda a: layers.pad(*pairs[a])), shown, "keras")
    if reshape:
        pairs = _pairs(config.get("cropping", 0), rank, name, "cropping")
        return Node(name, "crop", inputs, axes(lambda a: layers.crop(*pairs[a])), shown, "keras")
    if cls == "Resizing":
        if rank != 2:
            raise DeconvError(f"layer {name!r} (Resizing) is 2-D in a network with {rank} spatial axes")
        sizes = [config["height"], config["width"]]
        return Node(name, "resize", inputs, axes(lambda a: layers.resize(sizes[a])), shown, "keras")
    if cls in NEUTRAL and not (channels_first and cls in ("Dense", "EinsumDense")):  # Dense: last axis
        return Node(name, "identity", inputs, (), shown, "keras")
    raise DeconvError(
        f"layer {name!r} ({cls}): deconv does not know how it changes spatial sizes; "
        "supported: convolutions, pooling, UpSampling, ZeroPadding, Cropping, Resizing, merges "
        "and shape-neutral layers"
    )
