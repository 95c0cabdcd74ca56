"""A CLI that fits: every table, picture and --help at 60, 80 and 120 columns, wrapped, never cut."""

from __future__ import annotations

import io
import os
import re
import subprocess
from itertools import pairwise

import pytest
import typer.main
from helpers import DECONV, on_terminal, plain
from typer.testing import CliRunner

from deconv_cli import __version__, cli
from deconv_cli.cli import draw, render
from deconv_cli.core.explain import Explanation, layer
from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.core.overlap import overlap
from deconv_cli.core.pad import pad
from deconv_cli.core.shape import expression, shape

WIDTHS = [60, 80, 120]
LAYERS = [
    ("tf", [Axis(2, 3, 2)], [Options(Padding("same"))]),
    ("tf", [Axis(2, 3, 2), Axis(16, 6, 2)], [Options(Padding("same"))] * 2),
    ("onnx", [Axis(3, 3, 2), Axis(5, 2, 3), Axis(7, 4, 3, 2)], [Options(Padding("same_lower"))] * 3),
    ("torch", [Axis(4, 4, 2, 2)] * 3, [Options(Padding.explicit(1, 1), 1)] * 3),
]


def fits(text: str, width: int) -> None:
    lines = text.splitlines()
    assert lines
    assert max(len(line) for line in lines) <= width, text
    assert "…" not in text, text


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("framework", "axes", "options"), LAYERS)
def test_shape_tables_fold_every_value_to_the_width(framework, axes, options, width):
    report = shape(framework, axes, options)
    out = io.StringIO()
    render.shape_tables(report, out, width)
    fits(out.getvalue(), width)
    # each framework's row holds its whole expression, folded over as many lines as it needs
    rows: dict[str, str] = {}
    name = ""
    table = out.getvalue().split("the same layer in each framework")[1]
    for line in table.splitlines():
        cells = line.split("│")
        if len(cells) == 4:
            name = cells[1].strip() or name
            rows[name] = rows.get(name, "") + cells[2]
    assert {n: squeezed(t) for n, t in rows.items()} == {
        n: squeezed(expression(item, report.crop)) for n, item in report.frameworks.items()
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("n", "out", "rank"), [(3, 6, 1), (3, 6, 2), (3, 7, 3), (46, 92, 2)])
def test_pad_table_keeps_every_parameter_whole(n, out, rank, width):
    report = pad(
        [n] * rank,
        [out] * rank,
        kernel_size=None,
        stride=None,
        dilation=[1] * rank,
        frameworks=list(("tf", "torch", "keras", "onnx", "jax")),
    )
    solutions = report.solutions[:20] + report.solutions[-3:]  # the last ones are marked
    text = io.StringIO()
    render.pad_table(report, solutions, text, width)
    fits(text.getvalue(), width)
    lines = text.getvalue().splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("framework"))
    starts = [lines[header].index(word) for word in ("framework", "layer", "crop", "parameters", "marks")]
    rows: list[list[str]] = []
    for line in lines[header + 2 :]:
        cells = [line[a:b] for a, b in zip(starts, [*starts[1:], None], strict=True)]
        if cells[0].strip():
            rows.append(cells)
        else:
            rows[-1] = [old + new for old, new in zip(rows[-1], cells, strict=True)]
    assert [[squeezed(c) for c in row] for row in rows] == [
        [
            squeezed(render.label(s)),
            squeezed(f"k={','.join(map(str, s.k))} s={','.join(map(str, s.s))} d={','.join(map(str, s.d))}"),
            squeezed(", ".join(f"{b}:{e}" for b, e in s.crop)),
            squeezed(render.recipe(s)),
            squeezed(", ".join(s.marks)),
        ]
        for s in solutions
    ]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("k", "s"), [([3], [2]), ([17], [16]), ([3, 4], [2, 2]), ([17, 7], [16, 3])])
