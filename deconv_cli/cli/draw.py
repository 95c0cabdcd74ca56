"""The pictures of ``explain`` and ``overlap``: Rich on a terminal, plain text in a pipe, JSON, SVG.

Rich is imported inside the functions that draw, so a piped or ``--json`` ``overlap``
never loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

from deconv_cli.arrays import stream
from deconv_cli.cli.render import console, to_json
from deconv_cli.core.explain import Explanation, Position, Stage, notes, shown, stages
from deconv_cli.core.overlap import AxisOverlap, Coverage, OverlapReport
from deconv_cli.core.parse import each

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

#: how much a condensed picture shows: text columns of a 1-D strip and of a 2-D grid (but
#: 7 cells at least: a 3x3 kernel window stays whole), grid rows, phases of an overlap tile
STRIP_WIDTH, GRID_WIDTH, GRID_ROWS, PHASES = 66, 44, 12, 16
MARKS = {"": " ", "cut": "✗", "appended": "+"}
LEGEND = "· inserted zero, 0 edge padding d*(k-1)-crop, [ ] kernel at output 0, ✗ cut, + zero added"


def _ints(values: Sequence[int]) -> str:
    return " ".join(map(str, values))


def _verdict(coverage: Coverage, counts: str, positions: int) -> str:
    detail = (
        f"holes: {coverage.holes} of {positions} positions get no tap"
        if coverage.ratio is None
        else f"max/min {round(coverage.ratio, 2)}"
    )
    return f"{coverage.verdict}: taps per position {counts} ({detail})"


def _spread(histogram: Sequence[tuple[int, int]]) -> str:
    """Counts too many to list, as how many positions get each.

    >>> _spread([(1, 3), (0, 99999997)])
    '1 at 3 positions, 0 at 99999997'
    """
    return ", ".join(
        f"{count} at {positions}{' positions' if i == 0 else ''}"
        for i, (count, positions) in enumerate(histogram)
    )


def _alternatives(axis: AxisOverlap) -> str:
    if not axis.alternatives:
        return f"no kernel size is even with s={axis.stride} d={axis.dilation} (gcd(s, d) > 1)"
    return "even alternatives: " + ", ".join(f"k={k}" for k in axis.alternatives)


def overlap_lines(report: OverlapReport) -> list[str]:
    """The verdicts as text: the tile's, then each axis's in 2-D.

    >>> from deconv_cli.core.overlap import overlap
    >>> overlap_lines(overlap([3], [2], [1]))
    ['uneven: taps per position 2 1 (max/min 2.0); even alternatives: k=2, k=4']
    """
    lines = [
        f"{_verdict(a.coverage, _spread(a.histogram()) if a.counts is None else _ints(a.counts), a.stride)}; "
        f"{_alternatives(a)}"
        for a in report.axes
    ]
    if len(report.axes) == 1:
        return lines
    tile = _spread(report.histogram()) if report.tile is None else " / ".join(map(_ints, report.tile))
    positions = report.axes[0].stride * report.axes[1].stride
    return [_verdict(report.coverage, tile, positions)] + [
        f"axis {i}: {line}" for i, line in enumerate(lines)
    ]


def overlap(report: OverlapReport, out: TextIO, *, terminal: bool, as_json: bool) -> None:
    if as_json:
        to_json(asdict(report), out)
    elif not terminal:
        out.write("".join(f"{line}\n" for line in overlap_lines(report)))
    else:
        heat(report, out)


def _heat(count: int, coverage: Coverage) -> str:
    """A cell's style: red for a hole, brighter blue for more taps."""
    if count == 0:
        return "bold white on red"
    share = (count - coverage.min) / (coverage.max - coverage.min) if coverage.max > coverage.min else 0.5
    red, green, blue = (round(low + (high - low) * share) for low, high in ((20, 70), (50, 150), (110, 255)))
    return f"bold white on rgb({red},{green},{blue})"


