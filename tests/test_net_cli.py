"""``deconv net``: exact output, exit codes, JSON, streams, hostile input, startup imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deconv_cli.cli import net as command
from deconv_cli.core.net import fix, sizes, text

SMALL = "framework torch\ne = conv k=3 p=1\nmax_pool k=2\nconvT k=2 s=2\nconcat e\n"


@pytest.fixture
def small(tmp_path: Path) -> str:
    path = tmp_path / "small.txt"
    path.write_text(SMALL)
    return str(path)


def test_without_in_it_prints_the_valid_set_and_the_mirror_rule(small, cli_run):
    assert cli_run("net", small) == (
        0,
        "H = 2m for m >= 1 (2, 4, 6, ...)\n"
        "mirror conv_transpose1 -> concat1: output_padding = e mod 2: "
        "use forward(x, output_size=e.shape[2:])\n",
        "",
    )


def test_a_size_that_works_prints_every_layer_and_exits_0(small, cli_run):
    assert cli_run("net", small, "--in", "8") == (
        0,
        "layer            op              H\n"
        "input            input           8\n"
        "e                conv            8\n"
        "max_pool1        max_pool        4\n"
        "conv_transpose1  conv_transpose  8\n"
        "concat1          concat          8 | 8  ok\n"
        "ok: 8 builds and every join matches\n",
        "",
    )


def test_a_break_names_the_layer_and_the_fixes_and_exits_1(small, cli_run):
    code, stdout, stderr = cli_run("net", small, "--in", "7,9")
    assert (code, stderr) == (1, "")
    assert stdout.splitlines()[-8:] == [
        "concat1          concat          6 x 8 | 7 x 9  mismatch: conv_transpose1, e",
        "break: concat1 (concat) joins conv_transpose1 and e: H 6 vs 7, W 8 vs 9",
        "  caused by conv_transpose1",
        "  because max_pool1 takes H 7 to 3: 7 is not a multiple of 2",
        "  because max_pool1 takes W 9 to 4: 9 is not a multiple of 2",
        "  fix: set output_padding=1 on conv_transpose1 (torch)",
        "  fix: pad the input up to 8 x 10 or crop it down to 6 x 8",
        "  fix: at the join: crop e by 1 on H (7 -> 6) or pad conv_transpose1 by 1 (6 -> 7); "
        "crop e by 1 on W (9 -> 8) or pad conv_transpose1 by 1 (8 -> 9)",
    ]


def test_a_layer_that_refuses_its_input_is_a_break(tmp_path, cli_run):
    path = tmp_path / "net.txt"
    path.write_text("conv k=5\nconv k=5\n")
    code, stdout, _ = cli_run("net", str(path), "--in", "7")
    assert code == 1
    assert stdout.splitlines()[-3:] == [
        "conv2  conv   -  refuses its input",
        "break: conv2 (conv) refuses its input: H 3 is too small",
        "  fix: pad the input up to 9",
    ]


def test_a_range_lists_the_valid_sizes_in_it(small, cli_run):
    assert cli_run("net", small, "--in", "5..12") == (0, "6\n8\n10\n12\n", "")
    assert cli_run("net", small, "--in", "5..8,1..3") == (0, "H: 6 8\nW: 2\n", "")


def test_a_long_range_is_cut_with_a_note(small, cli_run):
    code, stdout, stderr = cli_run("net", small, "--in", "1..100000")
    assert (code, len(stdout.splitlines()), stderr) == (
        0,
        1000,
        "showing the first 1000 sizes; narrow the range for more\n",
    )
    code, stdout, stderr = cli_run("net", small, "--in", "1..100000,1..5")
    assert (code, stderr) == (0, "showing the first 1000 sizes of H; narrow the range for more\n")
    code, stdout, stderr = cli_run("net", small, "--in", "1..100000,1..100000")
    assert (code, stderr) == (0, "showing the first 1000 sizes of H, W; narrow the range for more\n")


def test_json_with_in_has_layers_joins_ok_and_breaks(small, cli_run):
    code, stdout, _ = cli_run("net", small, "--in", "7", "--json")
    data = json.loads(stdout)
    assert (code, data["ok"], data["in"]) == (1, False, [7])
    assert data["layers"][1] == {
        "name": "e",
        "op": "conv",
        "inputs": ["input"],
        "sizes": [7],
        "refused": False,
    }
    assert data["joins"] == [
        {
            "name": "concat1",
            "op": "concat",
            "inputs": ["conv_transpose1", "e"],
            "sizes": [[6], [7]],
            "match": False,
        }
    ]
    assert data["breaks"][0]["cause"] == "conv_transpose1"


def test_json_without_in_has_the_valid_set_per_axis(small, cli_run):
    code, stdout, _ = cli_run("net", small, "--json")
    data = json.loads(stdout)
    assert (code, data["valid"]) == (0, [{"modulus": 2, "residues": [0], "from": 2, "also": []}])
    assert [layer["name"] for layer in data["layers"]] == [
        "input",
        "e",
        "max_pool1",
        "conv_transpose1",
        "concat1",
    ]
    assert data["joins"] == [{"name": "concat1", "op": "concat", "inputs": ["conv_transpose1", "e"]}]
    assert data["mirror"][0]["ways"] == [
        {"setting": "output_padding=0", "valid": {"modulus": 2, "residues": [0], "from": 2, "also": []}},
        {"setting": "output_padding=1", "valid": {"modulus": 2, "residues": [1], "from": 3, "also": []}},
    ]


@pytest.mark.parametrize(
    ("framework", "advice"),
    [
        ("keras", "keras fixes output_padding per layer: output_padding=None where H = 2m for m >= 1"),
        ("tf", "output_shape=e.shape matches e for every H where the layers build"),
        (
            "onnx",
            "output_padding = e mod 2; onnx fixes output_padding per layer: output_padding=0 where H = 2m",
        ),
        ("jax", "jax has no output_padding: crop or pad to the size of e"),
    ],
)
def test_the_mirror_rule_speaks_each_frameworks_terms(tmp_path, cli_run, framework, advice):
    path = tmp_path / "net.txt"
    path.write_text("e = conv k=3 p=same\nmax_pool k=2\nconvT k=2 s=2\nconcat e\n")
    code, stdout, _ = cli_run("net", str(path), "--framework", framework)
    assert code == 0
    assert advice in stdout.splitlines()[1]


def test_a_mirror_that_holds_everywhere_says_so(tmp_path, cli_run):
    path = tmp_path / "net.txt"
    path.write_text("framework torch\ne = conv k=3 p=1\nconv k=3 s=2 p=1\nconvT k=3 s=2 p=1 op=1\nconcat e\n")
    code, stdout, _ = cli_run("net", str(path))
    assert (code, stdout.splitlines()[1]) == (
        0,
        "mirror conv_transpose1 -> concat1: output_padding = (e + 1) mod 2: "
        "use forward(x, output_size=e.shape[2:])",
    )
    path.write_text("framework torch\ne = conv k=3 p=1\nconv k=3 s=1 p=1\nconvT k=3 s=1 p=1\nconcat e\n")
    assert cli_run("net", str(path))[1].splitlines()[1] == (
        "mirror conv_transpose1 -> concat1: output_padding=0 matches e for every H where the layers build"
    )


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (["/nonexistent.txt"], 1, "deconv: error: cannot read /nonexistent.txt: No such file or directory\n"),
        (["SMALL", "--in", "0"], 2, "deconv: error: --in must be >= 1 (got 0)\n"),
        (
            ["SMALL", "--in", "x"],
            2,
            "deconv: error: --in must be an integer or a comma list like 16,24 (got 'x')\n",
        ),
        (["SMALL", "--in", "8..2"], 2, "deconv: error: --in range must go up, like 256..1024 (got 8..2)\n"),
        (
            ["SMALL", "--in", "2..8,3"],
            2,
            "deconv: error: --in takes sizes or ranges A..B, not both (got '2..8,3')\n",
        ),
        (
            ["SMALL", "--in", "1,2,3,4"],
            2,
            "deconv: error: at most 3 spatial axes are supported (got 4)\n",
        ),
    ],
)
def test_bad_usage_and_unreadable_files_are_one_line_errors(small, cli_run, args, code, stderr):
    args = [small if a == "SMALL" else a for a in args]
    assert cli_run("net", *args) == (code, "", stderr)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the network has no layers"),
        (b"\xff\xfe\x00garbage", "is neither deconv's network text (byte 0xff on line 1 is not UTF-8)"),
        (b"conv k=3\n# caf\xe9\n", "(byte 0xe9 on line 2 is not UTF-8)"),
        (b"{i} = conv k=3\n", "line 1: {i}"),  # network text, not JSON that starts with {
        (b"conv k=3\nwarp 9\n", "line 2: unknown layer 'warp'"),
        (b"conv k=3\nconcat later\nlater = conv k=1\n", "line 2: no layer named 'later' before this line"),
        (b"conv k=3 s=99999999\nconv k=3 s=99999999\nconv k=3 s=99999999\n", "period above 100000"),
    ],
)
def test_hostile_files_get_one_line_and_no_traceback(tmp_path, cli_run, content, message):
    path = tmp_path / "net.txt"
    path.write_bytes(content)
    code, stdout, stderr = cli_run("net", str(path))
    assert code in (1, 2)
    assert stdout == ""
    assert stderr.startswith("deconv: error: ")
    assert message in stderr
    assert stderr.count("\n") == 1


def test_an_endless_source_is_read_no_further_than_its_formats_limit(cli_run):
    code, stdout, stderr = cli_run("net", "/dev/zero")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "deconv: error: /dev/zero holds more than 64 MiB: too large for network text or Keras JSON, "
        "and not a .keras file or an ONNX model\n"
    )


def test_huge_strides_still_answer_one_size(tmp_path, cli_run):
    path = tmp_path / "net.txt"
    path.write_text("conv k=3 s=999999999\nconvT k=3 s=999999999\nadd input\n")
    code, stdout, _ = cli_run("net", str(path), "--in", "5")
    assert code == 1
    assert "  fix: set output_shape=5 on conv_transpose1 (tf)" in stdout.splitlines()


def test_the_table_wraps_at_60_columns_and_keeps_every_value(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    network = text.read(
        SMALL.replace("e = ", "a_rather_long_encoder_layer_name = ").replace(
            "concat e", "concat a_rather_long_encoder_layer_name"
        ),
        rank=3,
    )
    evaluation = sizes.evaluate(network, (70001, 70001, 70001))
    out = io.StringIO()
    command.render_sizes(
        network, evaluation, fix.breaks(network, evaluation), out, terminal=True, as_json=False
    )
    lines = out.getvalue().splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert table
    assert max(len(line) for line in table) <= 60
    assert "70001" in out.getvalue()
    assert "35000" in out.getvalue()


def test_stdin_is_read_through_a_real_pipe():
    result = subprocess.run(
        [sys.executable, "-m", "deconv_cli", "net", "-", "--in", "8"],
        input=SMALL.encode(),
        capture_output=True,
        check=False,
    )
    assert (result.returncode, result.stdout.decode().splitlines()[-1], result.stderr) == (
        0,
        "ok: 8 builds and every join matches",
        b"",
    )


@pytest.mark.parametrize("extra", [[], ["--in", "7"], ["--in", "8", "--json"], ["--in", "2..9"]])
def test_net_imports_neither_numpy_nor_rich_when_piped(small, heavy_imports, extra):
    assert heavy_imports("net", small, *extra) == []


MODELS = Path(__file__).parent / "golden" / "nets" / "models"


@pytest.mark.parametrize("name", ["keras_io_unet.json", "keras_io_unet.keras"])
def test_keras_models_are_answered_end_to_end(cli_run, name):
    assert cli_run("net", str(MODELS / name)) == (
        0,
        "every H >= 1 (1, 2, 3, ...)\nevery W >= 1 (1, 2, 3, ...)\n",
        "",
    )
    code, stdout, _ = cli_run("net", str(MODELS / name), "--in", "160,96")
    assert (code, stdout.splitlines()[-1]) == (0, "ok: 160 x 96 builds and every join matches")


def test_framework_does_not_apply_to_a_model_and_says_so(cli_run):
    code, _, stderr = cli_run("net", str(MODELS / "keras_io_unet.json"), "--framework", "torch")
    assert (code, stderr) == (
        0,
        "note: --framework applies to deconv's network text; a Keras model keeps its own\n",
    )


def test_an_onnx_export_is_answered_end_to_end_with_its_breaking_layer(cli_run):
    pytest.importorskip("onnx")
    code, stdout, _ = cli_run("net", str(MODELS / "pix2pix.onnx"))
    assert (code, stdout.splitlines()[:2]) == (
        0,
        [
            "H >= 256 with H mod 256 in {0, 1} (256, 257, 512, ...)",
            "W >= 256 with W mod 256 in {0, 1} (256, 257, 512, ...)",
        ],
    )
    code, stdout, _ = cli_run("net", str(MODELS / "pix2pix.onnx"), "--in", "300")
    fixes = [line for line in stdout.splitlines() if line.startswith("  fix: ")]
    assert code == 1
    layer = "/".join(["model.1", *["model.3"] * 4, "model.5"])
    assert fixes[0] == f"  fix: set output_padding=1 on {layer} (onnx)"
    assert fixes[1] == "  fix: pad the input up to 512 x 512 or crop it down to 257 x 257"


def test_without_the_onnx_package_the_error_names_the_extra(cli_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert cli_run("net", str(MODELS / "pytorch_unet.onnx")) == (
        1,
        "",
        "deconv: error: reading ONNX models needs the onnx package: pip install 'deconv-cli[onnx]'\n",
    )


def test_a_network_no_size_builds_exits_1(tmp_path, cli_run):
    path = tmp_path / "net.txt"
    path.write_text("e = conv k=3 s=2\nconv k=3 s=2\nconcat e\n")
    assert cli_run("net", str(path)) == (1, "no H works\n", "")


def test_a_mirror_no_setting_can_repair_says_so(tmp_path, cli_run):
    path = tmp_path / "net.txt"
    path.write_text("framework torch\ne = conv k=3 s=2 p=1\nconvT k=1 s=3\nconcat e\n")
    code, stdout, _ = cli_run("net", str(path))
    assert (code, stdout) == (
        0,
        "only H = 1, 2\n"
        "mirror conv_transpose1 -> concat1: no setting of conv_transpose1 matches e for any H "
        "(their sizes grow apart)\n",
    )
