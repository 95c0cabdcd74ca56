"""An ONNX model's architecture as a ``Network`` (``torch.onnx.export`` is how PyTorch models come).

Reads the graph through the ``onnx`` package, an optional extra (``pip install 'deconv-cli[onnx]'``)
imported only here and only when a model is read. Conv, ConvTranspose, MaxPool / AveragePool /
LpPool, global pools, Resize / Upsample (scales or sizes from initializers or Constant nodes), Pad,
Slice (constant bounds that crop a spatial axis from both ends), Concat on the channels and
elementwise joins become layers; shape-neutral operators (activations, normalizations, dropout,
arithmetic with a constant) pass through without a row of their own. Anything else that reads a
spatial tensor, or parameters computed at run time from tensor shapes, is refused in one line.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Options
from deconv_cli.core.geometry import Padding as Crop
from deconv_cli.core.net import layers
from deconv_cli.core.net.graph import Network, Node, SizeMap, Term
from deconv_cli.errors import DeconvError, ExitCode

INSTALL = "pip install 'deconv-cli[onnx]'"
# operators whose output has their (first) spatial input's size
NEUTRAL = {
    "Abs", "Acos", "Asin", "Atan", "BatchNormalization", "Cast", "Ceil", "Celu", "Clip", "Cos",
    "Dropout", "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Hardmax",
    "Identity", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LayerNormalization", "LeakyRelu",
    "Log", "LogSoftmax", "MeanVarianceNormalization", "Mish", "Neg", "Not", "PRelu", "Reciprocal",
    "Relu", "Round", "Selu", "Shrink", "Sigmoid", "Sign", "Sin", "Softmax", "Softplus", "Softsign",
    "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "GroupNormalization", "QuantizeLinear",
    "DequantizeLinear",
}  # fmt: skip
# elementwise with broadcasting: a join of two spatial inputs, a pass-through with a constant
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "And", "Or", "Where"}
POOLS = {"MaxPool": "max_pool", "AveragePool": "avg_pool", "LpPool": "avg_pool"}
_DYNAMIC = "dynamic"  # a value computed at run time (from Shape, ...), not a constant


def _onnx() -> Any:
    try:
        import onnx  # type: ignore[import-not-found, unused-ignore]
        import onnx.reference  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise DeconvError(
            f"reading ONNX models needs the onnx package: {INSTALL}", ExitCode.FAILURE
        ) from None
    return onnx


def network(source: bytes | Any) -> Network:
    """The network of an ONNX model: its serialized bytes, or a loaded ``ModelProto``."""
    onnx = _onnx()
    if isinstance(source, bytes | bytearray):
        try:
            model = onnx.load_model_from_string(bytes(source))
        except Exception as error:  # protobuf's DecodeError and friends: a corrupt file
            raise DeconvError(f"not an ONNX model: {type(error).__name__}", ExitCode.FAILURE) from None
    else:
        model = source
    return _Reader(onnx, model.graph).read()


class _Reader:
    def __init__(self, onnx: Any, graph: Any) -> None:
        self.onnx = onnx
        self.graph = graph
        # constant tensors (arrays, or initializers not yet converted) by name, or _DYNAMIC for
        # values known only at run time
        self.constants: dict[str, Any] = {init.name: init for init in graph.initializer}
        self.spatial: dict[str, str] = {}  # tensor -> the network node whose output it is
        self.matched: dict[str, Any] = {}  # tensor -> its Pad to another tensor's size (see _match)
        self.joined: set[str] = set()  # the Pads read as such
        self.nodes: list[Node] = []
        self.rank = 0

    def read(self) -> Network:
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise DeconvError(f"the model has {len(inputs)} inputs; deconv analyses models with one input")
        dims = inputs[0].type.tensor_type.shape.dim
        if not 3 <= len(dims) <= 5:
            raise DeconvError(
                f"input {inputs[0].name!r} has {len(dims)} axes: deconv needs (N, C, spatial...), "
                "1 to 3 spatial axes"
            )
        self.rank = len(dims) - 2
        self.nodes.append(Node(inputs[0].name, "input", (), ()))
        self.spatial[inputs[0].name] = inputs[0].name
        names: set[str] = {inputs[0].name}
        for node in self.graph.node:
            self._read(node, names)
        for pad in self.matched.values():
            if pad.output[0] not in self.joined:
                self._constant(pad.input[1], pad, "pads")  # run-time pads that feed no join
        return Network(tuple(self.nodes), self.rank)

    # ---- values ---------------------------------------------------------------------------

    def _value(self, name: str) -> Any:
        """The constant array named ``name``, _DYNAMIC when unknown (None when no such value)."""
        value = self.constants.get(name)
        if isinstance(value, self.onnx.TensorProto):
            try:
                value = self.onnx.numpy_helper.to_array(value)
            except Exception:  # a weight stripped of its data (the dims stay): not a usable value
                value = _DYNAMIC
            self.constants[name] = value
        return value

    def _constant(self, name: str, node: Any, what: str) -> Any:
        """A constant input of ``node``; an error when it is computed at run time."""
        value = self._value(name)
        if value is None or isinstance(value, str):
            raise DeconvError(
                f"node {self._label(node)}: {what} is computed at run time from tensor shapes; "
                "deconv needs constants (export with fixed parameters, or describe the net in "
                "deconv's text format)"
            )
        return value.tolist()

    def _attributes(self, node: Any) -> dict[str, Any]:
        values = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}

    def _label(self, node: Any) -> str:
        return f"{node.name or node.output[0]!r} ({node.op_type})"

    def _name(self, node: Any, names: set[str]) -> str:
        """The node's scope (``/enc1/Conv`` -> ``enc1``) when unique, else its full name."""
        full = _scope(str(node.name or node.output[0]).lstrip("/"))
        short = full.removesuffix(f"/{node.op_type}")
        name = short if short and short not in names else full
        index = 1
        while name in names:
            index += 1
            name = f"{full}#{index}"
        names.add(name)
        return name

    # ---- nodes ----------------------------------------------------------------------------

    def _read(self, node: Any, names: set[str]) -> None:
        op = node.op_type
        spatial = [name for name in node.input if name in self.spatial]
        if not spatial or op in ("Shape", "Size"):
            self._fold(node, bool(spatial))
            return
        data = node.input[0]
        if op == "Pad" and len(node.input) > 1 and isinstance(self._value(node.input[1]), str):
            self.matched[node.output[0]] = node  # read at the join it feeds
            self.spatial[node.output[0]] = self.spatial[data]
            return
        if any(name in self.matched for name in node.input):
            if op in NEUTRAL:
                self.matched[node.output[0]] = self.matched[data]
                self.spatial[node.output[0]] = self.spatial[data]
                return
            if op not in ("Concat", *ELEMENTWISE):
                pad = next(self.matched[name] for name in node.input if name in self.matched)
                self._constant(pad.input[1], pad, "pads")  # the error for run-time pads
        if op in NEUTRAL or (op in ELEMENTWISE and len(spatial) == 1):
            if op in ELEMENTWISE and any(isinstance(self._value(i), str) for i in node.input[1:]):
                raise DeconvError(f"node {self._label(node)}: an operand is computed at run time")
            self.spatial[node.output[0]] = self.spatial[spatial[0]]
            return
        attributes = self._attributes(node)
        if op in ELEMENTWISE or op == "Concat":
            if op == "Concat" and attributes.get("axis") not in (1, -self.rank - 1):
                raise DeconvError(
                    f"node {self._label(node)}: concatenates along axis {attributes.get('axis')}, "
                    "not the channels"
                )
            if len(spatial) != len([i for i in node.input if i]):
                raise DeconvError(f"node {self._label(node)}: mixes spatial tensors and constants")
            kind = "concat" if op == "Concat" else "add"
            self._add(node, names, kind, self._match(spatial, names), (), attributes)
            return
        if data not in self.spatial:
            raise DeconvError(f"node {self._label(node)}: its spatial input is not its first input")
        source = (self.spatial[data],)
        maps = self._maps(node, op, attributes)
        kind = {
            "Conv": "conv",
            "ConvTranspose": "conv_transpose",
            "Resize": "resize",
            "Upsample": "upsample",
            "Pad": "pad",
            "Slice": "crop",
        }.get(op, POOLS.get(op, "resize"))
        if kind == "resize" and all(len(m.terms) == 1 and m.terms[0].numerator for m in maps):
            kind = "upsample"
        self._add(node, names, kind, source, maps, attributes)

    def _match(self, spatial: list[str], names: set[str]) -> tuple[str, ...]:
        """A join's inputs. A Pad whose pads are computed from tensor shapes and that feeds a join
        pads its input to the other input's size (Pytorch-UNet's Up block: ``F.pad`` by the size
        difference), so it becomes a node of that size."""
        fixed = [self.spatial[name] for name in spatial if name not in self.matched]
        if not fixed:
            pad = self.matched[spatial[0]]
            self._constant(pad.input[1], pad, "pads")
        inputs = []
        for name in spatial:
            if name in self.matched:
                pad = self.matched[name]
                self.joined.add(pad.output[0])
                shown = (("pads", f"to the size of {fixed[0]} (computed at run time)"),)
                inputs.append(self._name(pad, names))
                self.nodes.append(Node(inputs[-1], "identity", (fixed[0],), (), shown, "onnx"))
            else:
                inputs.append(self.spatial[name])
        return tuple(inputs)

    def _fold(self, node: Any, shaped: bool) -> None:
        """Compute a node of constants (the exporters build pads and scales that way) with ONNX's
        reference implementation; a value that depends on a tensor's shape stays unknown."""
        inputs = [name for name in node.input if name]
        outputs: list[Any] = [_DYNAMIC] * len(node.output)
        values = {name: self._value(name) for name in inputs}
        if not shaped and all(v is not None and not isinstance(v, str) for v in values.values()):
            try:
                outputs = self.onnx.reference.ReferenceEvaluator(node).run(None, values)
            except Exception:  # an operator the reference lacks: the value stays unknown
                outputs = [_DYNAMIC] * len(node.output)
        for name, value in zip(node.output, outputs, strict=False):
            self.constants[name] = value

    def _add(
        self,
        node: Any,
        names: set[str],
        kind: str,
        inputs: tuple[str, ...],
        maps: tuple[SizeMap, ...],
        attributes: dict[str, Any],
    ) -> None:
        name = self._name(node, names)
        shown = tuple((k, str(v)) for k, v in sorted(attributes.items()) if k != "value")
        self.nodes.append(Node(name, kind, inputs, maps, shown, "onnx"))
        self.spatial[node.output[0]] = name

    def _maps(self, node: Any, op: str, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        rank = self.rank
        try:
            if op in ("Conv", "ConvTranspose") or op in POOLS:
                return self._window(node, op, attributes)
            if op.startswith("Global") and op.endswith("Pool"):
                return tuple(layers.resize(1) for _ in range(rank))
            if op in ("Resize", "Upsample"):
                return self._resize(node, op)
            if op == "Pad":
                return self._pad(node, attributes)
            if op == "Slice":
                return self._slice(node)
        except DeconvError as error:
            if str(error).startswith("node "):
                raise
            raise DeconvError(f"node {self._label(node)}: {error}") from None
        raise DeconvError(
            f"node {self._label(node)}: deconv does not know how {op} changes spatial sizes; "
            "supported: Conv, ConvTranspose, pools, Resize, Upsample, Pad, Slice, Concat, "
            "elementwise joins and shape-neutral operators"
        )

    def _spatial_ints(self, attributes: dict[str, Any], key: str, default: int) -> list[int]:
        values = list(attributes.get(key, [default] * self.rank))
        if len(values) != self.rank:
            raise DeconvError(f"{key} has {len(values)} values for {self.rank} spatial axes")
        return values

    def _window(self, node: Any, op: str, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        rank = self.rank
        if "kernel_shape" in attributes:
            kernel = self._spatial_ints(attributes, "kernel_shape", 1)
        else:  # Conv may leave it to the weight's shape
            weight = next((i for i in self.graph.initializer if i.name == node.input[1]), None)  # dims only
            if weight is None or len(weight.dims) != rank + 2:
                raise DeconvError("kernel_shape is neither given nor readable from the weight")
            kernel = list(weight.dims[2:])
        strides = self._spatial_ints(attributes, "strides", 1)
        dilations = self._spatial_ints(attributes, "dilations", 1)
        auto_pad = attributes.get("auto_pad", "NOTSET")
        pads = list(attributes.get("pads", [0] * 2 * rank))
        if len(pads) != 2 * rank:
            raise DeconvError(f"pads has {len(pads)} values for {rank} spatial axes")
        modes = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}
        if auto_pad not in ("NOTSET", *modes):
            raise DeconvError(f"auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID (got {auto_pad})")
        paddings: list[str | tuple[int, int]] = [
            modes[auto_pad] if auto_pad in modes else (pads[a], pads[a + rank]) for a in range(rank)
        ]
        if op == "Conv":
            return tuple(
                layers.conv("onnx", kernel[a], strides[a], dilations[a], paddings[a]) for a in range(rank)
            )
        if op in POOLS:
            ceil = bool(attributes.get("ceil_mode", 0))
            return tuple(
                layers.pool("onnx", kernel[a], strides[a], dilations[a], paddings[a], ceil)
                for a in range(rank)
            )
        extra = self._spatial_ints(attributes, "output_padding", 0)
        if "output_shape" in attributes:
            shape = list(attributes["output_shape"])[-rank:]
            return tuple(
                self._fixed_output(kernel[a], strides[a], dilations[a], paddings[a], extra[a], shape[a])
                for a in range(rank)
            )
        return tuple(
            layers.conv_transpose("onnx", kernel[a], strides[a], dilations[a], paddings[a], extra[a])
            for a in range(rank)
        )

    def _fixed_output(
        self, kernel: int, stride: int, dilation: int, padding: str | tuple[int, int], extra: int, size: int
    ) -> SizeMap:
        """ConvTranspose with ``output_shape``: that size, for inputs whose full result reaches it
        (the smallest one found through the single-layer rules, which grow with the input)."""
        modes = {"same": Crop("same"), "same_lower": Crop("same_lower"), "valid": Crop("valid")}
        crop = Crop.explicit(*padding) if isinstance(padding, tuple) else modes[padding]
        options = Options(crop, extra, size)
        rules = FRAMEWORKS["onnx"]

        def accepts(n: int) -> bool:
            try:
                rules.resolve(Axis(n, kernel, stride, dilation), options)
            except DeconvError:
                return False
            return True

        if not accepts(size):  # the largest input it could need: refused whatever the input
            rules.resolve(Axis(size, kernel, stride, dilation), options)
        low, high = 1, size
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if accepts(middle) else (middle + 1, high)
        return SizeMap((Term(0, size),), min_in=low)

    def _inputs(self, node: Any, index: int) -> Any:
        return node.input[index] if len(node.input) > index and node.input[index] else None

    def _resize(self, node: Any, op: str) -> tuple[SizeMap, ...]:
        rank = self.rank
        scales_name = self._inputs(node, 1 if op == "Upsample" else 2)
        sizes_name = None if op == "Upsample" else self._inputs(node, 3)
        scales = None
        if op == "Upsample" and scales_name is None:
            scales = self._attributes(node).get("scales")
        elif scales_name is not None:
            value = self._value(scales_name)
            if value is not None and not isinstance(value, str) and value.size:
                scales = value.tolist()
            elif sizes_name is None:
                scales = self._constant(scales_name, node, "scales")
        if scales:
            if len(scales) != rank + 2 or scales[0] != 1 or scales[1] != 1:
                raise DeconvError(f"scales must be 1 on the batch and channel axes (got {scales})")
            return tuple(layers.upsample("onnx", _fraction(s)) for s in scales[2:])
        if sizes_name is None:
            raise DeconvError("neither scales nor sizes given")
        sizes = self._constant(sizes_name, node, "sizes")
        axes = self._attributes(node).get("axes")
        if axes is not None:
            return self._on_axes(axes, sizes, lambda size: layers.resize(int(size)))
        return tuple(layers.resize(int(s)) for s in sizes[2:])

    def _on_axes(self, axes: list[int], values: list[Any], make: Any) -> tuple[SizeMap, ...]:
        maps = [SizeMap.affine(1, 0)] * self.rank
        for axis, value in zip(axes, values, strict=True):
            axis = axis + self.rank + 2 if axis < 0 else axis
            if axis >= 2:
                maps[axis - 2] = make(value)
        return tuple(maps)

    def _pad(self, node: Any, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        rank = self.rank
        if "pads" in attributes:  # opset < 11
            pads = list(attributes["pads"])
        else:
            pads = list(self._constant(node.input[1], node, "pads"))
        axes_name = self._inputs(node, 3)
        axes = self._constant(axes_name, node, "axes") if axes_name else list(range(len(pads) // 2))
        half = len(pads) // 2
        pairs = list(zip(pads[:half], pads[half:], strict=True))
        full = [(0, 0)] * (rank + 2)
        for axis, pair in zip(axes, pairs, strict=True):
            full[axis + rank + 2 if axis < 0 else axis] = pair
        if full[0] != (0, 0):
            raise DeconvError(f"pads the batch axis (got {pads})")
        return tuple(layers.pad(*full[2 + a]) for a in range(rank))

    def _slice(self, node: Any) -> tuple[SizeMap, ...]:
        starts = self._constant(node.input[1], node, "starts")
        ends = self._constant(node.input[2], node, "ends")
        axes_name, steps_name = self._inputs(node, 3), self._inputs(node, 4)
        axes = self._constant(axes_name, node, "axes") if axes_name else list(range(len(starts)))
        steps = self._constant(steps_name, node, "steps") if steps_name else [1] * len(starts)
        maps = [SizeMap.affine(1, 0)] * self.rank
        for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
            axis = axis + self.rank + 2 if axis < 0 else axis
            if axis < 2:
                continue
            if step != 1:
                raise DeconvError(f"steps must be 1 on a spatial axis (got {step})")
            if start < 0 or not (end < 0 or end >= 2**31):
                raise DeconvError(
                    f"slices {start}:{end} on axis {axis}: deconv reads slices that crop from both "
                    "ends (start >= 0, end < 0 or to the end), whose size follows the input"
                )
            maps[axis - 2] = layers.crop(start, 0 if end >= 2**31 else -end)
        return tuple(maps)


def _scope(name: str) -> str:
    """A torch export's scope with each ``nn.Sequential`` step written once.

    >>> _scope("model/model.1/model/model.3/Conv")
    'model.1/model.3/Conv'
    """
    parts: list[str] = []
    for part in name.split("/"):
        if parts and part.startswith(f"{parts[-1]}.") and part[len(parts[-1]) + 1 :].isdigit():
            parts[-1] = part
        else:
            parts.append(part)
    return "/".join(parts)


def _fraction(scale: float) -> Fraction:
    """A float scale as a fraction, snapped to a small denominator (2.0 -> 2, 0.5 -> 1/2)."""
    exact = Fraction(scale)
    near = exact.limit_denominator(1000)
    return near if abs(near - exact) < Fraction(1, 10**6) else exact
