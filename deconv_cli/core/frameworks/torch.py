"""PyTorch's ``ConvTranspose{1,2,3}d``."""

from __future__ import annotations

from collections.abc import Sequence

from deconv_cli.core.frameworks.base import Framework, Params
from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding


class Torch(Framework):
    """``torch.nn.ConvTranspose{1,2,3}d`` / ``F.conv_transpose{1,2,3}d``.

    ``O = F - 2p + op``, crop ``(p, p - op)``: symmetric padding only, so an odd
    total crop lands at the start; ``op < stride or op < dilation``;
    ``forward(output_size=...)`` accepts ``[F-2p, F-2p+s-1]`` (stride only).
    """

    name = "torch"
    api = "torch.nn.ConvTranspose{n}d"
    kinds = ("explicit",)

    def _padding(self, padding: Padding) -> int:
        if padding.mode == "valid":
            return 0
        if padding.mode != "explicit":
            raise self.fail(
                f"ConvTranspose has no padding='{padding.mode}' (TypeError at forward, "
                "pytorch#80301); give an int padding, or define the layer with "
                "--framework tf and read its torch row"
            )
        begin, end = self._explicit(padding)
        if begin != end:
            raise self.fail(
                f"padding is symmetric, one int per axis (got {padding}); define the "
                "asymmetric crop with --framework onnx and read its torch row"
            )
        return begin

    def reach(self, axis: Axis, rank: int) -> dict[Mode, tuple[range, ...]]:
        # F - 2p + op: op < max(s, d) fills every size below F + op's limit, else one parity
        if axis.output_padding_limit > 1:
            return {"explicit": (range(1, axis.full + axis.output_padding_limit),)}
        return {"explicit": (range(2 - axis.full % 2, axis.full + 1, 2),)}

    def candidates(self, axis: Axis, options: Options) -> Sequence[int]:
        low = axis.full - 2 * self._padding(options.padding)
        return range(max(low, 1), low + axis.stride)

    def resolve(self, axis: Axis, options: Options) -> Layer:
        padding = self._padding(options.padding)
        low = axis.full - 2 * padding
        if options.output_shape is not None:  # torch then ignores output_padding
            high = low + axis.stride - 1
            if not low <= options.output_shape <= high:
                raise self.fail(
                    f"output_size must be in [{low}, {high}] for padding={padding} "
                    f"(got {options.output_shape})"
                )
            output_padding = options.output_shape - low
        else:
            output_padding = options.output_padding or 0
            self.check_output_padding(axis, output_padding, axis.output_padding_limit)
        output = low + output_padding
        if output < 1:
            raise self.fail(
                f"output size must be >= 1 (got {output} = {axis.full} - 2*{padding} + "
                f"{output_padding}); use padding <= {(axis.full + output_padding - 1) // 2}"
            )
        return Layer(output, padding, padding - output_padding)

    def params(self, axes: Sequence[Axis], options: Sequence[Options]) -> Params:
        layers = [self.resolve(a, o) for a, o in zip(axes, options, strict=True)]
        return {
            "padding": [layer.begin for layer in layers],
            "output_padding": [layer.begin - layer.end for layer in layers],
        }