def test_overlap_tiles_fit_the_width(k, s, width):
    out = io.StringIO()
    draw.heat(overlap(k, s, [1] * len(k)), out, width)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    header = next(line for line in lines if line.startswith("│"))
    cells = [cell.strip() for cell in header.split("│")[2:-1]]
    # phases are condensed around one ellipsis column, never squeezed by the table into several
    assert cells.count("…") <= 1
    assert all(re.fullmatch(r"\d+|…", cell) for cell in cells), header


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("axes", "padding"),
    [
        ([Axis(3, 4, 2)], Padding.explicit(1, 1)),
        ([Axis(40, 4, 3)], Padding("valid")),
        ([Axis(12, 5, 3)] * 2, Padding("same")),
    ],
)
def test_explain_pictures_condense_to_the_width(axes, padding, width):
    out = io.StringIO()
    draw.explain(
        Explanation(
            layer("torch" if padding.mode == "explicit" else "tf", axes, [Options(padding)] * len(axes)), None
        ),
        out,
        width=width,
    )
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= width
    # 1-D: each strip stays one row (and its marks), never wrapped: title, row, next title
    stages = r"(input|zeros inserted|edge padding|full result) "
    titles = [i for i, line in enumerate(lines) if re.match(stages, line)]
    if len(axes) == 1:
        assert [b - a for a, b in pairwise(titles)] == [2, 2, 2], out.getvalue()


def commands() -> list[list[str]]:
    return (
        [[], *([name] for name in sorted(cli.app.registered_commands_names()))]
        if False
        else [
            [],
            *([info.callback.__name__] for info in cli.app.registered_commands if info.callback is not None),
        ]
    )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", commands(), ids=lambda c: " ".join(c) or "deconv")
def test_every_help_wraps_its_docstring_and_names_every_option_whole(command, width):
    # a real process: CliRunner forces Click's help to 80 columns
    env = {**os.environ, "COLUMNS": str(width)}
    result = subprocess.run(
        [DECONV, *command, "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= width
    assert "…" not in result.stdout
    assert "..." not in result.stdout.replace("[ARGS]...", "")
    info = next(
        (i for i in cli.app.registered_commands if i.callback and [i.callback.__name__] == command), None
    )
    doc = (info.callback.__doc__ if info else cli.app.registered_callback.callback.__doc__) or ""
    flat = " ".join(result.stdout.split())
    for paragraph in doc.split("\n\n"):  # rewrapped, not as broken in the source
        assert " ".join(paragraph.split()) in flat
    click_command = typer.main.get_command(cli.app)
    if command:
        click_command = click_command.commands[command[0]]  # type: ignore[attr-defined]
    options = [
        name for param in click_command.params if param.param_type_name == "option" for name in param.opts
    ]
    for name in [*options, "--help"]:
        assert re.search(rf"(^|[\s,]){re.escape(name)}([\s,]|$)", result.stdout, flags=re.M), name


def test_a_60_column_terminal_gets_a_table_that_fits():
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"TERM": "xterm"}
    _, shown, _ = on_terminal(
        [DECONV, "pad", "--in", "3", "--out", "6"], columns=60, stderr_too=False, env=env
    )
    text = plain(shown)
    assert "ways to get this size" in text
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "padding='SAME'," in text
    assert "output_shape=[6]" in text


def test_version_prints_the_package_version():
    result = CliRunner().invoke(cli.app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"deconv {__version__}\n")


def test_bare_deconv_is_a_one_line_usage_error_naming_the_commands():
    result = subprocess.run([DECONV], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "deconv: error: give a command: shape, pad, run, explain, overlap, completion, convert, net "
        "(see 'deconv --help')\n"
    )


def test_a_missing_choice_is_one_line_naming_the_choices():
    result = subprocess.run([DECONV, "completion"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    choices = "Choose from: bash, zsh, fish (see 'deconv completion --help')"
    assert result.stderr == f"deconv: error: Missing argument 'shell'. {choices}\n"


@pytest.mark.parametrize("columns", ["0", "1", "abc"])
@pytest.mark.parametrize(
    "command",
    [
        ["shape", "--in", "16", "--k", "3", "--s", "2"],
        ["pad", "--in", "8", "--out", "16", "--k", "4", "--s", "2"],
        ["explain", "--in", "3", "--k", "3", "--s", "2"],
        ["overlap", "--k", "3", "--s", "2"],
    ],
)
def test_a_terminal_too_narrow_to_say_gets_the_answer_at_the_default_width(command, columns):
    env = {**os.environ, "COLUMNS": columns}
    code, shown, _ = on_terminal([DECONV, *command], columns=0, env=env)
    assert code == 0
    fits(plain(shown), render.DEFAULT_WIDTH)
    assert len(plain(shown).splitlines()) > 3
