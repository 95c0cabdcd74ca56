"""ONNX ``ConvTranspose`` as ONNX Runtime runs it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from deconv_cli.core.frameworks.base import Framework, Params, op_hint
from deconv_cli.core.geometry import Axis, Layer, Mode, Options


class Onnx(Framework):
    """ONNX ``ConvTranspose`` as ONNX Runtime runs it.

    ``O = F + op - pads_begin - pads_end``; SAME_* crop ``max(0, F + op - n*s)``
    (so ``min(n*s, F + op)`` when the kernel is smaller than the stride), the odd
    element at the end for SAME_UPPER, at the start for SAME_LOWER and for
    ``output_shape`` without SAME_UPPER; ``op < stride`` in practice.
    """

    name = "onnx"
    api = "onnx ConvTranspose"
    kinds = ("same", "same_lower", "valid", "explicit")

    def _output_padding(self, axis: Axis, options: Options) -> int:
        output_padding = options.output_padding or 0
        self.check_output_padding(axis, output_padding, axis.stride)
        if output_padding >= axis.stride:
            raise self.fail(
                f"output_padding must be < stride = {axis.stride} (got {output_padding}); "
                f"{op_hint(axis.stride)} (ONNX Runtime's shape check fails beyond the stride)"
            )
        return output_padding

    def reach(self, axis: Axis, rank: int) -> dict[Mode, tuple[range, ...]]:
        # output_shape overrides every padding kind and takes any size up to F + s - 1
        return {kind: (range(1, axis.full + axis.stride),) for kind in self.kinds}

    def candidates(self, axis: Axis, options: Options) -> Sequence[int]:
        self._output_padding(axis, options)  # ORT checks it first; the range does not depend on it
        if options.padding.mode == "explicit":
            self._explicit(options.padding)
        return range(1, axis.full + axis.stride)

    def resolve(self, axis: Axis, options: Options) -> Layer:
        output_padding = self._output_padding(axis, options)
        mode = options.padding.mode
        odd_at: Literal["begin", "end"] = "end" if mode == "same" else "begin"
        extended = axis.full + output_padding
        if mode == "explicit":
            self._explicit(options.padding)  # checked even where output_shape overrides it
        if options.output_shape is not None:
            top = axis.full + axis.stride - 1
            if options.output_shape < 1:
                raise self.fail(f"output_shape must be positive (got {options.output_shape})")
            if options.output_shape > top:
                raise self.fail(
                    f"output_shape must be <= (n-1)*stride + extent + stride - 1 = {top} "
                    f"(got {options.output_shape})"
                )
            return Layer.centred(axis, options.output_shape, odd_at, output_padding)
        if mode in ("same", "same_lower"):
            return Layer.centred(axis, min(extended, axis.same), odd_at, output_padding)
        begin, end = self._explicit(options.padding)
        layer = Layer(extended - begin - end, begin, end - output_padding)
        if layer.output < 1:
            raise self.fail(
                f"output size must be >= 1 (got {layer.output} = {extended} - {begin} - {end}); reduce pads"
            )
        return layer

    def params(self, axes: Sequence[Axis], options: Sequence[Options]) -> Params:
        mode = options[0].padding.mode
        params: Params = {}
        if mode == "explicit":
            params["pads"] = [o.padding.begin for o in options] + [o.padding.end for o in options]
        else:
            params["auto_pad"] = {"same": "SAME_UPPER", "same_lower": "SAME_LOWER"}.get(mode, "VALID")
        if any(o.output_padding for o in options):
            params["output_padding"] = [o.output_padding or 0 for o in options]
        if any(o.output_shape is not None for o in options):
            params["output_shape"] = [self.resolve(a, o).output for a, o in zip(axes, options, strict=True)]
        return params
