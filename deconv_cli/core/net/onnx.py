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

from typing import Any

from deconv_cli.core.net import layers, malformed
from deconv_cli.core.net import onnx_checks as checks
from deconv_cli.core.net.graph import Network, Node, SizeMap, Term
from deconv_cli.core.net.onnx_maps import POOLS, SizeMaps
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
_DYNAMIC, _UNFOLDED = checks.DYNAMIC, checks.UNFOLDED
# a run-time shape value: an integer, or floor((num*n + off) / den) of a tensor's size n on an axis
Dim = int | tuple[str, int, Term]


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
    return malformed.read("ONNX model", (__name__, checks.__name__), _Reader(onnx, model.graph).read)


class _Reader(SizeMaps):
    def __init__(self, onnx: Any, graph: Any) -> None:
        self.onnx = onnx
        self.graph = graph
        # constant tensors (arrays, or initializers not yet converted) by name, or _DYNAMIC for
        # values known only at run time
        self.constants: dict[str, Any] = {init.name: init for init in graph.initializer}
        self.spatial: dict[str, str] = {}  # tensor -> the network node whose output it is
        self.matched: dict[str, Any] = {}  # tensor -> its Pad to another tensor's size (see _match)
        self.joined: set[str] = set()  # the Pads read as such
        # run-time shape values that are formulas of spatial tensors' dims, or ints
        self.dims: dict[str, list[Dim]] = {}
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
        if isinstance(value, self.onnx.TensorProto) and value.data_location == value.EXTERNAL:
            # its data lives in a file the model names (any path): deconv opens none but the model
            value = _UNFOLDED
        elif isinstance(value, self.onnx.TensorProto):
            try:
                value = self.onnx.numpy_helper.to_array(value)
            except Exception:  # a weight stripped of its data (the dims stay): not a usable value
                value = _DYNAMIC
            self.constants[name] = value
        return value

    def _constant(self, name: str, node: Any, what: str) -> Any:
        """A constant input of ``node``; an error when it is computed at run time."""
        value = self._value(name)
        if value is _UNFOLDED:
            raise DeconvError(
                f"node {self._label(node)}: {what} comes from constants deconv does not compute "
                f"(an operator it does not fold, a result of more than {checks.FOLD_LIMIT} elements, or "
                "data stored outside the .onnx file); export with constant parameters inside the "
                "model, or describe the net in deconv's text format"
            )
        if value is None or isinstance(value, str):
            raise DeconvError(
                f"node {self._label(node)}: {what} is computed at run time from tensor shapes; "
                "deconv needs constants (export with fixed parameters, or describe the net in "
                "deconv's text format)"
            )
        return value.tolist()

    def _ints(self, name: str | None, node: Any, what: str) -> list[int]:
        """A constant input of ``node`` that must be a list of integers."""
        if name is None:
            raise DeconvError(f"node {self._label(node)}: has no {what} input", ExitCode.FAILURE)
        return checks.int_list(self._constant(name, node, what), what)

    def _attributes(self, node: Any) -> dict[str, Any]:
        values = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        for key, value in values.items():
            if isinstance(value, bytes):
                try:
                    values[key] = value.decode()
                except UnicodeDecodeError:
                    raise DeconvError(
                        f"node {self._label(node)}: attribute {key} is not UTF-8 text (got {value[:20]!r})",
                        ExitCode.FAILURE,
                    ) from None
        return values

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
            self._track(node)
            return
        data = node.input[0]
        if op == "Pad" and len(node.input) > 1 and self._value(node.input[1]) is _DYNAMIC:
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
            if op in ELEMENTWISE and any(self._value(i) is _DYNAMIC for i in node.input[1:]):
                raise DeconvError(f"node {self._label(node)}: an operand is computed at run time")
            self.spatial[node.output[0]] = self.spatial[spatial[0]]
            return
        attributes = self._attributes(node)
        like = self._resized_like(node) if op == "Resize" else None
        if like is not None:  # F.interpolate(x, size=y.shape[2:]): y's size, whatever x's
            self._add(node, names, "resize", (self.spatial[like[0]],), like[1], attributes)
            return
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
        reference implementation; a value that depends on a tensor's shape stays unknown. It
        runs on every such node, needed or not, so only on shape arithmetic of bounded size
        (``onnx_checks.foldable``); other constants stay _UNFOLDED, an error only where deconv needs one."""
        inputs = [name for name in node.input if name]
        values = {name: self._value(name) for name in inputs}
        outputs: list[Any] = [_UNFOLDED] * len(node.output)
        if shaped or any(v is None or v is _DYNAMIC for v in values.values()):
            outputs = [_DYNAMIC] * len(node.output)
        elif all(v is not _UNFOLDED for v in values.values()) and checks.foldable(
            node, list(values.values())
        ):
            try:
                outputs = self.onnx.reference.ReferenceEvaluator(node).run(None, values)
            except Exception:  # an operator the reference lacks, a malformed node: not computed
                outputs = [_UNFOLDED] * len(node.output)
        for name, value in zip(node.output, outputs, strict=False):
            self.constants[name] = value

    def _track(self, node: Any) -> None:
        """Follow the dims of spatial tensors through the shape arithmetic exporters write for
        ``size=y.shape[2:]``: Shape, Gather, Slice, Concat, Reshape, Unsqueeze, Squeeze, Cast, and
        the dynamo exporter's integer Add, Sub, Mul and Div of a dim (a size formula)."""
        op, first = node.op_type, node.input[0] if node.input else ""
        found: list[Dim] | None = None
        if op == "Shape" and first in self.spatial:
            attributes = self._attributes(node)
            every: list[Dim] = [(first, axis, Term(1, 0)) for axis in range(self.rank + 2)]
            found = every[attributes.get("start", 0) : attributes.get("end", len(every))]
        elif op in ("Cast", "Identity", "Squeeze", "Unsqueeze", "Reshape"):
            found = self._dims(first)  # a dim list reshaped: the same dims
        elif op == "Gather" and not self._attributes(node).get("axis", 0):
            base, index = self._dims(first), self._dims(node.input[1])
            picks = [i for i in index or [] if isinstance(i, int)]
            if base is not None and index is not None and len(picks) == len(index):
                found = [base[i] for i in picks if -len(base) <= i < len(base)]
        elif op == "Slice" and len(node.input) in (3, 4):
            base, starts, ends = (self._dims(name) for name in node.input[:3])
            axes = self._dims(node.input[3]) if len(node.input) == 4 else [0]
            if base is not None and axes == [0] and starts and ends and len(starts) == len(ends) == 1:
                start, end = starts[0], ends[0]
                if isinstance(start, int) and isinstance(end, int):
                    found = base[start:end]
        elif op == "Concat":
            parts = [self._dims(name) for name in node.input if name]
            if all(part is not None for part in parts):
                found = [dim for part in parts for dim in part]  # type: ignore[union-attr]
        elif op in ("Add", "Sub", "Mul", "Div") and len(node.input) == 2:
            one, other = self._dims(node.input[0]), self._dims(node.input[1])
            if one is not None and other is not None and len(one) == len(other) == 1:
                dim = _arithmetic(op, one[0], other[0])
                found = None if dim is None else [dim]
        if found is not None and any(isinstance(dim, tuple) for dim in found):
            self.dims[node.output[0]] = found

    def _dims(self, name: str) -> list[Dim] | None:
        """A shape value as dims: tracked ones, or a constant list (or scalar) of integers."""
        if name in self.dims:
            return self.dims[name]
        value = self._value(name)
        if value is None or isinstance(value, str) or value.dtype.kind not in "iu" or value.ndim > 1:
            return None
        return [int(v) for v in value.reshape(-1).tolist()]

    def _resized_like(self, node: Any) -> tuple[str, tuple[SizeMap, ...]] | None:
        """Where a Resize's sizes are computed at run time as the input's N and C, then per
        spatial axis a constant (torch's ``Upsample(size=...)``) or a formula of one tensor's
        dim on that axis (``size=y.shape[2:]``, or the dynamo exporter's arithmetic): the
        tensor its size follows, and its size map per axis."""
        sizes = self.dims.get(self._inputs(node, 3) or "")
        if sizes is None or len(sizes) != self.rank + 2 or "axes" in self._attributes(node):
            return None
        spatial = sizes[2:]
        tensors = {dim[0] for dim in spatial if isinstance(dim, tuple)}
        source = tensors.pop() if len(tensors) == 1 else node.input[0] if not tensors else None
        if source not in self.spatial or any(
            isinstance(dim, tuple) and dim[1] != 2 + a for a, dim in enumerate(spatial)
        ):
            return None
        return source, tuple(
            SizeMap((dim[2],)) if isinstance(dim, tuple) else layers.resize(dim) for dim in spatial
        )

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


def _arithmetic(op: str, one: Dim, other: Dim) -> Dim | None:
    """A dim formula and an integer through ``op``, as a formula (None where it is not one):
    ``floor((num*n + off) / den)``, since a floor divided again is one floor."""
    if not isinstance(one, tuple) or not isinstance(other, int):
        if op in ("Add", "Mul") and isinstance(other, tuple) and isinstance(one, int):
            return _arithmetic(op, other, one)
        return None
    tensor, axis, term = one
    if op in ("Add", "Sub"):
        shift = other if op == "Add" else -other
        return tensor, axis, Term(term.numerator, term.offset + shift * term.denominator, term.denominator)
    if op == "Div" and other > 0:  # integer Div truncates: a floor on the positive sizes it divides
        return tensor, axis, Term(term.numerator, term.offset, term.denominator * other)
    if op == "Mul" and other > 0 and term.denominator == 1:
        return tensor, axis, Term(term.numerator * other, term.offset * other)
    return None


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
