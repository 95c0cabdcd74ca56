"""``deconv explain``: what sits where at each stage of a transposed conv, for its picture.

A transposed conv equals a stride-1 direct convolution with the flipped kernel over the
input with ``s-1`` zeros inserted between elements and ``d*(k-1) - crop`` zeros at each
edge (``geometry.Steps``); its output ``t`` is ``full[t + crop_begin]``. This module lays
out each stage as positions along rows and columns, with titles and notes; ``draw``
draws them. A 1-D layer is drawn as a 2-D one with a single row. Pure Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, overload

from deconv_cli.core.frameworks import FRAMEWORKS, Params
from deconv_cli.core.geometry import Axis, Layer, Options, Steps
from deconv_cli.core.parse import each
from deconv_cli.core.shape import ShapeReport, call, expression, shape
from deconv_cli.core.translate import Expression
from deconv_cli.errors import DeconvError

Grid = tuple[tuple[float, ...], ...]
Crops = tuple[tuple[int, int], ...]
T = TypeVar("T")

#: memory of one value drawn: a Python float, its place in a tuple, and numpy's copy of it
VALUE_BYTES = 40
#: the single row of a 1-D picture
ROW = Steps.of(Axis(1, 1), Layer(1, 0, 0))


@dataclass(frozen=True)
class Position:
    """A row or column of a stage: value ``index`` of the stage's grid, an inserted zero or a zero.

    ``mark`` is ``cut`` where the crop (or a negative edge) removes it, ``appended``
    for a zero the crop adds; ``window`` is under the kernel when it computes output 0.
    """

    kind: Literal["value", "inserted", "zero"]
    index: int = 0
    mark: Literal["", "cut", "appended"] = ""
    window: bool = False


class Positions(Sequence[Position]):
    """The rows or columns of a stage, each made when asked for: a picture reads a few
    dozen of them, so a stride of 10^9 costs no more than a stride of 2.

    ``marked`` says whether any of them is cut or appended (a column of marks is drawn).
    """

    def __init__(self, length: int, at: Callable[[int], Position], marked: bool = False) -> None:
        self.length, self.at, self.marked = max(length, 0), at, marked

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> Position: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Position]: ...
    def __getitem__(self, index: int | slice) -> Position | Sequence[Position]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.length))]
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.at(index)


@dataclass(frozen=True)
class Stage:
    """One picture: a title, its rows and columns, and its numbers (None: ``symbol`` for each)."""

    title: str
    rows: Positions
    cols: Positions
    values: Grid | None
    symbol: str


@dataclass(frozen=True)
class Values:
    """The numbers: input, full (uncropped) result, output, and PyTorch's lookalike output."""

    input: Grid
    full: Grid
    output: Grid
    alternative: Grid | None

    @classmethod
    def of(cls, report: ShapeReport, x: Sequence[Sequence[float]], full: Sequence[Sequence[float]]) -> Values:
        """Crop the full result as ``report``'s framework does (and as PyTorch's lookalike would)."""
        whole = tuple(map(tuple, full))
        other = alternative(report)
        return cls(
            input=tuple(map(tuple, x)),
            full=whole,
            output=window(whole, planar(report.crop, (0, 0))),
            alternative=None if other is None else window(whole, planar(other[1], (0, 0))),
        )


@dataclass(frozen=True)
class Explanation:
    """The layer a framework's options define, and optionally the numbers through it."""

    report: ShapeReport
    values: Values | None = None


def layer(framework: str, axes: Sequence[Axis], options: Sequence[Options]) -> ShapeReport:
    """The layer to draw: ``shape``'s report, for 1-D and 2-D layers."""
    if len(axes) > 2:
        raise DeconvError(f"explain draws 1-D and 2-D layers (got {len(axes)} axes)")
    return shape(framework, axes, options)


def planar(items: Sequence[T], filler: T) -> tuple[T, T]:
    """Sizes or crops of one or two axes as (rows, columns): ``filler`` is the row of a 1-D layer.

    >>> planar([5], 1), planar([3, 4], 1), planar([(0, 1)], (0, 0))
    ((1, 5), (3, 4), ((0, 0), (0, 1)))
    """
    first, second = (filler, *items)[-2:]
    return first, second


def layout(
    shape: tuple[int, ...], spatial: tuple[int, ...], framework: str, *, option: str
) -> tuple[int, ...]:
    """The framework's layout for a one-sample, one-channel array of ``shape``, or the error.

    Accepted: the plain ``spatial`` shape, or the framework's own layout with batch
    and channel sizes 1 (the batch may be left out of an input, as ``run`` allows).

    >>> layout((2, 2), (2, 2), "tf", option="--values"), layout((3,), (3,), "torch", option="--weight")
    ((1, 2, 2, 1), (1, 1, 3))
    """
    rules = FRAMEWORKS[framework]
    accepted: tuple[tuple[int, ...], ...]
    if option == "--weight":
        own = (1, 1, *spatial) if rules.weight_layout == "in_out" else (*spatial, 1, 1)
        accepted, what = (own, spatial), "one input and one output channel"
    elif rules.channels_last:
        accepted, what = ((1, *spatial, 1), spatial, (*spatial, 1)), "one sample and one channel"
    else:
        accepted, what = ((1, 1, *spatial), spatial, (1, *spatial)), "one sample and one channel"
    if shape not in accepted:
        raise DeconvError(
            f"{option} must have shape {' or '.join(map(str, accepted))}: plain, or {what} "
            f"in {framework}'s layout (got {shape})"
        )
    return accepted[0]


