"""`deconv explain`: the pictures, the numbers through each framework, SVG, and every refusal."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deconv_cli import conv_transpose
from deconv_cli.arrays.execute import full_result
from deconv_cli.cli import draw
from deconv_cli.core import explain, parse
from deconv_cli.core.geometry import Axis
from deconv_cli.errors import DeconvError

TUTORIAL_X = np.array([[1.0, 1.0], [2.0, 2.0]])
TUTORIAL = "--in 2,2 --k 3 --s 2 --padding same"


def text(lines: str) -> list[str]:
    return [line.rstrip() for line in lines.splitlines()]


def picture(framework: str, *args: str) -> list[str]:
    """``explain``'s geometry picture of ``parse.layer(*args)`` on a 100-column console."""
    axes, options = parse.layer(*args)
    out = io.StringIO()
    draw.explain(explain.Explanation(explain.layer(framework, axes, options)), out, width=100)
    return text(out.getvalue())


LEGEND = "· inserted zero, 0 edge padding d*(k-1)-crop, [ ] kernel at output 0, ✗ cut, + zero added"


def test_1d_picture_shows_zeros_inserted_edge_padding_window_and_crop():
    assert picture("torch", "3", "4", "2", "1", "1") == [
        "torch.nn.ConvTranspose1d padding=1: 3 -> 6, k=4 s=2 d=1",
        "input 3",
        " x  x  x",
        "zeros inserted (s-1): 5",
        " x  ·  x  ·  x",
        "edge padding 2:2: 9",
        "[0][0][x][·] x  ·  x  0  0",
        "full result 8",
        " y  y  y  y  y  y  y  y",
        " ✗                    ✗",
        "torch drops the first element and the last element: full 8 -> output 6",
        LEGEND,
    ]


def test_2d_picture_of_the_tutorial_case_says_torch_would_crop_the_other_side():
    assert picture("tf", "2,2", "3", "2", "1", "same") == [
        "tf.nn.conv2d_transpose padding=same: 2 x 2 -> 4 x 4, k=3 s=2 d=1",
        "input 2 x 2    zeros inserted (s-1): 3 x 3    edge padding 2:1, 2:1: 6 x 6    full result 5 x 5",
        " x  x           x  ·  x                       [0][0][0] 0  0  0                y  y  y  y  y",
        " x  x           ·  ·  ·                       [0][0][0] 0  0  0                y  y  y  y  y",
        "                x  ·  x                       [0][0][x] ·  x  0                y  y  y  y  y",
        "                                               0  0  ·  ·  ·  0                y  y  y  y  y",
        "                                               0  0  x  ·  x  0                y  y  y  y  y  ✗",
        "                                               0  0  0  0  0  0                            ✗",
        "tf drops the last row and the last column: full 5 x 5 -> output 4 x 4",
        "torch cannot crop this way; its padding=[1, 1], output_padding=[1, 1] gives the same size but drops",
        "the first row and the first column instead",
        LEGEND,
    ]


def test_negative_edges_cut_elements_of_the_zero_inserted_input():
    assert picture("torch", "4", "3", "2", "1", "3")[3:10] == [
        "zeros inserted (s-1): 7",
        " x  ·  x  ·  x  ·  x",
        " ✗                 ✗",
        "edge padding -1:-1: 5",
        "[·][x][·] x  ·",
        "full result 9",
        " y  y  y  y  y  y  y  y  y",
    ]


def test_a_negative_crop_appends_zeros_after_the_full_result():
    # jax's padding is lax.conv_transpose's edge padding: 1:3 with k=3 crops 1:-1
    assert picture("jax", "3", "3", "2", "1", "1:3")[5:11] == [
        "edge padding 1:3: 9",
        "[0][x][·] x  ·  x  0  0  0",
        "full result 7",
        " y  y  y  y  y  y  y  0",
        " ✗                    +",
        "jax drops the first element and adds 1 zero element at the end: full 7 -> output 7",
    ]


def test_dilation_spreads_the_kernel_window():
    assert picture("onnx", "3", "2", "3", "2", "same")[5:7] == [
        "edge padding 2:2: 11",
        "[0] 0 [x] ·  ·  x  ·  ·  x  0  0",
    ]


