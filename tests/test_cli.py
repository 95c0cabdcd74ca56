"""The command line: exact output, exit codes, streams, startup imports, hostile arguments."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from deconv_cli import cli
from deconv_cli.errors import ExitCode


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        ("shape --in 16 --k 6 --s 2 --padding same", "32\n"),
        ("shape --in 16,24 --k 3 --s 2 --padding same", "32 48\n"),
        ("shape --in 8 --k 4 --s 2 --padding 1 --framework torch", "16\n"),
        ("shape --in 3 --k 3 --s 2 --padding 1 --op 1 -f torch", "6\n"),
        ("shape --in 3 --k 3 --s 2 --padding same --framework keras --op 0", "5\n"),
        ("shape --in 4 --k 2 --s 3 --padding same --framework onnx", "11\n"),
        ("shape --in 4 --k 2 --s 3 --padding same --framework jax", "12\n"),
        ("shape --in 3 --k 3 --s 2 --output-shape 6 --framework onnx", "6\n"),
        ("shape --in 5,7 --k 3,2 --s 2 --padding 1:2,0:1 --framework onnx", "8 13\n"),
        ("shape --in 4 --kernel-size 3 --stride 1 --dilation 2 --padding same", "4\n"),
    ],
)
def test_piped_shape_prints_the_bare_sizes(args, stdout, cli_run):
    assert cli_run(*args.split()) == (0, stdout, "")


def test_shape_json_has_output_candidates_crop_and_every_framework(cli_run):
    code, stdout, _ = cli_run("shape", "--in", "2", "--k", "3", "--s", "2", "--padding", "same", "--json")
    data = json.loads(stdout)
    assert code == 0
    assert (data["output"], data["candidates"], data["crop"]) == ([4], [[3, 4]], [[0, 1]])
    assert list(data["frameworks"]) == ["tf", "torch", "keras", "onnx", "jax"]
    assert data["frameworks"]["onnx"] == {
        "output": [4],
        "crop": [[0, 1]],
        "params": {"auto_pad": "SAME_UPPER"},
        "then": None,
        "lookalike": None,
        "lookalike_crop": None,
    }


def test_shape_json_shows_how_torch_reproduces_the_tf_crop(cli_run):
    _, stdout, _ = cli_run("shape", "--in", "2", "--k", "3", "--s", "2", "--padding", "same", "--json")
    assert json.loads(stdout)["frameworks"]["torch"] == {
        "output": [5],
        "crop": [[0, 0]],
        "params": {"padding": [0], "output_padding": [0]},
        "then": [[0, 4]],
        "lookalike": {"padding": [1], "output_padding": [1]},
        "lookalike_crop": [[1, 0]],
    }


def test_shape_json_reports_a_framework_that_cannot_build_the_layer(cli_run):
    _, stdout, _ = cli_run("shape", "--in", "4", "--k", "3", "--s", "2", "--d", "2", "--json")
    assert json.loads(stdout)["frameworks"]["keras"] == {
        "error": "keras: strides > 1 not supported in conjunction with dilation_rate > 1 "
        "(got strides=2, dilation_rate=2); use --s 1 or --d 1"
    }


def test_pad_piped_lists_each_solution_on_a_line(cli_run):
    code, stdout, _ = cli_run("pad", "--in", "8", "--out", "16", "--k", "4", "--s", "2", "-f", "torch")
    assert (code, stdout) == (0, "torch\tk=4\ts=2\td=1\tcrop=1:1\tpadding=[1], output_padding=[0]\n")


def test_pad_json_names_torch_padding_and_output_padding(cli_run):
    code, stdout, _ = cli_run(
        "pad", "--in", "3", "--out", "6", "--k", "3", "--s", "2", "-f", "torch", "--json"
    )
    assert code == 0
    common = {"framework": "torch", "k": [3], "s": [2], "d": [1], "output": [6], "marks": ["uneven"]}
    assert json.loads(stdout) == {
        "solutions": [
            {
                **common,
                "crop": [[1, 0]],
                "recipe": False,
                "then": None,
                "native": None,
                "uses_output_padding": True,
                "padding": [1],
                "output_padding": [1],
            },
            {
                **common,
                "crop": [[0, 1]],
                "recipe": True,
                "then": [[0, 6]],
                "native": [7],
                "uses_output_padding": False,
                "padding": [0],
                "output_padding": [0],
            },
        ]
    }


def test_pad_search_ranks_overlapping_even_kernels_then_the_smallest_first(cli_run):
    _, stdout, _ = cli_run("pad", "--in", "8", "--out", "16", "-f", "torch", "--limit", "4")
    assert stdout.splitlines() == [
        "torch\tk=4\ts=2\td=1\tcrop=1:1\tpadding=[1], output_padding=[0]",
        "torch\tk=6\ts=2\td=1\tcrop=2:2\tpadding=[2], output_padding=[0]",
        "torch\tk=8\ts=2\td=1\tcrop=3:3\tpadding=[3], output_padding=[0]",
        "torch\tk=2\ts=2\td=1\tcrop=0:0\tpadding=[0], output_padding=[0]",
    ]


def test_pad_search_counts_dilation_in_the_overlap(cli_run):
    # with gcd(s, d) = 2 every kernel leaves phases without taps: k % s == 0 is no better
    _, stdout, _ = cli_run(
        "pad", "--in", "8", "--out", "16", "--s", "2", "--d", "2", "-f", "torch", "--limit", "3"
    )
    assert [line.split("\t")[1] for line in stdout.splitlines()] == ["k=2", "k=3", "k=4"]


def test_shape_reports_each_axis_padding_as_given(cli_run):
    _, stdout, _ = cli_run(
        "shape", "--in", "4,4,4", "--k", "3", "--s", "2", "--padding", "1,2,1", "-f", "torch", "--json"
    )
    assert json.loads(stdout)["padding"] == "1,2,1"


def test_pad_without_solution_exits_1_naming_the_nearest_sizes(cli_run):
    assert cli_run("pad", "--in", "3", "--out", "60", "--k", "3", "--s", "2", "-f", "torch") == (
        1,
        "",
        "deconv: error: no setting of torch turns 3 into 60; nearest reachable: 8\n",
    )


def test_pad_without_solution_names_the_search_limit_that_reaches_the_size(cli_run):
    assert cli_run("pad", "--in", "3", "--out", "60", "-f", "torch") == (
        1,
        "",
        "deconv: error: no setting of torch turns 3 into 60; nearest reachable: 19; "
        "--max-k 49 or --max-s 20 reaches 60\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("shape --in 0 --k 3", "--in must be >= 1 (got 0)"),
        ("shape --in 4 --k 0", "--k must be >= 1 (got 0)"),
        ("shape --in 4 --k 3 --s -1", "--s must be >= 1 (got -1)"),
        ("shape --in 4,x --k 3", "--in must be an integer or a comma list like 16,24 (got '4,x')"),
        (
            "pad --in 3 --out 16,1000000000000",
            "--out must be an integer of at most 9 digits (got '1000000000000')",
        ),
        ("shape --in 4,5 --k 3,3,3", "--in has 2 values but --k has 3; give one value or one per axis"),
        ("shape --in 4,4,4,4 --k 3", "at most 3 spatial axes are supported (got 4)"),
        (
            "shape --in 3 --k 3 --s 2 --padding 1 --op 2 -f torch",
            "torch: output_padding must be < max(stride, dilation) = 2 (got 2); use --op 1 or less",
        ),
        (
            "shape --in 1 --k 2 --padding 1 -f torch",
            "torch: output size must be >= 1 (got 0 = 2 - 2*1 + 0); use padding <= 0",
        ),
        (
            "shape --in 3 --k 3 --s 2 --padding same --output-shape 7 -f tf",
            "tf: output_shape must be in [5, 6] for padding=same (got 7): its forward conv gives 4, not 3",
        ),
        (
            "shape --in 3 --k 3 --padding sideways",
            "--padding must be valid, same, same_lower, an int, B:E, or a comma list of those per axis "
            "like 1:2,0:1 (got 'sideways')",
        ),
        (
            "shape --in 3 --k 3 --framework caffe",
            "Invalid value for '--framework' / '-f': Value error, 'caffe' is not one of 'tf', 'torch', "
            "'keras', 'onnx', 'jax'. (see 'deconv shape --help')",
        ),
        ("shape --in 3", "Missing option '--k' / '--kernel-size'. (see 'deconv shape --help')"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_problem(args, message, cli_run):
    assert cli_run(*args.split()) == (2, "", f"deconv: error: {message}\n")


def test_interrupt_exits_130(monkeypatch, cli_run):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("deconv_cli.core.shape.shape", interrupted)
    assert cli_run("shape", "--in", "3", "--k", "3") == (130, "", "deconv: error: interrupted\n")


def test_exit_codes_are_the_documented_contract():
    assert [int(code) for code in ExitCode] == [0, 1, 2, 130]


ARGUMENT_WORDS = [
    "shape",
    "pad",
    "--in",
    "--out",
    "--k",
    "--s",
    "--d",
    "--op",
    "--padding",
    "--output-shape",
    "--framework",
    "--json",
    "--max-k",
    "--limit",
    "-f",
    "torch",
    "onnx",
    "keras",
    "jax",
    "tf",
    "same",
    "same_lower",
    "valid",
    "1:2",
    "-1",
    "0",
    "1",
    "2",
    "3",
    "7",
    "3,4",
    "1,2,3",
    "",
    "x",
    "99999999999",
    "1e3",
    "--",
    "-",
    "é",
    "1:2:3",
    ":",
    ",",
    "\x00",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ARGUMENT_WORDS) | st.text(max_size=6), max_size=10))
def test_no_arguments_whatever_produce_a_traceback(words):
    result = CliRunner().invoke(cli.app, words)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (0, 1, 2)
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["shape", "--in", "16", "--k", "6", "--s", "2", "--padding", "same"],
        ["shape", "--in", "16", "--k", "6", "--json"],
        ["pad", "--in", "8", "--out", "16"],
        ["pad", "--in", "8", "--out", "16", "--json"],
    ],
)
def test_piped_shape_and_pad_import_neither_numpy_nor_rich(args, heavy_imports):
    # nor the code emitter, which only --emit needs (startup budget)
    assert heavy_imports(*args) == []


def test_emit_loads_the_code_emitter(heavy_imports):
    assert heavy_imports("pad", "--in", "8", "--out", "16", "--emit", "torch") == ["deconv_cli.cli.emit"]


@pytest.mark.parametrize("args", [["--help"], ["shape", "--help"], ["pad", "--help"], ["net", "--help"]])
def test_help_does_not_import_numpy(args, heavy_imports):
    assert "numpy" not in heavy_imports(*args)


def test_console_script_pipes_into_another_program():
    shell = subprocess.run(
        "deconv shape --in 16 --k 6 --s 2 --padding same"
        " | xargs -I{} deconv shape --in {} --k 4 --s 2 --padding 1 -f torch",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (shell.returncode, shell.stdout, shell.stderr) == (0, "64\n", "")


def test_python_dash_m_runs_the_same_app():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "deconv_cli",
            "shape",
            "--in",
            "3",
            "--k",
            "3",
            "--s",
            "2",
            "--padding",
            "same",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "6\n")