def kernel(values: str | None, weight: str | None, ones: bool) -> None:
    """``--values`` needs one kernel, ``--weight`` or ``--ones``, and they need ``--values``.

    >>> kernel("x.npy", None, False)
    Traceback (most recent call last):
    deconv_cli.errors.DeconvError: --values needs a kernel: --weight W.npy or --ones
    """
    if values is None and (weight is not None or ones):
        raise DeconvError("--weight and --ones need --values X.npy")
    if values is not None and (weight is None) == (not ones):
        raise DeconvError(
            "--values needs a kernel: --weight W.npy or --ones"
            if weight is None
            else "give --weight or --ones, not both"
        )


def window(grid: Grid, crop: tuple[tuple[int, int], tuple[int, int]]) -> Grid:
    """``grid`` cropped ``begin:end`` per axis, reading zeros beyond its edges (negative crops).

    >>> window(((1, 2, 3), (4, 5, 6)), ((1, 0), (1, -1)))
    ((5, 6, 0.0),)
    """
    (top, bottom), (left, right) = crop
    rows, cols = len(grid), len(grid[0])

    def at(r: int, c: int) -> float:
        return grid[r][c] if 0 <= r < rows and 0 <= c < cols else 0.0

    return tuple(tuple(at(r, c) for c in range(left, cols - right)) for r in range(top, rows - bottom))


def alternative(report: ShapeReport) -> tuple[Params, Crops] | None:
    """PyTorch's padding/output_padding with the same output size but another crop, if it has to."""
    item = report.frameworks["torch"]
    if isinstance(item, Expression) and item.lookalike is not None and item.lookalike_crop is not None:
        return item.lookalike, item.lookalike_crop
    return None


def _units(rank: int) -> tuple[str, ...]:
    return ("element",) if rank == 1 else ("row", "column")


def _count(count: int, unit: str) -> str:
    return f"{count} {unit}s" if count > 1 else unit


def _listing(items: Sequence[str]) -> str:
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


def describe(crop: Crops) -> str:
    """What a crop does to the full result, in words.

    >>> describe(((0, 1), (0, 1)))
    'drops the last row and the last column'
    >>> describe(((2, -1),)), describe(((0, 0),))
    ('drops the first 2 elements and adds 1 zero element at the end', 'keeps everything')
    """
    dropped, added = [], []
    for (begin, end), unit in zip(crop, _units(len(crop)), strict=True):
        for count, side, place in ((begin, "first", "start"), (end, "last", "end")):
            if count > 0:
                dropped.append(f"the {side} {_count(count, unit)}")
            elif count < 0:
                added.append(f"{-count} zero {unit}{'s' if count < -1 else ''} at the {place}")
    text = [f"{verb} {_listing(items)}" for verb, items in (("drops", dropped), ("adds", added)) if items]
    return " and ".join(text) or "keeps everything"


def _size(report: ShapeReport, length: Callable[[Steps], int]) -> str:
    return " x ".join(str(length(steps)) for steps in report.steps)


def notes(report: ShapeReport) -> tuple[str, ...]:
    """The lines under the picture: the layer, what its crop does, and PyTorch's way."""
    steps = report.steps
    found = [
        f"{report.api} padding={report.padding}: {_size(report, lambda s: s.n)} -> "
        f"{_size(report, lambda s: s.output)}, k={each([s.kernel_size for s in steps])} "
        f"s={each([s.stride for s in steps])} d={each([s.dilation for s in steps])}",
        f"{report.framework} {describe(report.crop)}: full {_size(report, lambda s: s.full)} -> "
        f"output {_size(report, lambda s: s.output)}",
    ]
    item, other = report.frameworks["torch"], alternative(report)
    if other is not None:
        found.append(
            f"torch cannot crop this way; its {call(other[0])} gives the same size but "
            f"{describe(other[1])} instead"
        )
    elif isinstance(item, Expression) and item.then is not None:
        found.append(f"torch: {expression(item, report.crop)}")
    return tuple(found)


def inputs(length: int) -> Positions:
    """The values ``0..length-1`` in order."""
    return Positions(length, lambda index: Position("value", index))


