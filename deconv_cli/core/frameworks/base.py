"""The rules every framework follows: resolve options to a layer, candidates, reach, parameters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding
from deconv_cli.errors import DeconvError

Params = dict[str, object]
#: each weight_layout (below) and data layout as messages and help write them
WEIGHT_SHAPES = {
    "in_out": "(C_in, C_out/groups, *k)",
    "k_out_in": "(*k, C_out/groups, C_in)",
    "k_in_out_flipped": "(*k, C_in, C_out), spatially flipped",
}
DATA_SHAPES = {False: "(N, C, *spatial)", True: "(N, *spatial, C)"}
#: an upper end for sizes that grow without bound (jax's edge padding can append any number of zeros)
UNBOUNDED = 1 << 62


class Framework(ABC):
    """The conventions of one framework's transposed convolution."""

    name: ClassVar[str]
    api: ClassVar[str]
    #: padding kinds it can express, in the order a translation prefers them
    kinds: ClassVar[tuple[Mode, ...]]
    #: where a kind is limited to some ranks, which ones (for the error message)
    _rank_note: ClassVar[str] = ""
    #: data layout: (N, *spatial, C) when True, else (N, C, *spatial)
    channels_last: ClassVar[bool] = False
    #: weight layout: "in_out" (C_in, C_out/groups, *k), "k_out_in" (*k, C_out, C_in), or
    #: "k_in_out_flipped" (*k, C_in, C_out) applied unflipped as a direct convolution
    weight_layout: ClassVar[str] = "in_out"
    #: the ranks in which it has grouped transposed convolutions
    grouped_ranks: ClassVar[tuple[int, ...]] = (1, 2, 3)

    @property
    def has_groups(self) -> bool:
        """Whether it has grouped transposed convolutions at all."""
        return bool(self.grouped_ranks)

    def check_groups(self, groups: int, rank: int) -> None:
        """Refuse groups where the framework has no grouped transposed convolution of this rank."""
        if groups > 1 and rank not in self.grouped_ranks:
            where = f"in {rank}-D" if self.grouped_ranks else "at all"
            raise self.fail(f"has no grouped transposed convolution {where} (got groups {groups})")

    def fail(self, message: str) -> DeconvError:
        return DeconvError(f"{self.name}: {message}")

    def check_output_padding(self, axis: Axis, output_padding: int, allowed: int) -> None:
        """PyTorch's and ONNX Runtime's rule, output_padding < max(stride, dilation); the hint
        names ``allowed``, the bound the framework's other rules leave."""
        limit = axis.output_padding_limit
        if output_padding >= limit:
            raise self.fail(
                f"output_padding must be < max(stride, dilation) = {limit} "
                f"(got {output_padding}); {op_hint(allowed)}"
            )

    @abstractmethod
    def resolve(self, axis: Axis, options: Options) -> Layer:
        """The layer these options give on ``axis``, or the framework's error."""

    @abstractmethod
    def candidates(self, axis: Axis, options: Options) -> Sequence[int]:
        """Every output size it accepts as a requested size with this padding (a ``range``
        where they are many: its length can be a stride of 10^9)."""

    @abstractmethod
    def params(self, axes: Sequence[Axis], options: Sequence[Options]) -> Params:
        """Its own parameter names and values for these (valid) options."""

    def kinds_for(self, rank: int) -> tuple[Mode, ...]:
        """The padding kinds it offers for ``rank`` spatial axes."""
        return self.kinds

    @abstractmethod
    def reach(self, axis: Axis, rank: int) -> dict[Mode, tuple[range, ...]]:
        """Every output size some setting reaches on ``axis``, per padding kind (odd settings
        included: crops that discard inputs, appended zeros). Closed forms, so cheap for any size."""

    def padding_for(self, axis: Axis, begin: int, end: int) -> Padding:
        """Its explicit padding that crops ``begin:end`` (a crop in every framework but jax)."""
        return Padding.explicit(begin, end)

    def crop_of(self, axis: Axis, padding: Padding) -> tuple[int, int]:
        """The crop ``begin:end`` its explicit ``padding`` means (inverse of ``padding_for``)."""
        return padding.begin, padding.end

    def check(self, axes: Sequence[Axis], options: Sequence[Options]) -> None:
        """Rules across axes, before any axis is resolved."""
        mode = options[0].padding.mode
        if mode not in self.kinds_for(len(axes)) and mode in self.kinds:
            raise self.fail(
                f"{mode} padding exists only for {self._rank_note}; define this layer "
                "with --framework onnx (or torch) to see how tf writes it"
            )

    def layers(self, axes: Sequence[Axis], options: Sequence[Options]) -> tuple[Layer, ...]:
        """``resolve`` on every axis; an error says which axis when there are several."""
        self.check(axes, options)
        layers = []
        for index, (axis, option) in enumerate(zip(axes, options, strict=True)):
            try:
                layers.append(self.resolve(axis, option))
            except DeconvError as error:
                if len(axes) == 1:
                    raise
                message = str(error).removeprefix(f"{self.name}: ")
                raise self.fail(f"axis {index}: {message}") from None
        return tuple(layers)

    def _explicit(self, padding: Padding) -> tuple[int, int]:
        if padding.begin < 0 or padding.end < 0:
            raise self.fail(
                f"padding must be >= 0 (got {padding}); only jax's padding appends zeros "
                "(--framework jax, where --padding is lax.conv_transpose's edge padding)"
            )
        return padding.begin, padding.end


def op_hint(limit: int) -> str:
    return f"use --op {limit - 1} or less" if limit > 1 else "omit --op"


def written(values: Sequence[int]) -> str:
    return str(values[0]) if len(values) == 1 else f"({', '.join(map(str, values))})"
