"""Every way deconv prints a result: Rich tables on a terminal, bare values in a pipe, JSON.

Rich is imported inside the functions that draw, so a piped or ``--json`` run never loads it,
and the layer arithmetic inside those that show layers, which ``net`` does not need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console

    from deconv_cli.cli.emit import Code
    from deconv_cli.core.pad import PadReport, Solution
    from deconv_cli.core.shape import ShapeReport


#: a terminal narrower than this (COLUMNS=0, a broken size) gets tables as wide as DEFAULT_WIDTH,
#: which it wraps, rather than nothing at all
NARROWEST = 20
DEFAULT_WIDTH = 80


def console(out: TextIO, width: int | None = None, record: bool = False) -> Console:
    """A Rich console for plain text: no markup, no emoji (a crop ``1:-1:`` must not become a thumb)."""
    from rich.console import Console

    screen = Console(
        file=out, width=width, highlight=False, soft_wrap=False, record=record, markup=False, emoji=False
    )
    if screen.width < NARROWEST:
        screen.width = DEFAULT_WIDTH
    return screen


#: candidate lists longer than this print as their first and last size
LONG = 64


def to_json(data: object, out: TextIO) -> None:
    import json

    json.dump(data, out, indent=2, default=_sizes)
    out.write("\n")


def _sizes(value: object) -> object:
    """A range of sizes as JSON: the list, or ``{"min", "max"}`` when it is long (a stride of 10^9)."""
    if not isinstance(value, range):
        raise TypeError(f"cannot write {type(value).__name__} as JSON")
    if len(value) <= LONG:
        return list(value)
    return {"min": value[0], "max": value[-1]}


def sizes(values: Sequence[int]) -> str:
    """Sizes as text, a long run shortened to its ends.

    >>> sizes(range(3, 5)), sizes(range(1, 10**9))
    ('3, 4', '1, 2, ..., 999999999 (every size)')
    """
    if len(values) <= LONG:
        return ", ".join(map(str, values))
    return f"{values[0]}, {values[1]}, ..., {values[-1]} (every size)"


def shape(report: ShapeReport, out: TextIO, *, terminal: bool, as_json: bool) -> None:
    if as_json:
        to_json(asdict(report), out)
    elif not terminal:
        out.write(" ".join(map(str, report.output)) + "\n")
    else:
        shape_tables(report, out)


def shape_tables(report: ShapeReport, out: TextIO, width: int | None = None) -> None:
    """The steps per axis, then one row per framework; long values fold, never cut."""
    from rich.table import Table
    from rich.text import Text

    from deconv_cli.core.shape import Refusal, expression

    screen = console(out, width)
    size = " x ".join(map(str, report.output))
    screen.print(Text.assemble((report.api, "bold"), f" padding={report.padding} -> ", (size, "bold")))
    if report.reading:
        screen.print(Text(report.reading, style="dim"))
    for index, (steps, candidates) in enumerate(zip(report.steps, report.candidates, strict=True)):
        table = Table(title=f"axis {index}" if len(report.steps) > 1 else None, show_header=False)
        table.add_column("step", style="cyan")
        table.add_column("value", overflow="fold")
        table.add_column("why", style="dim", overflow="fold")
        table.add_row("input n", str(steps.n), f"k={steps.kernel_size} s={steps.stride} d={steps.dilation}")
        table.add_row(
            "zeros inserted", str(steps.zeros_between), f"between elements (s-1) -> {steps.dilated}"
        )
        table.add_row(
            "edge padding",
            f"{steps.edge_begin} | {steps.edge_end}",
            "d*(k-1) - crop, of the equivalent stride-1 conv (negative: removed)",
        )
        table.add_row("full length F", str(steps.full), "(n-1)*s + d*(k-1) + 1")
        table.add_row(
            "crop begin | end", f"{steps.crop_begin} | {steps.crop_end}", "negative: zeros appended"
        )
        table.add_row("output", Text(str(steps.output), style="bold"), "F - begin - end")
        table.add_row(
            "candidates",
            sizes(candidates),
            f"output sizes {report.framework} accepts as a requested size",
        )
        screen.print(table)
    frameworks = Table(title="the same layer in each framework")
    frameworks.add_column("framework", style="cyan")
    frameworks.add_column("how to write it", overflow="fold")
    for name, item in report.frameworks.items():
        style = "red" if isinstance(item, Refusal) else "yellow" if item.then else ""
        text = expression(item, report.crop)
        frameworks.add_row(name, Text(text, style=style))
    screen.print(frameworks)


def _flat(solution: Solution) -> dict[str, object]:
    """A solution as JSON: its parameters at the top level (torch's padding, output_padding)."""
    data = asdict(solution)
    params = data.pop("params")
    return {**data, **params}


def label(solution: Solution) -> str:
    """The framework, and for a recipe what it does: the plain conv, then a slice."""
    return f"{solution.framework} conv, then slice" if solution.recipe else solution.framework


def recipe(solution: Solution) -> str:
    """The parameters, and a recipe's slice in the framework's layout."""
    from deconv_cli.core.shape import call

    text = call(solution.params)
    if solution.then is not None:
        text += f" then y[..., {', '.join(f'{a}:{b}' for a, b in solution.then)}]"
    return text


def pad(report: PadReport, out: TextIO, *, terminal: bool, as_json: bool, limit: int | None) -> None:
    shown = report.solutions if limit is None else report.solutions[:limit]
    if as_json:
        data: dict[str, object] = {"solutions": [_flat(s) for s in shown]}
        if report.factor is not None:
            data = {"factor": list(report.factor), **data}
        if report.unmarked is not None:
            data["unmarked"] = {"k": list(report.unmarked[0]), "s": list(report.unmarked[1])}
        to_json(data, out)
    elif not terminal:
        from deconv_cli.core.shape import crops

        for s in shown:
            marks = f"\tmarks={','.join(s.marks)}" if s.marks else ""
            out.write(
                f"{label(s)}\tk={_ints(s.k)}\ts={_ints(s.s)}\td={_ints(s.d)}\t"
                f"crop={crops(s.crop)}\t{recipe(s)}{marks}\n"
            )
    else:
        pad_table(report, shown, out)


def pad_table(
    report: PadReport, solutions: Sequence[Solution], out: TextIO, width: int | None = None
) -> None:
    """The solutions in the columns of the piped output; long values fold, never cut."""
    from rich import box
    from rich.table import Table

    from deconv_cli.core.shape import crops

    rows = [
        (
            label(s),
            f"k={_ints(s.k)} s={_ints(s.s)} d={_ints(s.d)}",
            crops(s.crop),
            recipe(s),
            ", ".join(s.marks),
        )
        for s in solutions
    ]
    screen = console(out, width)

    # no outer frame; when the rows do not fit, k s d stack, then the crops: the parameters get the width
    headers = ("framework", "layer", "crop", "parameters", "marks")

    def longest(text: str) -> int:
        return max(map(len, text.split()), default=0)

    def widths(stacked: set[int]) -> list[int]:
        return [
            max([len(header), *((longest if i in stacked else len)(row[i]) for row in rows)])
            for i, header in enumerate(headers)
        ]

    stacked: set[int] = set()
    for index in (4, 1, 2):  # marks, layer, crop; 14 = the spaces around and between the columns
        if sum(widths(stacked)) + 14 > screen.width:
            stacked.add(index)
    wanted = "this size" if report.factor is None else f"{_ints(report.factor)} x every input size"
    title = f"ways to get {wanted}, best first; marked ones are legal but odd"
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False)
    for index, (header, widest) in enumerate(zip(headers, widths(stacked), strict=True)):
        table.add_column(
            header,
            style="cyan" if header == "framework" else None,
            overflow="fold",
            max_width=widest if index in stacked else None,
        )
    for row in rows:
        table.add_row(*row)
    screen.print(table)


def code(emitted: Code, out: TextIO, *, as_json: bool) -> None:
    """``--emit``'s code as Python, or with ``--json`` as one object (``functional``, ``module``, ...)."""
    if as_json:
        to_json(asdict(emitted), out)
    else:
        out.write(emitted.text + "\n")


def _ints(values: Sequence[int]) -> str:
    return ",".join(map(str, values))


@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr fed with ``(done, total)`` samples; nothing when disabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("deconv run", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
