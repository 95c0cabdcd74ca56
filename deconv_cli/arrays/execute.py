"""``conv_transpose``: run a transposed convolution on numpy arrays exactly as a framework does.

The framework's rules (``frameworks``) give the crop of every axis; this module
only moves axes between the framework's layouts and the engine's
``(N, C, *spatial)`` / ``(C_in, C_out/groups, *k)`` layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from deconv_cli.arrays import engine
from deconv_cli.arrays.stream import REAL_KINDS
from deconv_cli.core.frameworks import DATA_SHAPES, FRAMEWORKS, WEIGHT_SHAPES, Framework
from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.core.parse import MODES, spread
from deconv_cli.errors import DeconvError

if TYPE_CHECKING:
    import numpy.typing as npt

Layout = Literal["channels_first", "channels_last"]
PaddingArg = int | str | Sequence[int | tuple[int, int]]
IntArg = int | Sequence[int]


def conv_transpose(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    *,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    output_padding: IntArg | None = None,
    dilation: IntArg = 1,
    groups: int = 1,
    bias: npt.ArrayLike | None = None,
    framework: str = "torch",
    output_shape: IntArg | None = None,
    layout: Layout | None = None,
    max_memory: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> npt.NDArray[np.generic]:
    """The transposed convolution of ``x`` by ``w`` as ``framework`` computes it.

    ``x`` and ``w`` are in the framework's own layouts (``framework.channels_last``,
    ``framework.weight_layout``; ``layout`` overrides the data layout); ``x`` may lack
    the batch axis. ``padding`` is ``"valid"``, ``"same"``, ``"same_lower"``, a crop per
    axis (int), or ``(begin, end)`` pairs. ``output_padding=None`` means not given,
    which Keras treats differently from 0. float16 is computed in float32 and
    returned as float16; integers become float32.

    >>> conv_transpose([[[1.0, 2.0]]], [[[1.0, 1.0, 1.0]]], stride=2).tolist()
    [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    rules = _framework(framework)
    job = _Job.of(x, w, rules, stride, dilation, groups, bias, layout)
    layers = rules.layers(job.axes, _options(padding, output_padding, output_shape, len(job.axes)))
    return job.run(tuple((layer.begin, layer.end) for layer in layers), max_memory, progress)


def full_result(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    *,
    stride: IntArg = 1,
    dilation: IntArg = 1,
    framework: str = "torch",
    layout: Layout | None = None,
) -> npt.NDArray[np.generic]:
    """The uncropped result every framework crops, in ``framework``'s layouts.

    >>> full_result([[[1.0, 2.0]]], [[[1.0, 1.0, 1.0]]], stride=2).tolist()
    [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    job = _Job.of(x, w, _framework(framework), stride, dilation, 1, None, layout)
    return job.run(((0, 0),) * len(job.axes), None, None)


@dataclass(frozen=True)
class _Job:
    """Arrays checked and moved to the engine's layout, and how to move the result back."""

    data: npt.NDArray[Any]  # (N, C_in, *spatial)
    weight: npt.NDArray[Any]  # (C_in, C_out/groups, *k)
    bias: npt.NDArray[Any] | None
    axes: tuple[Axis, ...]
    groups: int
    channels_last: bool
    unbatched: bool
    dtype: np.dtype[np.generic]

    @classmethod
    def of(
        cls,
        x: npt.ArrayLike,
        w: npt.ArrayLike,
        rules: Framework,
        stride: IntArg,
        dilation: IntArg,
        groups: int,
        bias: npt.ArrayLike | None,
        layout: Layout | None,
    ) -> _Job:
        data, kernel = np.asarray(x), np.asarray(w)
        # the messages name the layouts in use: the framework's, or --layout's for the data
        if kernel.ndim not in (3, 4, 5):
            raise DeconvError(
                f"weight must have 3, 4 or 5 dimensions: {rules.name}'s "
                f"{WEIGHT_SHAPES[rules.weight_layout]}, with 1-3 kernel axes (got shape {kernel.shape})"
            )
        rank = kernel.ndim - 2
        channels_last = rules.channels_last if layout is None else layout == "channels_last"
        if data.ndim not in (rank + 1, rank + 2):
            raise DeconvError(
                f"input must have {rank + 2} dimensions {DATA_SHAPES[channels_last]} with {rank} spatial, "
                f"or {rank + 1} without the batch N, to match a {rank}-D weight of shape {kernel.shape} "
                f"(got {data.shape})"
            )
        unbatched = data.ndim == rank + 1
        result_dtype, compute_dtype = _dtypes(data.dtype, kernel.dtype)
        # one copy each, in the engine's layout and dtype (the engine then copies nothing)
        nc = np.ascontiguousarray(
            _to_channels_first(data[None] if unbatched else data, channels_last), dtype=compute_dtype
        )
        torch_weight = np.ascontiguousarray(_to_torch_weight(kernel, rules), dtype=compute_dtype)
        in_channels, out_per_group = torch_weight.shape[:2]
        _check_channels(nc.shape[1], in_channels, groups, rules)
        shift = None
        if bias is not None:
            shift = np.asarray(bias).astype(compute_dtype, copy=False)
            if shift.shape != (out_per_group * groups,):
                raise DeconvError(
                    f"bias must have shape ({out_per_group * groups},) = C_out (got {shift.shape})"
                )
        axes = tuple(
            Axis(n, k, s, d)
            for n, k, s, d in zip(
                nc.shape[2:],
                torch_weight.shape[2:],
                _per_axis(stride, rank, "stride"),
                _per_axis(dilation, rank, "dilation"),
                strict=True,
            )
        )
        return cls(nc, torch_weight, shift, axes, groups, channels_last, unbatched, result_dtype)

    def run(
        self,
        crop: tuple[tuple[int, int], ...],
        max_memory: int | None,
        progress: Callable[[int, int], None] | None,
    ) -> npt.NDArray[np.generic]:
        out = engine.conv_transpose(
            self.data,
            self.weight,
            stride=tuple(a.stride for a in self.axes),
            dilation=tuple(a.dilation for a in self.axes),
            crop=crop,
            groups=self.groups,
            bias=self.bias,
            max_memory=max_memory,
            progress=progress,
        )
        result = _from_channels_first(out, self.channels_last)
        # one copy at most: the layout move and the dtype together
        return (result[0] if self.unbatched else result).astype(self.dtype, order="C", copy=False)


def _framework(name: str) -> Framework:
    if name not in FRAMEWORKS:
        raise DeconvError(f"framework must be one of {', '.join(FRAMEWORKS)} (got {name!r})")
    return FRAMEWORKS[name]


def _dtypes(
    x: np.dtype[np.generic], w: np.dtype[np.generic]
) -> tuple[np.dtype[np.generic], np.dtype[np.generic]]:
    """(result, computation) dtypes from the input's: float16 computes in float32, integers give float32."""
    for dtype in (x, w):
        if dtype.kind not in REAL_KINDS:
            raise DeconvError(f"arrays must hold real numbers (got dtype {dtype})")
    if x == np.float64:
        return x, x
    if x == np.float16:
        return x, np.dtype(np.float32)
    return np.dtype(np.float32), np.dtype(np.float32)


def _per_axis(value: IntArg, rank: int, name: str) -> tuple[int, ...]:
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(values) not in (1, rank) or any(not isinstance(v, int) or v < 1 for v in values):
        raise DeconvError(f"{name} must be a positive int or {rank} of them (got {value!r})")
    return spread(values, rank)


def _options(
    padding: PaddingArg, output_padding: IntArg | None, output_shape: IntArg | None, rank: int
) -> tuple[Options, ...]:
    if isinstance(padding, str):
        if padding.lower() not in MODES:
            raise DeconvError(
                f"padding must be valid, same, same_lower, ints or (begin, end) pairs (got {padding!r})"
            )
        paddings = (Padding(MODES[padding.lower()]),) * rank  # type: ignore[arg-type]
    else:
        items = (padding,) if isinstance(padding, int) else tuple(padding)
        paddings = spread(tuple(_crop(item) for item in items), rank)
    extras: tuple[int | None, ...] = (None,) * rank
    if output_padding is not None:
        extras = spread((output_padding,) if isinstance(output_padding, int) else tuple(output_padding), rank)
    wanted: tuple[int | None, ...] = (None,) * rank
    if output_shape is not None:
        wanted = spread((output_shape,) if isinstance(output_shape, int) else tuple(output_shape), rank)
    if not len(paddings) == len(extras) == len(wanted) == rank:
        raise DeconvError(f"padding, output_padding and output_shape need 1 or {rank} values each")
    return tuple(Options(*values) for values in zip(paddings, extras, wanted, strict=True))


def _crop(item: int | tuple[int, int]) -> Padding:
    if isinstance(item, int):
        return Padding.explicit(item, item)
    begin, end = item
    return Padding.explicit(begin, end)


def _to_channels_first(x: npt.NDArray[np.generic], channels_last: bool) -> npt.NDArray[np.generic]:
    return np.moveaxis(x, -1, 1) if channels_last else x


def _from_channels_first(x: npt.NDArray[np.generic], channels_last: bool) -> npt.NDArray[np.generic]:
    return np.moveaxis(x, 1, -1) if channels_last else x


def _to_torch_weight(w: npt.NDArray[np.generic], rules: Framework) -> npt.NDArray[np.generic]:
    """The weight as (C_in, C_out/groups, *k), applied without a flip."""
    rank = w.ndim - 2
    spatial = tuple(range(rank))
    if rules.weight_layout == "k_out_in":  # (*k, C_out/groups, C_in)
        return np.transpose(w, (rank + 1, rank, *spatial))
    if rules.weight_layout == "k_in_out_flipped":  # (*k, C_in, C_out), a direct-conv kernel
        return np.flip(np.transpose(w, (rank, rank + 1, *spatial)), axis=tuple(range(2, rank + 2)))
    return w


def _check_channels(channels: int, in_channels: int, groups: int, rules: Framework) -> None:
    if groups < 1:
        raise DeconvError(f"groups must be >= 1 (got {groups})")
    if groups > 1 and not rules.has_groups:
        raise DeconvError(f"{rules.name}: has no grouped transposed convolution (got groups={groups})")
    if channels != in_channels:
        raise DeconvError(
            f"input has {channels} channels but the weight expects C_in = {in_channels} "
            f"({rules.name} weight {WEIGHT_SHAPES[rules.weight_layout]}); check --framework or --layout"
        )
    if in_channels % groups:
        raise DeconvError(f"C_in = {in_channels} must be divisible by groups = {groups}")