def test_a_large_1d_layer_is_condensed_with_ellipses():
    assert picture("tf", "40", "5", "3", "1", "same")[1:10] == [
        "input 40",
        " x  x  x  x  x  x  x  x  x  x  x  …  x  x  x  x  x  x  x  x  x  x",
        "zeros inserted (s-1): 118",
        " x  ·  ·  x  ·  ·  x  ·  ·  x  ·  …  x  ·  ·  x  ·  ·  x  ·  ·  x",
        "edge padding 3:3: 124",
        "[0][0][0][x][·] ·  x  ·  ·  x  ·  …  x  ·  ·  x  ·  ·  x  0  0  0",
        "full result 122",
        " y  y  y  y  y  y  y  y  y  y  y  …  y  y  y  y  y  y  y  y  y  y",
        " ✗                                                              ✗",
    ]


def test_a_large_2d_layer_is_condensed_within_100_columns():
    lines = picture("onnx", "40,30", "5", "3", "1", "same")
    assert max(map(len, lines)) <= 100
    assert lines[2] == (
        " x  x  x  x  x  x  x  …  x  x  x  x  x  x      x  ·  ·  x  ·  ·  x  …  ·  ·  x  ·  ·  x"
    )
    assert lines[8] == (
        " ⋮  ⋮  ⋮  ⋮  ⋮  ⋮  ⋮  ⋱  ⋮  ⋮  ⋮  ⋮  ⋮  ⋮      ⋮  ⋮  ⋮  ⋮  ⋮  ⋮  ⋮  ⋱  ⋮  ⋮  ⋮  ⋮  ⋮  ⋮"
    )


def test_the_tutorial_values_reproduce_and_torch_takes_the_first_row_and_column(tmp_path, cli_run):
    np.save(tmp_path / "x.npy", TUTORIAL_X)
    code, stdout, stderr = cli_run(
        "explain", *TUTORIAL.split(), "--values", str(tmp_path / "x.npy"), "--ones"
    )
    assert (code, stderr) == (0, "")
    assert text(stdout)[9:18] == [
        "output 4 x 4    torch's output 4 x 4",
        " 1  1  2  1      1  2  1  1",
        " 1  1  2  1      3  6  3  3",
        " 3  3  6  3      2  4  2  2",
        " 2  2  4  2      2  4  2  2",
        "tf drops the last row and the last column: full 5 x 5 -> output 4 x 4",
        "torch cannot crop this way; its padding=[1, 1], output_padding=[1, 1] gives the same size but drops",
        "the first row and the first column instead",
        LEGEND,
    ]
    assert text(stdout)[2:8] == [
        " 1  1            1  ·  1                       [0][0][0] 0  0  0                1  1  2  1  1",
        " 2  2            ·  ·  ·                       [0][0][0] 0  0  0                1  1  2  1  1",
        "                 2  ·  2                       [0][0][1] ·  1  0                3  3  6  3  3",
        "                                                0  0  ·  ·  ·  0                2  2  4  2  2",
        "                                                0  0  2  ·  2  0                2  2  4  2  2  ✗",
        "                                                0  0  0  0  0  0                            ✗",
    ]
    assert "\x1b" not in stdout


def test_the_tutorial_values_in_the_core():
    axes, options = parse.layer("2,2", "3", "2", padding_text="same")
    report = explain.layer("tf", axes, options)
    full = conv_transpose(TUTORIAL_X[None, :, :, None], np.ones((3, 3, 1, 1)), stride=2, framework="tf")
    values = explain.Values.of(report, TUTORIAL_X.tolist(), full[0, :, :, 0].tolist())
    assert values.output == ((1, 1, 2, 1), (1, 1, 2, 1), (3, 3, 6, 3), (2, 2, 4, 2))
    assert values.alternative == ((1, 2, 1, 1), (3, 6, 3, 3), (2, 4, 2, 2), (2, 4, 2, 2))


class Capture:
    """Stands in for ``draw.explain`` to keep what the command computed."""

    def __call__(self, picture: explain.Explanation, out: object, *, svg: str | None) -> None:
        self.picture = picture


