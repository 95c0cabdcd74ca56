"""JAX's ``lax.conv_transpose``."""

from __future__ import annotations

from collections.abc import Sequence

from deconv_cli.core.frameworks.base import UNBOUNDED, Framework, Params
from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding


class Jax(Framework):
    """``jax.lax.conv_transpose`` (no output_padding, no output_shape).

    SAME: ``n*s``, crop start ``max(0, ke-s)//2``; VALID: ``(n-1)s + max(ke, s)``.
    Explicit ``padding`` is what ``lax.conv_transpose`` takes by default: ``(lo, hi)``
    zeros added at the edges of the zero-inserted input (negative: removed), so the crop
    is ``(ke-1-lo, ke-1-hi)`` and the output ``(n-1)s + 1 + lo + hi - ke + 1``.
    """

    name = "jax"
    api = "jax.lax.conv_transpose"
    channels_last = True
    weight_layout = "k_in_out_flipped"
    grouped_ranks = ()
    kinds = ("same", "valid", "explicit")

    def padding_for(self, axis: Axis, begin: int, end: int) -> Padding:
        edge = axis.extent - 1
        return Padding.explicit(edge - begin, edge - end)

    def crop_of(self, axis: Axis, padding: Padding) -> tuple[int, int]:
        edge = axis.extent - 1
        return edge - padding.begin, edge - padding.end

    def reach(self, axis: Axis, rank: int) -> dict[Mode, tuple[range, ...]]:
        same, valid = self.resolve(axis, Options(Padding("same"))), self.resolve(axis, Options())
        return {
            "same": (range(same.output, same.output + 1),),
            "valid": (range(valid.output, valid.output + 1),),
            "explicit": (range(1, UNBOUNDED),),
        }

    def candidates(self, axis: Axis, options: Options) -> Sequence[int]:
        return (self.resolve(axis, Options(options.padding)).output,)

    def resolve(self, axis: Axis, options: Options) -> Layer:
        if options.output_padding is not None:
            raise self.fail(
                "lax.conv_transpose has no output_padding; add the zeros to the edge padding "
                "--padding LO:HI (HI + 1 appends one zero)"
            )
        mode = options.padding.mode
        if mode == "same_lower":
            raise self.fail("padding must be 'SAME', 'VALID' or explicit pairs (got same_lower)")
        if mode == "same":
            layer = Layer.ending(axis, max(0, axis.extent - axis.stride) // 2, axis.same)
        elif mode == "valid":
            layer = Layer.ending(axis, 0, axis.valid)
        else:
            layer = Layer.crop(axis, *self.crop_of(axis, options.padding))
            if layer.output < 1:
                raise self.fail(
                    f"output would be empty ({layer.output} = {axis.dilated} + "
                    f"{options.padding.begin} + {options.padding.end} - {axis.extent} + 1); "
                    "pad more"
                )
        if options.output_shape not in (None, layer.output):
            raise self.fail(
                f"lax.conv_transpose has no output_shape; padding={options.padding} gives "
                f"{layer.output} (got {options.output_shape})"
            )
        return layer

    def params(self, axes: Sequence[Axis], options: Sequence[Options]) -> Params:
        mode = options[0].padding.mode
        if mode != "explicit":
            return {"padding": mode.upper()}
        return {"padding": [[o.padding.begin, o.padding.end] for o in options]}