def inserted(steps: Steps) -> Positions:
    """The zero-inserted input: value ``i`` at ``i*s``; ``cut`` where a negative edge removes it.

    >>> [p.mark or p.kind for p in inserted(Steps.of(Axis(2, 2, 2), Layer.crop(Axis(2, 2, 2), 2, 0)))]
    ['cut', 'inserted', 'value']
    """
    kept = range(-steps.edge_begin, steps.dilated + steps.edge_end)

    def at(p: int) -> Position:
        mark: Literal["", "cut"] = "" if p in kept else "cut"
        return (
            Position("inserted", mark=mark)
            if p % steps.stride
            else Position("value", p // steps.stride, mark)
        )

    return Positions(steps.dilated, at, marked=steps.edge_begin < 0 or steps.edge_end < 0)


def padded(steps: Steps) -> Positions:
    """What the stride-1 direct conv reads, with the window of its output 0 (the dilated kernel).

    >>> tutorial = Steps.of(Axis(2, 3, 2), Layer.crop(Axis(2, 3, 2), 0, 1))
    >>> "".join(("[{}]" if p.window else "{}").format(p.kind[0]) for p in padded(tutorial))
    '[z][z][v]ivz'
    """
    zeros, skipped = max(steps.edge_begin, 0), max(-steps.edge_begin, 0)
    middle = max(steps.dilated - skipped - max(-steps.edge_end, 0), 0)
    source = inserted(steps)

    def at(i: int) -> Position:
        window = i % steps.dilation == 0 and i < steps.kernel_size * steps.dilation
        p = source[i - zeros + skipped] if zeros <= i < zeros + middle else Position("zero")
        return Position(p.kind, p.index, window=window)

    return Positions(zeros + middle + max(steps.edge_end, 0), at)


def full(steps: Steps) -> Positions:
    """The full result, ``cut`` where the crop drops it, with the zeros a negative crop appends.

    >>> [p.mark or p.index for p in full(Steps.of(Axis(2, 3, 2), Layer.crop(Axis(2, 3, 2), 1, -1)))]
    ['cut', 1, 2, 3, 4, 'appended']
    """
    kept = range(steps.crop_begin, steps.full - steps.crop_end)
    start = min(0, steps.crop_begin)

    def at(i: int) -> Position:
        u = i + start
        if not 0 <= u < steps.full:
            return Position("zero", mark="appended")
        return Position("value", u, "" if u in kept else "cut")

    return Positions(
        max(steps.full, kept.stop) - start, at, marked=steps.crop_begin != 0 or steps.crop_end != 0
    )


def memory(report: ShapeReport) -> int:
    """Bytes that drawing the numbers of ``report``'s layer takes: every value of the input,
    the full result, the output and PyTorch's lookalike held as Python floats.

    >>> memory(shape("tf", [Axis(2, 3, 2)], [Options()]))
    680
    """
    values = [math.prod(length(s) for s in report.steps) for length in (_n, _full, _output, _output)]
    return VALUE_BYTES * sum(values)


def _n(steps: Steps) -> int:
    return steps.n


def _full(steps: Steps) -> int:
    return steps.full


def _output(steps: Steps) -> int:
    return steps.output


def stages(explanation: Explanation) -> tuple[Stage, ...]:
    """Input, zeros inserted, edge padding with the kernel window, full result; with values, the outputs."""
    report, values = explanation.report, explanation.values
    rows, cols = (ROW if len(report.steps) == 1 else report.steps[0]), report.steps[-1]
    x = None if values is None else values.input
    edges = ", ".join(f"{s.edge_begin}:{s.edge_end}" for s in report.steps)
    found = [
        Stage(f"input {_size(report, lambda s: s.n)}", inputs(rows.n), inputs(cols.n), x, "x"),
        Stage(
            f"zeros inserted (s-1): {_size(report, lambda s: s.dilated)}",
            inserted(rows),
            inserted(cols),
            x,
            "x",
        ),
        Stage(
            f"edge padding {edges}: {_size(report, lambda s: s.dilated + s.edge_begin + s.edge_end)}",
            padded(rows),
            padded(cols),
            x,
            "x",
        ),
        Stage(
            f"full result {_size(report, lambda s: s.full)}",
            full(rows),
            full(cols),
            None if values is None else values.full,
            "y",
        ),
    ]
    output = _size(report, lambda s: s.output)
    if values is not None:
        found.append(Stage(f"output {output}", inputs(rows.output), inputs(cols.output), values.output, "y"))
    if values is not None and values.alternative is not None:
        found.append(
            Stage(
                f"torch's output {output}",
                inputs(rows.output),
                inputs(cols.output),
                values.alternative,
                "y",
            )
        )
    return tuple(found)


def shown(length: int, limit: int) -> tuple[int | None, ...]:
    """Indices to draw: all up to ``limit``, else the first and last ones around ``None`` (an ellipsis).

    >>> shown(4, 5), shown(9, 5)
    ((0, 1, 2, 3), (0, 1, None, 7, 8))
    """
    if length <= limit:
        return tuple(range(length))
    head = limit // 2
    return (*range(head), None, *range(length - (limit - head - 1), length))
