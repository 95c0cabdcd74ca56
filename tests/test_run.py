"""`deconv run` and `conv_transpose`: layouts, dtypes, pipes, hostile files, safe output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import DECONV, deconv, npy, on_terminal, pickled
from numpy.testing import assert_allclose, assert_array_equal

from deconv_cli import conv_transpose
from deconv_cli.errors import DeconvError

TUTORIAL_X = np.array([[1.0, 1.0], [2.0, 2.0]])
TUTORIAL_SAME = [[1, 1, 2, 1], [1, 1, 2, 1], [3, 3, 6, 3], [2, 2, 4, 2]]


def test_tf_same_crops_the_last_row_and_column_of_the_tutorial_case():
    y = conv_transpose(
        TUTORIAL_X.reshape(1, 2, 2, 1), np.ones((3, 3, 1, 1)), stride=2, padding="same", framework="tf"
    )
    assert_array_equal(y[0, :, :, 0], TUTORIAL_SAME)


def test_torch_padding_1_output_padding_1_crops_the_first_row_and_column_instead():
    y = conv_transpose(
        TUTORIAL_X.reshape(1, 1, 2, 2), np.ones((1, 1, 3, 3)), stride=2, padding=1, output_padding=1
    )
    assert_array_equal(y[0, 0], [[1, 2, 1, 1], [3, 6, 3, 3], [2, 4, 2, 2], [2, 4, 2, 2]])


def test_layouts_of_every_framework_give_the_same_layer():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))  # torch layout
    w = rng.standard_normal((3, 2, 3, 2))  # (C_in, C_out, kh, kw)
    expected = conv_transpose(x, w, stride=2, framework="onnx", padding="same")
    nhwc = np.moveaxis(x, 1, -1)
    tf_w = np.transpose(w, (2, 3, 1, 0))
    jax_w = np.flip(np.transpose(w, (2, 3, 0, 1)), axis=(0, 1))
    for name, data, kernel in (("tf", nhwc, tf_w), ("keras", nhwc, tf_w), ("jax", nhwc, jax_w)):
        got = conv_transpose(data, kernel, stride=2, padding="same", framework=name)
        assert_allclose(np.moveaxis(got, -1, 1), expected, rtol=1e-12, strict=True)


def test_layout_option_overrides_the_frameworks_data_layout():
    x = np.arange(6.0).reshape(1, 3, 2)
    w = np.ones((3, 1, 2))
    channels_last = conv_transpose(np.moveaxis(x, 1, -1), w, layout="channels_last")
    assert_allclose(np.moveaxis(channels_last, -1, 1), conv_transpose(x, w), strict=True)


def test_unbatched_input_gives_an_unbatched_result():
    x = np.ones((1, 3))
    assert conv_transpose(x, np.ones((1, 2, 2)), stride=2).shape == (2, 6)


@pytest.mark.parametrize(
    ("dtype", "result"),
    [(np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float16), (np.int64, np.float32)],
)
def test_float_dtypes_are_kept_and_integers_become_float32(dtype, result):
    y = conv_transpose(np.ones((1, 1, 3), dtype=dtype), np.ones((1, 1, 2), dtype=dtype))
    assert y.dtype == result
    assert_allclose(y.astype(np.float64)[0, 0], [1.0, 2.0, 2.0, 1.0], strict=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_a_channels_last_result_is_one_c_ordered_array(dtype):
    y = conv_transpose(np.ones((2, 3, 3, 4), dtype=dtype), np.ones((2, 2, 5, 4), dtype=dtype), framework="tf")
    assert (y.shape, y.dtype, y.flags.c_contiguous) == ((2, 4, 4, 5), dtype, True)


def test_bias_is_added_per_output_channel():
    y = conv_transpose(np.zeros((1, 1, 2)), np.zeros((1, 2, 1)), bias=np.array([1.0, -1.0]))
    assert_array_equal(y, [[[1, 1], [-1, -1]]])


def test_groups_keep_channel_groups_apart():
    x = np.stack([np.ones(3), np.zeros(3)])[None]  # channel 0 ones, channel 1 zeros
    y = conv_transpose(x, np.ones((2, 1, 1)), groups=2)
    assert_array_equal(y[0], [[1, 1, 1], [0, 0, 0]])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"x": np.ones((1, 2, 3)), "w": np.ones((3, 1, 2))},
            r"input has 2 channels but the weight expects C_in = 3",
        ),
        ({"x": np.ones((3,)), "w": np.ones((1, 1, 2))}, r"x must have 3 dimensions"),
        ({"x": np.ones((1, 1, 3)), "w": np.ones((2,))}, r"w must have 3, 4 or 5 dimensions"),
        (
            {"x": np.ones((1, 3, 3)), "w": np.ones((3, 1, 2)), "groups": 2},
            r"C_in = 3 must be divisible by groups = 2",
        ),
        (
            {"x": np.ones((1, 3, 2)), "w": np.ones((2, 1, 3)), "framework": "keras", "groups": 3},
            r"keras: has no grouped",
        ),
        (
            {"x": np.ones((1, 1, 3)), "w": np.ones((1, 2, 2)), "bias": np.ones(3)},
            r"bias must have shape \(2,\)",
        ),
        (
            {"x": np.ones((1, 1, 3)), "w": np.ones((1, 1, 2)), "stride": 2, "output_padding": 2},
            r"torch: output_padding must be < max\(stride, dilation\) = 2 \(got 2\)",
        ),
        (
            {"x": np.ones((1, 1, 3), dtype=complex), "w": np.ones((1, 1, 2))},
            r"x has dtype complex128; only real numbers are supported",
        ),
        (
            {"x": np.ones((1, 1, 3)), "w": np.ones((1, 1, 2)), "framework": "caffe"},
            r"framework must be one of",
        ),
    ],
)
def test_bad_arrays_raise_one_deconv_error(kwargs, message):
    x, w = kwargs.pop("x"), kwargs.pop("w")
    with pytest.raises(DeconvError, match=message):
        conv_transpose(x, w, **kwargs)


# the console script installed next to this interpreter, not whichever is first on PATH
@pytest.fixture
def files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x.npy", rng.standard_normal((2, 5, 5, 3)))
    np.save(tmp_path / "w1.npy", rng.standard_normal((3, 3, 4, 3)))
    np.save(tmp_path / "w2.npy", rng.standard_normal((2, 2, 2, 4)))
    return tmp_path


def test_readme_pipeline_runs_through_real_pipes(files):
    shell = subprocess.run(
        "deconv run - -w w1.npy --s 2 --padding same < x.npy | deconv run - -w w2.npy --s 2 > y.npy",
        shell=True,
        cwd=files,
        capture_output=True,
        check=False,
    )
    assert (shell.returncode, shell.stderr) == (0, b"")
    x, w1, w2 = (np.load(files / f"{name}.npy") for name in ("x", "w1", "w2"))
    expected = conv_transpose(
        conv_transpose(x, w1, stride=2, padding="same", framework="tf"), w2, stride=2, framework="tf"
    )
    assert_allclose(np.load(files / "y.npy"), expected, rtol=1e-12, strict=True)
    assert expected.shape == (2, 20, 20, 2)


def test_output_file_is_written_whole(files):
    result = deconv("run", "x.npy", "-w", "w1.npy", "-o", "out.npy", cwd=files)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert np.load(files / "out.npy").shape == (2, 7, 7, 4)
    assert [p.name for p in files.iterdir() if p.name.startswith(".")] == []


def test_failed_run_leaves_an_existing_output_untouched(files):
    (files / "out.npy").write_bytes(b"precious")
    result = deconv(
        "run",
        "x.npy",
        "-w",
        "w1.npy",
        "--op",
        "5",
        "--padding",
        "1",
        "-f",
        "onnx",
        "-o",
        "out.npy",
        cwd=files,
    )
    assert result.returncode == 2
    assert (files / "out.npy").read_bytes() == b"precious"


def test_output_equal_to_an_input_is_refused(files):
    result = deconv("run", "x.npy", "-w", "w1.npy", "-o", "./x.npy", cwd=files)
    assert result.returncode == 2
    assert (
        result.stderr == b"deconv: error: --output './x.npy' is the input file; write the result elsewhere\n"
    )


def test_binary_output_to_a_terminal_is_refused(files):
    code, _, stderr = on_terminal([DECONV, "run", "x.npy", "-w", "w1.npy"], stderr_too=False, cwd=files)
    assert code == 2
    assert b"refusing to write .npy bytes to a terminal" in stderr


@pytest.mark.parametrize(
    "command", [["run", "x.npy", "-w", "w1.npy"], ["convert", "w1.npy", "--from", "tf", "--to", "torch"]]
)
def test_binary_output_to_a_terminal_named_by_o_is_refused(files, command):
    code, shown, stderr = on_terminal([DECONV, *command, "-o", "/dev/stdout"], stderr_too=False, cwd=files)
    assert (code, shown) == (2, "")
    refusal = b"deconv: error: refusing to write .npy bytes to a terminal (/dev/stdout); give -o FILE\n"
    assert stderr == refusal


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out.npy/", "cannot write 'out.npy/': a name ending in / is a directory"),
        ("", "cannot write '': the file name is empty"),
    ],
)
def test_an_output_name_that_cannot_be_a_file_is_refused(files, name, message):
    result = deconv("run", "x.npy", "-w", "w1.npy", "-o", name, cwd=files)
    assert (result.returncode, result.stderr) == (1, f"deconv: error: {message}\n".encode())
    assert not (files / "out.npy").exists()
    result = deconv("explain", "--in", "3", "--k", "3", "--svg", name, cwd=files)
    assert (result.returncode, result.stdout) == (1, b"")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            npy(np.ones((1, 5, 5, 3)))[:-7],
            b"is truncated: its header declares 600 bytes of data, it holds 593",
        ),
        (b"not an array at all", b"is not a .npy file (it does not start with numpy's .npy signature)"),
        (b"", b"is empty: expected a .npy array"),
        (pickled(), b"holds Python objects (dtype object)"),
        (npy(np.ones((1, 5, 5, 3), dtype=complex)), b"has dtype complex128; only real numbers"),
        (npy(np.array(["a", "b"])), b"has dtype <U1; only real numbers"),
        (npy(np.zeros((0, 5, 5, 3))), b"is empty (shape (0, 5, 5, 3))"),
    ],
)
def test_hostile_input_files_exit_1_with_one_line(files, content, message):
    result = deconv("run", "-", "-w", "w1.npy", input=content, cwd=files)
    assert result.returncode == 1
    assert result.stderr.startswith(b"deconv: error: input stdin ")
    assert message in result.stderr
    assert result.stderr.count(b"\n") == 1
    assert result.stdout == b""


def test_missing_file_exits_1(files):
    result = deconv("run", "nope.npy", "-w", "w1.npy", cwd=files)
    assert (result.returncode, result.stderr) == (
        1,
        b"deconv: error: cannot read input 'nope.npy': No such file or directory\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-w", "w1.npy", "--framework", "torch"], b"input has 5 channels but the weight expects C_in = 3"),
        (["-w", "w1.npy", "--groups", "2"], b"C_in = 3 must be divisible by groups = 2"),
        (["-w", "w1.npy", "--s", "2,2,2"], b"--s has 3 values but the weight has 2 spatial axes; give one"),
        (["-w", "w1.npy", "--max-memory", "lots"], b"--max-memory must be a positive size like 512M"),
        (["-w", "w1.npy", "-b", "-"], b"only one of INPUT, --weight and --bias can read stdin"),
        (["-w", "w1.npy", "--s", "1,2", "--padding", "1,1,1"], b"--s has 2 values but --padding has 3"),
        (["-w", "w1.npy", "--op", ""], b"--op must be an integer or a comma list"),
    ],
)
def test_mismatched_arrays_and_options_exit_2(files, args, message):
    result = deconv("run", "-", *args, input=npy(np.ones((1, 5, 5, 3))), cwd=files)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == b""


def test_run_help_explains_the_layouts():
    result = deconv("run", "--help")
    assert b"(C_in, C_out/groups, *k)" in result.stdout
