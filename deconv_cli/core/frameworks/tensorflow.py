"""TensorFlow's ``tf.nn.conv{1,2,3}d_transpose``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from deconv_cli.core.frameworks.base import Framework, Params
from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding, split


class TensorFlow(Framework):
    """``tf.nn.conv_transpose`` (``conv{1,2,3}d_transpose``); it needs ``output_shape``.

    Accepted ``output_shape``: SAME ``[(n-1)s+1, n*s]``, VALID ``[F, F+s-1]``,
    explicit ``[F-b-e, F-b-e+s-1]``. SAME crops ``max(0, F-O)``, the odd element
    at the end. Without ``--output-shape`` deconv assumes ``n*s`` for SAME and
    the smallest accepted size otherwise (``+ output_padding`` if given).
    """

    name = "tf"
    api = "tf.nn.conv{n}d_transpose"
    channels_last = True
    weight_layout = "k_out_in"
    kinds = ("same", "valid", "explicit")
    _rank_note = "2-D in tf.nn (conv1d/conv3d_transpose take 'SAME' or 'VALID')"
    #: kinds the CPU kernel (Conv2DBackpropInput) runs with a dilation > 1: explicit padding
    #: fails with "Current CPU implementations do not yet support dilation rates larger than 1";
    #: SAME and VALID run through oneDNN (TF's default on x86) in float32
    dilated_kinds: ClassVar[tuple[Mode, ...]] = ("same", "valid")
    #: Conv3DBackpropInputV2 refuses groups ("input and filter must have the same depth")
    grouped_ranks = (1, 2)

    def kinds_for(self, rank: int) -> tuple[Mode, ...]:
        return self.kinds if rank == 2 else ("same", "valid")

    def reach(self, axis: Axis, rank: int) -> dict[Mode, tuple[range, ...]]:
        kinds = [k for k in self.kinds_for(rank) if axis.dilation == 1 or k in self.dilated_kinds]
        # explicit paddings b, e >= 0 with output_shape up to F - b - e + s - 1
        found = {
            "same": range(axis.dilated, axis.same + 1),
            "valid": range(axis.full, axis.full + axis.stride),
        }
        found["explicit"] = range(1, axis.full + axis.stride)
        return {kind: (found[kind],) for kind in kinds}

    def check(self, axes: Sequence[Axis], options: Sequence[Options]) -> None:
        super().check(axes, options)
        self._dilation(max(a.dilation for a in axes), options[0].padding)

    def _dilation(self, dilation: int, padding: Padding) -> None:
        if dilation > 1 and padding.mode not in self.dilated_kinds:
            raise self.fail(
                f"the CPU kernel rejects {padding.mode} padding with dilation > 1 (got "
                f"dilations={dilation}: 'Current CPU implementations do not yet support dilation "
                "rates larger than 1'); use padding VALID then slice, as the tf row shows"
            )

    def _range(self, axis: Axis, padding: Padding) -> tuple[int, int]:
        if padding.mode == "same_lower":
            raise self.fail(
                "padding must be 'SAME', 'VALID' or explicit (got same_lower); "
                "write the crop as --padding B:E"
            )
        if padding.mode == "same":
            return axis.dilated, axis.same
        begin, end = self._explicit(padding)
        low = axis.full - begin - end
        return low, low + axis.stride - 1

    def candidates(self, axis: Axis, options: Options) -> Sequence[int]:
        low, high = self._range(axis, options.padding)
        return range(max(low, 1), high + 1)

    def resolve(self, axis: Axis, options: Options) -> Layer:
        self._dilation(axis.dilation, options.padding)
        low, high = self._range(axis, options.padding)
        same = options.padding.mode == "same"
        if options.output_shape is not None:
            if options.output_padding is not None:
                raise self.fail("give output_shape or output_padding, not both")
            output = options.output_shape
        elif options.output_padding is not None:
            if same:
                raise self.fail(f"SAME has no output_padding; give --output-shape in [{low}, {high}]")
            if options.output_padding >= axis.stride:
                raise self.fail(
                    f"output_padding must be < stride = {axis.stride} "
                    f"(got {options.output_padding}): output_shape must be in [{low}, {high}]"
                )
            output = low + options.output_padding
        else:
            output = high if same else low
        if not max(low, 1) <= output <= high:
            raise self.fail(
                f"output_shape must be in [{max(low, 1)}, {high}] for padding="
                f"{options.padding} (got {output}): its forward conv gives "
                f"{axis.forward(output, *self._pads(axis, options.padding, output))}, not {axis.n}"
            )
        return Layer.ending(axis, self._pads(axis, options.padding, output)[0], output)

    def _pads(self, axis: Axis, padding: Padding, output: int) -> tuple[int, int]:
        """The forward conv's padding (= this op's crop) for ``output``."""
        if padding.mode == "same":
            # GetWindowedOutputSizeVerbose: SAME pads max(0, needed), odd one at the end
            needed = ((output + axis.stride - 1) // axis.stride - 1) * axis.stride
            return split(max(0, needed + axis.extent - output), "end")
        return self._explicit(padding)

    def params(self, axes: Sequence[Axis], options: Sequence[Options]) -> Params:
        layers = [self.resolve(a, o) for a, o in zip(axes, options, strict=True)]
        mode = options[0].padding.mode
        padding: object = mode.upper()
        if mode == "explicit":
            padding = [[0, 0], *([o.padding.begin, o.padding.end] for o in options), [0, 0]]
        return {"padding": padding, "output_shape": [layer.output for layer in layers]}
