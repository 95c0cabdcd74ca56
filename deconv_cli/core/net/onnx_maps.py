"""The size maps of the ONNX operators ``core.net.onnx`` reads: each node's output size per
spatial axis as a function of its input's, from its attributes and constant inputs."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Options
from deconv_cli.core.geometry import Padding as Crop
from deconv_cli.core.net import layers
from deconv_cli.core.net import onnx_checks as checks
from deconv_cli.core.net.graph import SizeMap, Term
from deconv_cli.errors import DeconvError, ExitCode

POOLS = {"MaxPool": "max_pool", "AveragePool": "avg_pool", "LpPool": "avg_pool"}
REDUCTIONS = {
    "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
}  # fmt: skip


class SizeMaps:
    """The operator half of the ONNX reader (its graph walk is ``onnx._Reader``), which gives it
    the rank, the graph, and the reading of attributes and constants."""

    rank: int
    graph: Any
    _attributes: Callable[[Any], dict[str, Any]]
    _constant: Callable[[str, Any, str], Any]
    _ints: Callable[[str | None, Any, str], list[int]]
    _label: Callable[[Any], str]
    _value: Callable[[str], Any]

    def _maps(self, node: Any, op: str, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        rank = self.rank
        try:
            if op in ("Conv", "ConvTranspose") or op in POOLS:
                return self._window(node, op, attributes)
            if op.startswith("Global") and op.endswith("Pool"):
                return tuple(layers.resize(1) for _ in range(rank))
            if op in REDUCTIONS:
                return self._reduce(node, attributes)
            if op == "DepthToSpace":  # torch's PixelShuffle: every spatial axis times the block
                block = checks.int_list([attributes.get("blocksize")], "blocksize")[0]
                return tuple(layers.upsample("onnx", Fraction(block)) for _ in range(rank))
            if op in ("Resize", "Upsample"):
                return self._resize(node, op)
            if op == "Pad":
                return self._pad(node, attributes)
            if op == "Slice":
                return self._slice(node)
        except DeconvError as error:
            if str(error).startswith("node "):
                raise
            raise DeconvError(f"node {self._label(node)}: {error}", error.exit_code) from None
        raise DeconvError(
            f"node {self._label(node)}: deconv does not know how {op} changes spatial sizes; "
            "supported: Conv, ConvTranspose, pools, Resize, Upsample, DepthToSpace, Pad, Slice, reductions, "
            "Concat, elementwise joins and shape-neutral operators"
        )

    def _reduce(self, node: Any, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        """A reduction leaves 1 on the axes it reduces (or none, without keepdims: as 1, which
        the shape-neutral layers after it keep); the dynamo exporter's global average pool."""
        if "axes" in attributes:  # opset < 18
            axes = checks.int_list(attributes["axes"], "axes")
        else:
            name = self._inputs(node, 1)
            axes = self._ints(name, node, "axes") if name else []
        if not axes and not attributes.get("noop_with_empty_axes", 0):
            axes = list(range(self.rank + 2))  # no axes given: every axis
        reduced = {self._axis(axis, "axes") for axis in axes}
        return tuple(layers.resize(1) if 2 + a in reduced else SizeMap.affine(1, 0) for a in range(self.rank))

    def _spatial_ints(self, attributes: dict[str, Any], key: str, default: int) -> list[int]:
        values = checks.int_list(attributes.get(key, [default] * self.rank), key)
        if len(values) != self.rank:
            raise DeconvError(f"{key} has {len(values)} values for {self.rank} spatial axes")
        return values

    def _window(self, node: Any, op: str, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        rank = self.rank
        if "kernel_shape" in attributes:
            kernel = self._spatial_ints(attributes, "kernel_shape", 1)
        else:  # Conv may leave it to the weight's shape
            name = self._inputs(node, 1)
            weight = next((i for i in self.graph.initializer if i.name == name), None)  # dims only
            if weight is None or len(weight.dims) != rank + 2:
                raise DeconvError("kernel_shape is neither given nor readable from the weight")
            kernel = list(weight.dims[2:])
        strides = self._spatial_ints(attributes, "strides", 1)
        dilations = self._spatial_ints(attributes, "dilations", 1)
        auto_pad = attributes.get("auto_pad", "NOTSET")
        pads = checks.int_list(attributes.get("pads", [0] * 2 * rank), "pads")
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
            shape = checks.int_list(attributes["output_shape"], "output_shape")[-rank:]
            if len(shape) != rank:
                raise DeconvError(
                    f"output_shape has {len(shape)} values for {rank} spatial axes", ExitCode.FAILURE
                )
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
        # opset 18's axes: scales or sizes for those axes only, in that order
        given = self._attributes(node).get("axes")
        axes = list(range(rank + 2)) if given is None else checks.int_list(given, "axes")
        if scales:
            if not isinstance(scales, list) or not all(checks.finite(s) for s in scales):
                raise DeconvError(
                    f"scales must be finite numbers (got {checks.cut(scales)})", ExitCode.FAILURE
                )
            if given is None and len(scales) != rank + 2:
                raise DeconvError(
                    f"scales has {len(scales)} values for a rank-{rank + 2} input", ExitCode.FAILURE
                )
            if any(self._axis(a, "scales") < 2 and s != 1 for a, s in zip(axes, scales, strict=False)):
                raise DeconvError(f"scales must be 1 on the batch and channel axes (got {scales})")
            return self._on_axes(axes, scales, "scales", lambda s: layers.upsample("onnx", _fraction(s)))
        if sizes_name is None:
            raise DeconvError("neither scales nor sizes given")
        sizes = self._ints(sizes_name, node, "sizes")
        if given is None and len(sizes) != rank + 2:
            raise DeconvError(f"sizes has {len(sizes)} values for a rank-{rank + 2} input", ExitCode.FAILURE)
        return self._on_axes(axes, sizes, "sizes", layers.resize)

    def _on_axes(self, axes: list[int], values: list[Any], what: str, make: Any) -> tuple[SizeMap, ...]:
        """``make(value)`` on each spatial axis in ``axes``, the identity on the others."""
        if len(values) != len(axes):
            raise DeconvError(
                f"{what} has {len(values)} values for the {len(axes)} axes in axes", ExitCode.FAILURE
            )
        maps = [SizeMap.affine(1, 0)] * self.rank
        for axis, value in zip(axes, values, strict=True):
            axis = self._axis(axis, what)
            if axis >= 2:
                maps[axis - 2] = make(value)
        return tuple(maps)

    def _axis(self, axis: int, what: str) -> int:
        """``axis`` of the (N, C, spatial...) input counted from 0."""
        full = self.rank + 2
        if not -full <= axis < full:
            raise DeconvError(f"{what} on axis {axis}, outside a rank-{full} input", ExitCode.FAILURE)
        return axis % full

    def _pad(self, node: Any, attributes: dict[str, Any]) -> tuple[SizeMap, ...]:
        rank = self.rank
        if "pads" in attributes:  # opset < 11
            pads = checks.int_list(attributes["pads"], "pads")
        else:
            pads = self._ints(self._inputs(node, 1), node, "pads")
        axes_name = self._inputs(node, 3)
        axes = self._ints(axes_name, node, "axes") if axes_name else list(range(rank + 2))
        if len(pads) != 2 * len(axes):
            per = "axis in axes" if axes_name else f"axis of a rank-{rank + 2} input"
            raise DeconvError(
                f"pads has {len(pads)} values, expected 2 per {per} ({2 * len(axes)})", ExitCode.FAILURE
            )
        half = len(pads) // 2
        full = [(0, 0)] * (rank + 2)
        for axis, begin, end in zip(axes, pads[:half], pads[half:], strict=True):
            full[self._axis(axis, "pads")] = (begin, end)
        if full[0] != (0, 0):
            raise DeconvError(f"pads the batch axis (got {pads})")
        reflect = attributes.get("mode", "constant") == "reflect"
        return tuple(layers.pad(*full[2 + a], reflect=reflect) for a in range(rank))

    def _slice(self, node: Any) -> tuple[SizeMap, ...]:
        starts = self._ints(self._inputs(node, 1), node, "starts")
        ends = self._ints(self._inputs(node, 2), node, "ends")
        axes_name, steps_name = self._inputs(node, 3), self._inputs(node, 4)
        axes = self._ints(axes_name, node, "axes") if axes_name else list(range(len(starts)))
        steps = self._ints(steps_name, node, "steps") if steps_name else [1] * len(starts)
        counts = {"starts": len(starts), "ends": len(ends)}  # axes and steps when given
        counts |= {
            key: len(values)
            for key, name, values in (("axes", axes_name, axes), ("steps", steps_name, steps))
            if name
        }
        if len(set(counts.values())) != 1:
            listed = ", ".join(f"{key} {count}" for key, count in counts.items())
            raise DeconvError(
                f"{', '.join(counts)} must have one value per sliced axis (got {listed})", ExitCode.FAILURE
            )
        maps = [SizeMap.affine(1, 0)] * self.rank
        for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
            axis = self._axis(axis, "slices")
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


def _fraction(scale: float) -> Fraction:
    """A float scale as a fraction, snapped to a small denominator (2.0 -> 2, 0.5 -> 1/2)."""
    exact = Fraction(scale)
    near = exact.limit_denominator(1000)
    return near if abs(near - exact) < Fraction(1, 10**6) else exact
