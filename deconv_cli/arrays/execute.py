"""``conv_transpose``: run a transposed convolution on numpy arrays exactly as a framework does.

The framework's rules (``frameworks``) give the crop of every axis; ``arguments`` checks
every argument (one ``DeconvError`` for anything hostile); this module plans the run from
shapes and dtypes alone (so the command can refuse a run that would not fit in memory
before reading its arrays), and runs it in the engine's layout (``layouts``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from deconv_cli.arrays import arguments, engine, layouts, taps
from deconv_cli.arrays.stream import human
from deconv_cli.core.frameworks import DATA_SHAPES, WEIGHT_SHAPES, Framework
from deconv_cli.core.geometry import Axis
from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    import numpy.typing as npt

Layout = Literal["channels_first", "channels_last"]
PaddingArg = int | str | Sequence[int | tuple[int, int]]
IntArg = int | Sequence[int]

#: strides, dilations and crops beyond this run tap by tap (``_sparse``): the engine's
#: plans loop over the phases of the stride and the span of the dilated kernel
ENGINE_LIMIT = 4096
#: kernel-sized rearrangements of the weight the engine may hold at once
WEIGHT_COPIES = 4


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
    which Keras treats differently from 0. Floats keep their dtype (float16 is computed
    in float32); integers and booleans become float32. ``max_memory`` (bytes) bounds the
    whole run, ``x`` and ``w`` and the result included; without it, a result larger than
    this machine's memory is refused.

    >>> conv_transpose([[[1.0, 2.0]]], [[[1.0, 1.0, 1.0]]], stride=2).tolist()
    [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    data, kernel, shift = (
        arguments.array(x, "x"),
        arguments.array(w, "w"),
        None if bias is None else arguments.array(bias, "bias"),
    )
    if progress is not None and not callable(progress):
        raise DeconvError(f"progress must be a function of (done, total) or None (got {progress!r})")
    job = plan(
        data.shape,
        data.dtype,
        kernel.shape,
        kernel.dtype,
        None if shift is None else shift.shape,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
        framework=framework,
        output_shape=output_shape,
        layout=layout,
    )
    job.check_memory(
        arguments.budget(max_memory, "max_memory"), "max_memory", loaded=_loaded(data, kernel, shift)
    )
    return job.run(data, kernel, shift, max_memory, progress)


def full_result(
    x: npt.ArrayLike,
    w: npt.ArrayLike,
    *,
    stride: IntArg = 1,
    dilation: IntArg = 1,
    framework: str = "torch",
    layout: Layout | None = None,
    max_memory: int | None = None,
    held: int = 0,
    cli_words: bool = False,
) -> npt.NDArray[np.generic]:
    """The uncropped result every framework crops, in ``framework``'s layouts; ``max_memory`` as
    in ``conv_transpose``, less the ``held`` bytes the caller keeps meanwhile, named
    ``--max-memory`` in messages with ``cli_words``.

    >>> full_result([[[1.0, 2.0]]], [[[1.0, 1.0, 1.0]]], stride=2).tolist()
    [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    data, kernel = arguments.array(x, "x"), arguments.array(w, "w")
    job = plan_full(data.shape, data.dtype, kernel.shape, kernel.dtype, stride, dilation, framework, layout)
    name = "--max-memory" if cli_words else "max_memory"
    job.check_memory(arguments.budget(max_memory, name), name, loaded=held + _loaded(data, kernel, None))
    return job.run(data, kernel, None, max_memory, None)


def plan(
    x_shape: tuple[int, ...],
    x_dtype: np.dtype[Any],
    w_shape: tuple[int, ...],
    w_dtype: np.dtype[Any],
    bias_shape: tuple[int, ...] | None = None,
    *,
    stride: IntArg = 1,
    padding: PaddingArg = 0,
    output_padding: IntArg | None = None,
    dilation: IntArg = 1,
    groups: int = 1,
    framework: str = "torch",
    output_shape: IntArg | None = None,
    layout: Layout | None = None,
    cli_words: bool = False,
) -> Job:
    """The run ``conv_transpose`` would do on arrays of these shapes and dtypes, every argument checked.

    Messages name the API's parameters (``output_padding``), or with ``cli_words`` the command's (``--op``).
    """
    rules = arguments.framework(framework)
    job = Job.of(x_shape, x_dtype, w_shape, w_dtype, bias_shape, rules, stride, dilation, groups, layout)
    options = arguments.options(padding, output_padding, output_shape, len(job.axes))
    try:
        layers = rules.layers(job.axes, options)
    except DeconvError as error:  # the core words its hints for the command line
        if cli_words:
            raise
        raise DeconvError(arguments.api_words(str(error)), error.exit_code) from None
    return job.cropped(tuple((layer.begin, layer.end) for layer in layers))


def plan_full(
    x_shape: tuple[int, ...],
    x_dtype: np.dtype[Any],
    w_shape: tuple[int, ...],
    w_dtype: np.dtype[Any],
    stride: IntArg = 1,
    dilation: IntArg = 1,
    framework: str = "torch",
    layout: Layout | None = None,
) -> Job:
    """``plan`` of the uncropped result (``full_result``)."""
    job = Job.of(
        x_shape, x_dtype, w_shape, w_dtype, None, arguments.framework(framework), stride, dilation, 1, layout
    )
    return job.cropped(((0, 0),) * len(job.axes))


def _loaded(*arrays: npt.NDArray[Any] | None) -> int:
    return sum(a.nbytes for a in arrays if a is not None)


@dataclass(frozen=True)
class Job:
    """A run decided by shapes and dtypes alone: the engine's layout, the crop, the result's
    shape and dtype, the memory it needs; ``run`` then takes the arrays."""

    axes: tuple[Axis, ...]
    crop: tuple[tuple[int, int], ...]
    rules: Framework
    groups: int
    channels_last: bool
    unbatched: bool
    batch: int
    in_channels: int
    out_channels: int
    x_dtype: np.dtype[Any]
    dtype: np.dtype[Any]  # the result's
    compute: np.dtype[Any]  # the engine's: native float32 or float64

    @classmethod
    def of(
        cls,
        x_shape: tuple[int, ...],
        x_dtype: np.dtype[Any],
        w_shape: tuple[int, ...],
        w_dtype: np.dtype[Any],
        bias_shape: tuple[int, ...] | None,
        rules: Framework,
        stride: IntArg,
        dilation: IntArg,
        groups: object,
        layout: object,
    ) -> Job:
        # the messages name the layouts in use: the framework's, or the layout argument's for x
        if len(w_shape) not in (3, 4, 5):
            raise DeconvError(
                f"w must have 3, 4 or 5 dimensions: {rules.name}'s {WEIGHT_SHAPES[rules.weight_layout]}, "
                f"with 1-3 kernel axes (got shape {w_shape})"
            )
        rank = len(w_shape) - 2
        if layout not in (None, "channels_first", "channels_last"):
            raise DeconvError(f"layout must be 'channels_first', 'channels_last' or None (got {layout!r})")
        channels_last = rules.channels_last if layout is None else layout == "channels_last"
        if len(x_shape) not in (rank + 1, rank + 2):
            raise DeconvError(
                f"x must have {rank + 2} dimensions {DATA_SHAPES[channels_last]} with {rank} spatial, "
                f"or {rank + 1} without the batch N, to match a {rank}-D weight of shape {w_shape} "
                f"(got {x_shape})"
            )
        count = arguments.integer(groups, "groups", 1)
        unbatched = len(x_shape) == rank + 1
        shape = (1, *x_shape) if unbatched else x_shape
        batch, channels, spatial = (
            (shape[0], shape[-1], shape[1:-1]) if channels_last else (shape[0], shape[1], shape[2:])
        )
        in_channels, out_per_group, kernel = layouts.torch_weight_shape(w_shape, rules)
        rules.check_groups(count, rank)
        arguments.channels(channels, in_channels, count, rules)
        if bias_shape is not None and bias_shape != (out_per_group * count,):
            raise DeconvError(f"bias must have shape ({out_per_group * count},) = C_out (got {bias_shape})")
        result, compute = arguments.dtypes(x_dtype, w_dtype)
        axes = tuple(
            Axis(n, k, s, d)
            for n, k, s, d in zip(
                spatial,
                kernel,
                arguments.ints(stride, rank, "stride", 1),
                arguments.ints(dilation, rank, "dilation", 1),
                strict=True,
            )
        )
        return cls(
            axes, (), rules, count, channels_last, unbatched, batch, in_channels,
            out_per_group * count, x_dtype, result, compute,
        )  # fmt: skip

    def cropped(self, crop: tuple[tuple[int, int], ...]) -> Job:
        return replace(self, crop=crop)

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(a.full - begin - end for a, (begin, end) in zip(self.axes, self.crop, strict=True))

    @property
    def shape(self) -> tuple[int, ...]:
        """The result's shape, in the framework's layout."""
        channels = (self.out_channels,)
        spatial = self.lengths
        shape = (self.batch, *spatial, *channels) if self.channels_last else (self.batch, *channels, *spatial)
        return shape[1:] if self.unbatched else shape

    @property
    def sparse(self) -> bool:
        """Whether the stride, dilation or crop is too large for the engine's plans."""
        return any(
            max(a.stride, a.dilation, abs(begin), abs(end)) > ENGINE_LIMIT
            for a, (begin, end) in zip(self.axes, self.crop, strict=True)
        )

    def memory(self, loaded: int) -> tuple[int, int]:
        """(bytes without the engine's scratch, scratch bytes of one sample) beyond ``loaded``.

        Counted: the input in the engine's dtype and layout (unless it already is), the
        weight's kernel-sized copies, the engine's output, the result in its own dtype
        and layout (unless the engine's output already is), and the engine's work.
        """
        size = self.compute.itemsize
        spatial_in = math.prod(a.n for a in self.axes)
        outputs = self.batch * self.out_channels * math.prod(self.lengths)
        kernel = (
            self.in_channels
            * (self.out_channels // self.groups)
            * math.prod(a.kernel_size for a in self.axes)
        )
        moved = self.channels_last and self.in_channels > 1
        x_copy = (
            0 if self.x_dtype == self.compute and not moved else self.batch * self.in_channels * spatial_in
        )
        y_copy = (
            0
            if self.dtype == self.compute and not (self.channels_last and self.out_channels > 1)
            else outputs
        )
        fixed = (x_copy + WEIGHT_COPIES * kernel + outputs) * size + y_copy * self.dtype.itemsize
        return loaded + fixed, self._scratch() * size

    def _scratch(self) -> int:
        """Elements of engine work for one sample (its chunks never need more)."""
        if self.sparse:
            return self.out_channels * math.prod(self.lengths)
        per_sample, fixed = engine_scratch(self)
        return per_sample + fixed

    def check_memory(self, budget: int | None, option: str, loaded: int) -> None:
        """Refuse, before any work, a run that needs more than ``budget`` bytes (or, without
        one, a result larger than this machine's memory), naming what it would take."""
        result = math.prod(self.shape) * self.dtype.itemsize
        what = f"the result would have shape {self.shape} {self.dtype.name} = {human(result)}"
        if budget is None:
            if result > _physical_memory():
                raise DeconvError(
                    f"{what}, more than this machine's memory ({human(_physical_memory())})", ExitCode.FAILURE
                )
            return
        if self.lengths and result > budget:
            raise DeconvError(f"{what}, more than {option} {human(budget)}", ExitCode.FAILURE)
        fixed, scratch = self.memory(loaded)
        if fixed + scratch > budget:
            least = -(-(fixed + scratch) // (1 << 20))
            raise DeconvError(
                f"this run needs at least {human(fixed + scratch)} (input, weight, result and one sample's "
                f"work), more than {option} {human(budget)}; give {option} {least}M or more",
                ExitCode.FAILURE,
            )

    def run(
        self,
        x: npt.NDArray[Any],
        w: npt.NDArray[Any],
        bias: npt.NDArray[Any] | None,
        max_memory: int | None,
        progress: Callable[[int, int], None] | None,
    ) -> npt.NDArray[Any]:
        """The result, in the framework's layout and the result dtype."""
        batched = x[None] if self.unbatched else x
        # one copy each, in the engine's layout and dtype (the engine then copies nothing)
        data = np.ascontiguousarray(
            layouts.to_channels_first(batched, self.channels_last), dtype=self.compute
        )
        weight = np.ascontiguousarray(layouts.to_torch_weight(w, self.rules), dtype=self.compute)
        shift = None if bias is None else np.asarray(bias, dtype=self.compute)
        budget = max_memory
        if max_memory is not None:
            fixed, _ = self.memory(0)
            budget = max(1, max_memory - fixed)
        with np.errstate(all="ignore"):  # NaN and inf propagate as in the frameworks, silently
            if self.sparse:
                out = taps.conv_transpose(data, weight, self.axes, self.crop, self.groups, shift)
                if progress is not None:
                    progress(self.batch, self.batch)
            else:
                out = engine.conv_transpose(
                    data,
                    weight,
                    stride=tuple(a.stride for a in self.axes),
                    dilation=tuple(a.dilation for a in self.axes),
                    crop=self.crop,
                    groups=self.groups,
                    bias=shift,
                    max_memory=budget,
                    progress=progress,
                )
            result = layouts.from_channels_first(out, self.channels_last)
            # one copy at most: the layout move and the dtype together
            return (result[0] if self.unbatched else result).astype(self.dtype, order="C", copy=False)


def engine_scratch(job: Job) -> tuple[int, int]:
    """(elements per sample, fixed elements) of the engine's work on ``job``.

    The engine's own count (``engine.scratch``): the numbers its chunking uses.
    """
    return engine.scratch(
        tuple(a.n for a in job.axes),
        tuple(a.kernel_size for a in job.axes),
        tuple(a.stride for a in job.axes),
        tuple(a.dilation for a in job.axes),
        job.crop,
        job.batch,
        job.in_channels,
        job.out_channels,
        job.groups,
    )


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not on this system: no bound
        return 1 << 62