def heat(report: OverlapReport, out: TextIO, width: int | None = None) -> None:
    """The tile of taps per position (a strip in 1-D), coloured by count, then the verdicts."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    axes, coverage = report.axes, report.coverage
    options = " ".join(
        f"{name}={each([getattr(a, field) for a in axes])}"
        for name, field in (("k", "kernel_size"), ("s", "stride"), ("d", "dilation"))
    )
    risk = " (checkerboard risk)" if coverage.verdict == "uneven" else ""
    last = axes[-1]
    screen = console(out, width)
    cell = max(len(f" {c} ") for c in (last.stride - 1, coverage.max))
    # as many phase columns as the terminal holds beside the label column (each cell + its border)
    columns = shown(last.stride, max(3, min(PHASES, (screen.width - 12) // (cell + 1))))
    table = Table(box=box.SQUARE, padding=0)
    table.add_column(" t " if len(axes) == 1 else " t0 \\ t1 ", style="cyan", no_wrap=True)
    for c in columns:
        table.add_column("…" if c is None else f" {c} ".center(cell), no_wrap=True)

    for r in shown(axes[0].stride if len(axes) == 2 else 1, PHASES):
        cells = (
            "…"
            if r is None or c is None
            else Text(f" {report.at(r, c)} ".center(cell), _heat(report.at(r, c), coverage))
            for c in columns
        )
        table.add_row("⋮" if r is None else " taps " if len(axes) == 1 else f" {r} ", *cells)
    phases = " and ".join(f"t{i if len(axes) > 1 else ''} mod {a.stride}" for i, a in enumerate(axes))
    screen.print(f"taps per output position, by {phases}, {options}: {coverage.verdict}{risk}")
    screen.print(table)
    for line in overlap_lines(report):
        screen.print(line, style="green" if coverage.verdict == "even" else "yellow")


def _number(value: float) -> str:
    return f"{value:.3g}"


def _cell(stage: Stage, row: Position, col: Position) -> tuple[str, str]:
    """A cell's text and style: a value (or the stage's symbol), an inserted zero or a zero."""
    if row.kind == col.kind == "value":
        text = stage.symbol if stage.values is None else _number(stage.values[row.index][col.index])
        style = "bold cyan" if stage.symbol == "x" else "bold"
    elif "zero" in (row.kind, col.kind):
        text, style = "0", "yellow"
    else:
        text, style = "·", "dim"
    if "cut" in (row.mark, col.mark):
        style = "dim red strike"
    elif "appended" in (row.mark, col.mark):
        style = "green"
    return text, f"{style} reverse" if row.window and col.window else style


def grid(stage: Stage, budget: int) -> Text:
    """A stage's cells, ``[ ]`` around the kernel window, marks after the rows and under the columns.

    At most ``budget`` text columns and GRID_ROWS rows: the rest is condensed into an ellipsis.
    """
    from rich.text import Text

    rows = shown(len(stage.rows), GRID_ROWS)
    widest = shown(len(stage.cols), max(7, budget // 3))  # the most a width of 1 would show
    numbers = [
        _number(stage.values[stage.rows[r].index][stage.cols[c].index])
        for r in rows
        for c in widest
        if stage.values is not None
        and r is not None
        and c is not None
        and stage.rows[r].kind == stage.cols[c].kind == "value"
    ]
    width = max(map(len, numbers), default=1)
    columns = shown(len(stage.cols), max(7, budget // (width + 2)))
    text = Text()
    for r in rows:
        for c in columns:
            if r is None or c is None:
                dots = "⋱" if r is None and c is None else "⋮" if r is None else "…"
                text.append(dots.center(width + 2), "dim")
                continue
            row, col = stage.rows[r], stage.cols[c]
            cell, style = _cell(stage, row, col)
            text.append(("[{}]" if row.window and col.window else " {} ").format(cell.rjust(width)), style)
        if stage.rows.marked:
            text.append(" " + (" " if r is None else MARKS[stage.rows[r].mark]), "red")
        text.append("\n")
    if stage.cols.marked:
        marks = (" " if c is None else MARKS[stage.cols[c].mark] for c in columns)
        text.append("".join(mark.center(width + 2) for mark in marks), "red")
    text.rstrip()
    return text


def explain(
    explanation: Explanation, out: TextIO, *, svg: str | None = None, width: int | None = None
) -> None:
    """The stages stacked (1-D) or side by side (2-D), the notes, a legend; ``svg`` also saves it."""
    from rich.columns import Columns
    from rich.console import Group
    from rich.text import Text

    screen = console(out, width, record=svg is not None)
    lines = notes(explanation.report)
    screen.print(lines[0], style="bold")
    flat = len(explanation.report.steps) == 1
    # a picture never wraps: it condenses to the terminal, beside the marks column (" ✗")
    budget = min(STRIP_WIDTH if flat else GRID_WIDTH, screen.width - 3)
    pictures: list[RenderableType] = [
        Group(Text(stage.title, style="bold"), grid(stage, budget)) for stage in stages(explanation)
    ]
    screen.print(Group(*pictures) if flat else Columns(pictures, padding=(1, 4)))
    for line in lines[1:]:
        screen.print(line)
    screen.print(LEGEND, style="dim")
    if svg is not None:
        stream.replace(svg, screen.export_svg(title="deconv explain").encode())