@pytest.mark.parametrize(
    ("args", "x_shape", "w_shape", "options"),
    [
        ("--in 2,2 --k 3 --s 2 --padding same", (1, 2, 2, 1), (3, 3, 1, 1), {"stride": 2, "padding": "same"}),
        ("--in 5 --k 3 --s 2 --padding same", (1, 5, 1), (3, 1, 1), {"stride": 2, "padding": "same"}),
        (
            "--in 4 --k 3 --s 2 --padding 1 --op 1 -f torch",
            (1, 1, 4),
            (1, 1, 3),
            {"stride": 2, "padding": 1, "output_padding": 1},
        ),
        ("--in 4 --k 3 --s 2 --padding 3 -f torch", (1, 1, 4), (1, 1, 3), {"stride": 2, "padding": 3}),
        (
            "--in 3,4 --k 3,2 --s 2 --padding same -f keras",
            (3, 4, 1),
            (3, 2, 1, 1),
            {"stride": 2, "padding": "same"},
        ),
        ("--in 3 --k 2 --s 3 -f keras", (1, 3, 1), (2, 1, 1), {"stride": 3, "padding": "valid"}),
        (
            "--in 5 --k 4 --s 3 --padding same_lower -f onnx",
            (1, 5),
            (1, 1, 4),
            {"stride": 3, "padding": "same_lower"},
        ),
        (
            "--in 4,3 --k 3,2 --d 2 --padding same -f onnx",
            (1, 1, 4, 3),
            (1, 1, 3, 2),
            {"dilation": 2, "padding": "same"},
        ),
        (
            "--in 3 --k 3 --s 2 --padding 1:-1 -f jax",
            (1, 3, 1),
            (3, 1, 1),
            {"stride": 2, "padding": [(1, -1)]},
        ),
    ],
)
def test_values_go_through_the_layer_as_run_computes_it(
    args, x_shape, w_shape, options, tmp_path, monkeypatch, cli_run
):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    framework = args.split()[-1] if " -f " in args else "tf"
    expected = conv_transpose(x, w, framework=framework, **options)
    capture = Capture()
    monkeypatch.setattr(draw, "explain", capture)
    code, _, stderr = cli_run(
        "explain", *args.split(), "--values", str(tmp_path / "x.npy"), "-w", str(tmp_path / "w.npy")
    )
    assert (code, stderr) == (0, "")
    values = capture.picture.values
    assert values is not None
    assert_allclose(np.array(values.output), expected.reshape(np.array(values.output).shape), strict=True)
    assert_allclose(np.array(values.input).ravel(), x.ravel(), strict=True)


@pytest.mark.parametrize("shape", [(2, 2), (1, 2, 2, 1), (2, 2, 1)])
def test_values_are_plain_or_one_sample_one_channel_in_the_frameworks_layout(
    shape, tmp_path, monkeypatch, cli_run
):
    np.save(tmp_path / "x.npy", TUTORIAL_X.reshape(shape))
    np.save(tmp_path / "w.npy", np.ones((3, 3)))
    capture = Capture()
    monkeypatch.setattr(draw, "explain", capture)
    assert (
        cli_run(
            "explain", *TUTORIAL.split(), "--values", str(tmp_path / "x.npy"), "-w", str(tmp_path / "w.npy")
        )[0]
        == 0
    )
    assert capture.picture.values is not None
    assert capture.picture.values.output == ((1, 1, 2, 1), (1, 1, 2, 1), (3, 3, 6, 3), (2, 2, 4, 2))


@pytest.mark.parametrize("framework", ["tf", "torch", "keras", "onnx", "jax"])
@pytest.mark.parametrize("rank", [1, 2])
def test_full_result_keeps_everything_in_every_frameworks_layout(framework, rank):
    axes = [Axis(3, 3, 2), Axis(2, 2, 3)][:rank]
    x = np.ones(
        explain.layout(tuple(a.n for a in axes), tuple(a.n for a in axes), framework, option="--values")
    )
    w = np.ones(explain.layout((3, 2)[:rank], (3, 2)[:rank], framework, option="--weight"))
    full = full_result(x, w, stride=[a.stride for a in axes], framework=framework)
    assert full.size == np.prod([a.full for a in axes])
    assert full.sum() == x.sum() * w.sum()  # nothing cropped


def test_svg_is_written_whole_next_to_nothing_else(tmp_path, cli_run):
    target = tmp_path / "picture.svg"
    code, stdout, _ = cli_run("explain", *TUTORIAL.split(), "--svg", str(target))
    assert code == 0
    assert target.read_text().startswith("<svg")
    assert "tf drops the last row and the last column" in stdout
    assert [p.name for p in tmp_path.iterdir()] == ["picture.svg"]


def test_svg_into_a_missing_folder_exits_1(tmp_path, cli_run):
    code, _, stderr = cli_run("explain", *TUTORIAL.split(), "--svg", str(tmp_path / "no" / "p.svg"))
    assert (code, stderr) == (
        1,
        f"deconv: error: cannot write '{tmp_path / 'no' / 'p.svg'}': No such file or directory\n",
    )


def test_a_shape_that_is_not_one_sample_one_channel_is_refused():
    with pytest.raises(
        DeconvError, match=r"--values must have shape \(1, 1, 2, 2\) or \(2, 2\) or \(1, 2, 2\)"
    ):
        explain.layout((2, 2, 2), (2, 2), "torch", option="--values")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("explain --in 2,2,2 --k 3", "explain draws 1-D and 2-D layers (got 3 axes)"),
        ("explain --in 2 --k 3 --values x.npy", "--values needs a kernel: --weight W.npy or --ones"),
        ("explain --in 2 --k 3 --ones", "--weight and --ones need --values X.npy"),
        ("explain --in 2 --k 3 -w w.npy", "--weight and --ones need --values X.npy"),
        ("explain --in 2 --k 3 --values x.npy -w w.npy --ones", "give --weight or --ones, not both"),
        (
            "explain --in 3 --k 3 --values x.npy --ones",
            "--values must have shape (1, 3, 1) or (3,) or (3, 1): "
            "plain, or one sample and one channel in tf's layout (got (2,))",
        ),
        (
            "explain --in 2 --k 2 --values x.npy -w w.npy",
            "--weight must have shape (2, 1, 1) or (2,): "
            "plain, or one input and one output channel in tf's layout (got (3,))",
        ),
        (
            "explain --in 2 --k 3 --s 2 --d 2 -f keras",
            "keras: strides > 1 not supported in conjunction with "
            "dilation_rate > 1 (got strides=2, dilation_rate=2); use --s 1 or --d 1",
        ),
    ],
)
def test_bad_explain_input_exits_2_with_one_line(args, message, tmp_path, monkeypatch, cli_run):
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", np.ones(2))
    np.save("w.npy", np.ones(3))
    assert cli_run(*args.split()) == (2, "", f"deconv: error: {message}\n")


@pytest.mark.parametrize(("option", "role"), [("--values", "input"), ("-w", "weight")])
def test_unreadable_files_exit_1_with_one_line(option, role, tmp_path, monkeypatch, cli_run):
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", np.ones(2))
    np.save("w.npy", np.ones(3))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    files = {"--values": "x.npy", "-w": "w.npy", option: "bad.npy"}
    assert cli_run(
        "explain", "--in", "2", "--k", "3", *(item for pair in files.items() for item in pair)
    ) == (
        1,
        "",
        f"deconv: error: {role} 'bad.npy' has .npy format version 32.103; only 1.0, 2.0 and 3.0 exist\n",
    )


def test_a_missing_file_exits_1(tmp_path, cli_run):
    code, _, stderr = cli_run(
        "explain", "--in", "2", "--k", "3", "--values", str(tmp_path / "none.npy"), "--ones"
    )
    assert (code, stderr) == (
        1,
        f"deconv: error: cannot read input '{tmp_path / 'none.npy'}': No such file or directory\n",
    )


def test_the_svg_is_never_written_over_an_input_file(tmp_path, monkeypatch, cli_run):
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", np.arange(4.0))
    before = (tmp_path / "x.npy").read_bytes()
    assert cli_run("explain", "--in", "4", "--k", "3", "--values", "x.npy", "--ones", "--svg", "x.npy") == (
        2,
        "",
        "deconv: error: --svg 'x.npy' is the input file; write the result elsewhere\n",
    )
    assert (tmp_path / "x.npy").read_bytes() == before


def test_only_one_of_values_and_weight_reads_stdin(cli_run):
    assert cli_run("explain", "--in", "4", "--k", "3", "--values", "-", "--weight", "-") == (
        2,
        "",
        "deconv: error: only one of --values and --weight can read stdin (-)\n",
    )


def test_the_numbers_of_a_huge_kernel_are_refused_by_the_memory_the_engine_needs(tmp_path, cli_run):
    # the engine's full result counts with the numbers listed for the picture
    np.save(tmp_path / "x.npy", np.ones((2, 2)))
    args = ["--in", "2,2", "--k", "4000", "--s", "2", "--padding", "same", "--ones"]
    code, stdout, stderr = cli_run("explain", *args, "--values", str(tmp_path / "x.npy"))
    assert (code, stdout) == (1, "")
    assert stderr.startswith("deconv: error: this run needs at least 2.0 GiB")
    assert stderr.endswith("more than --max-memory 1.0 GiB; give --max-memory 2016M or more\n")
