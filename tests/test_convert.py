"""`deconv convert` and `convert`: every layout pair, groups, pipes, hostile files, the real frameworks."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import DECONV, deconv, npy, on_terminal, pickled
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from deconv_cli import conv_transpose, convert
from deconv_cli.arrays import engine
from deconv_cli.arrays.convert import LAYOUTS
from deconv_cli.errors import DeconvError

GROUPED = ("torch", "onnx", "tf")  # the layouts whose frameworks have grouped transposed convolutions
CHANNELS_FIRST = ("torch", "onnx")
# deconv run's framework for each layout (JAX with transpose_kernel=True takes TF's kernel, and has no groups)
RUN_AS = {name: name for name in LAYOUTS} | {"jax_transpose_kernel": "keras"}


def dense(w: np.ndarray, groups: int) -> np.ndarray:
    """The block-diagonal (C_in, C_out, *k) torch weight of a grouped one."""
    c_in, per = w.shape[:2]
    out = np.zeros((c_in, per * groups, *w.shape[2:]), w.dtype)
    size = c_in // groups
    for g in range(groups):
        out[g * size : (g + 1) * size, g * per : (g + 1) * per] = w[g * size : (g + 1) * size]
    return out


def weight_in(layout: str, w: np.ndarray, groups: int) -> np.ndarray:
    """A torch (C_in, C_out/groups, *k) weight in ``layout``, written from frameworks.md, not from convert."""
    if layout not in GROUPED:
        w = dense(w, groups)
    if layout in CHANNELS_FIRST:
        return w
    rank = w.ndim - 2
    if layout == "jax":  # (*k, C_in, C_out), spatially flipped
        return np.flip(np.transpose(w, (*range(2, rank + 2), 0, 1)), axis=tuple(range(rank)))
    return np.transpose(w, (*range(2, rank + 2), 1, 0))  # (*k, C_out/groups, C_in)


def data_in(layout: str, x: np.ndarray) -> np.ndarray:
    return x if layout in CHANNELS_FIRST else np.moveaxis(x, 1, -1)


def test_torch_weight_to_tf_swaps_channels_and_moves_the_kernel_first():
    w = np.arange(12.0).reshape(2, 3, 2)  # C_in 2, C_out 3, k 2
    assert_array_equal(convert(w, source="torch", target="tf"), np.transpose(w, (2, 1, 0)), strict=True)
    assert convert(w, source="torch", target="tf")[1, 2, 0] == w[0, 2, 1]


def test_torch_weight_to_jax_is_flipped_and_keeps_in_before_out():
    w = np.arange(12.0).reshape(2, 3, 2)
    jax = convert(w, source="torch", target="jax")
    assert jax.shape == (2, 2, 3)
    assert jax[0, 1, 2] == w[1, 2, 1]  # kernel index 0 holds torch's last tap


def test_jax_transpose_kernel_takes_tfs_weight_as_it_is():
    w = np.arange(24.0).reshape(2, 2, 3, 2)
    assert_array_equal(convert(w, source="tf", target="jax_transpose_kernel"), w, strict=True)


def test_data_moves_channels_between_first_and_last():
    x = np.arange(24.0).reshape(1, 2, 3, 4)  # (N, C, H, W)
    nhwc = convert(x, source="torch", target="keras", kind="input")
    assert nhwc.shape == (1, 3, 4, 2)
    assert_array_equal(convert(nhwc, source="jax", target="onnx", kind="output"), x, strict=True)
    assert_array_equal(convert(x, source="torch", target="onnx", kind="input"), x, strict=True)


def test_grouped_weight_becomes_block_diagonal_for_keras_and_back():
    w = np.arange(1.0, 9.0).reshape(4, 1, 2)  # 4 in, 2 groups of 1 out
    keras = convert(w, source="torch", target="keras", groups=2)
    assert keras.shape == (2, 2, 4)
    assert_array_equal(keras[:, 1, :2], 0 * keras[:, 1, :2])  # group 1's outputs never see inputs 0, 1
    assert_array_equal(convert(keras, source="keras", target="torch", groups=2), w, strict=True)


@pytest.mark.parametrize(
    ("array", "kwargs", "message"),
    [
        (
            np.ones((3, 3)),
            {"source": "tf", "target": "torch"},
            r"array must have 3, 4 or 5 dimensions: "
            r"a tf weight \(\*k, C_out/groups, C_in\) with 1-3 kernel axes \(got shape \(3, 3\)\)",
        ),
        (
            np.ones((1, 3)),
            {"source": "keras", "target": "torch", "kind": "input"},
            r"keras data \(N, \*spatial, C\) with 1-3 spatial axes",
        ),
        (
            np.ones((1, 3)),
            {"source": "onnx", "target": "torch", "kind": "output"},
            r"onnx data \(N, C, \*spatial\)",
        ),
        (np.ones((3, 2, 2)), {"source": "torch", "target": "caffe"}, "target must be one of tf, torch, "),
        (
            np.ones((3, 2, 2)),
            {"source": "torch", "target": "tf", "kind": "bias"},
            "kind must be one of weight",
        ),
        (
            np.ones((3, 2, 2)),
            {"source": "torch", "target": "tf", "groups": 0},
            r"groups must be an int >= 1 \(got 0\)",
        ),
        (
            np.ones((3, 2, 2)),
            {"source": "torch", "target": "tf", "groups": 2},
            r"C_in = 3 must be divisible by groups \(got 2; torch weight",
        ),
        (
            np.ones((2, 4, 4)),
            {"source": "jax", "target": "torch", "groups": 2},
            "the jax weight is not block-diagonal for groups 2",
        ),
    ],
)
def test_bad_requests_raise_errors_naming_the_api_parameters(array, kwargs, message):
    with pytest.raises(DeconvError, match=message):
        convert(array, **kwargs)


layers = st.fixed_dictionaries(
    {
        "rank": st.integers(1, 2),
        "groups": st.integers(1, 3),
        "c_in": st.integers(1, 2),
        "c_out": st.integers(1, 2),
        "n": st.integers(1, 4),
        "k": st.integers(1, 3),
        "s": st.integers(1, 3),
        "batch": st.integers(1, 2),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=60, deadline=None)
@given(layer=layers, source=st.sampled_from(LAYOUTS), target=st.sampled_from(LAYOUTS))
def test_run_on_converted_arrays_gives_the_converted_output(layer, source, target):
    rank, groups = layer["rank"], layer["groups"]
    k, s = layer["k"], min(layer["s"], layer["k"])  # k >= s: every framework's valid output is F
    rng = np.random.default_rng(layer["seed"])
    x = rng.standard_normal((layer["batch"], layer["c_in"] * groups, *(layer["n"],) * rank))
    w = rng.standard_normal((layer["c_in"] * groups, layer["c_out"], *(k,) * rank))
    expected = engine.conv_transpose(
        x, w, stride=(s,) * rank, dilation=(1,) * rank, crop=((0, 0),) * rank, groups=groups
    )

    def run(layout: str, data: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return conv_transpose(
            data,
            kernel,
            stride=s,
            padding="valid",
            groups=groups if layout in GROUPED else 1,
            framework=RUN_AS[layout],
        )

    x_source, w_source = data_in(source, x), weight_in(source, w, groups)
    y_source = run(source, x_source, w_source)
    assert_allclose(y_source, data_in(source, expected), rtol=1e-10, atol=1e-12)
    w_target = convert(w_source, source=source, target=target, groups=groups)
    assert_array_equal(w_target, weight_in(target, w, groups), strict=True)
    y_target = run(target, convert(x_source, source=source, target=target, kind="input"), w_target)
    back = convert(y_target, source=target, target=source, kind="output")
    assert_allclose(back, y_source, rtol=1e-10, atol=1e-12)
    assert_array_equal(convert(w_target, source=target, target=source, groups=groups), w_source, strict=True)


# the real frameworks, each on its own layouts: 2-D, stride (2, 1), valid padding with k >= s (output F)
STRIDE, GROUPS = (2, 1), 2
MODULE = {"torch": "torch", "onnx": "onnxruntime", "tf": "tensorflow", "keras": "keras", "jax": "jax"}
MODULE["jax_transpose_kernel"] = "jax"
MARK = {
    "torch": "torch",
    "onnx": "onnx",
    "tf": "tf",
    "keras": "tf",
    "jax": "jax",
    "jax_transpose_kernel": "jax",
}


def real(layout: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The layer computed by the real framework of ``layout`` on arrays in that layout."""
    groups = GROUPS if layout in GROUPED else 1
    if layout == "torch":
        import torch

        return torch.nn.functional.conv_transpose2d(
            torch.from_numpy(x), torch.from_numpy(w), stride=STRIDE, groups=groups
        ).numpy()
    if layout == "onnx":
        import onnxruntime
        from onnx import TensorProto, helper

        node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], strides=list(STRIDE), group=groups)
        graph = helper.make_graph(
            [node],
            "convert",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape) for n, a in (("X", x), ("W", w))],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
        session = onnxruntime.InferenceSession(model.SerializeToString())
        return session.run(None, {"X": x, "W": w})[0]
    if layout == "tf":
        import tensorflow as tf

        full = [(n - 1) * s + k for n, s, k in zip(x.shape[1:3], STRIDE, w.shape[:2], strict=True)]
        shape = [x.shape[0], *full, w.shape[2] * groups]
        return tf.nn.conv2d_transpose(x, w, output_shape=shape, strides=STRIDE, padding="VALID").numpy()
    if layout == "keras":
        import keras

        return np.asarray(keras.ops.conv_transpose(x, w, strides=STRIDE, padding="valid"))
    import jax

    transpose = layout == "jax_transpose_kernel"
    return np.asarray(jax.lax.conv_transpose(x, w, STRIDE, "VALID", transpose_kernel=transpose))


def pairs() -> list[Any]:
    return [
        pytest.param(
            source, target, marks=[getattr(pytest.mark, MARK[source]), getattr(pytest.mark, MARK[target])]
        )
        for source in LAYOUTS
        for target in LAYOUTS
        if source != target
    ]


@pytest.mark.parametrize(("source", "target"), pairs())
def test_converted_weight_in_the_real_target_gives_the_real_sources_values(source, target):
    for layout in (source, target):
        if (
            importlib.util.find_spec(MODULE[RUN_AS[layout] if layout != "jax_transpose_kernel" else "jax"])
            is None
        ):
            pytest.skip(f"{layout} is not installed")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)  # 4 in, 2 groups of 3 out, k (3, 2)
    x_source, w_source = data_in(source, x), weight_in(source, w, GROUPS)
    wanted = real(source, x_source, w_source)
    x_target = convert(x_source, source=source, target=target, kind="input")
    got = real(target, x_target, convert(w_source, source=source, target=target, groups=GROUPS))
    assert_allclose(convert(got, source=target, target=source, kind="output"), wanted, rtol=1e-4, atol=1e-4)


# the command: pipes, files, safety
@pytest.fixture
def files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    np.save(tmp_path / "x.npy", rng.standard_normal((1, 4, 5, 5)))  # torch layouts
    np.save(tmp_path / "w.npy", rng.standard_normal((4, 3, 3, 3)))
    return tmp_path


def test_converted_arrays_pipe_into_run_in_the_target_framework(files):
    shell = subprocess.run(
        "deconv convert x.npy --from torch --to keras --kind input -o xk.npy && "
        "deconv convert - --from torch --to keras < w.npy | deconv run xk.npy -w - --s 2 -f keras "
        "| deconv convert - --from keras --to torch --kind output > y.npy",
        shell=True,
        cwd=files,
        capture_output=True,
        check=False,
        env={**os.environ, "PATH": f"{Path(DECONV).parent}:{os.environ['PATH']}"},
    )
    assert (shell.returncode, shell.stderr) == (0, b"")
    expected = conv_transpose(np.load(files / "x.npy"), np.load(files / "w.npy"), stride=2, framework="torch")
    assert_allclose(np.load(files / "y.npy"), expected, rtol=1e-12, strict=True)


def test_a_failed_convert_leaves_an_existing_output_untouched(files):
    (files / "out.npy").write_bytes(b"precious")
    result = deconv(
        "convert", "w.npy", "--from", "torch", "--to", "jax", "--groups", "3", "-o", "out.npy", cwd=files
    )
    assert (result.returncode, result.stderr) == (
        2,
        b"deconv: error: C_in = 4 must be divisible by --groups (got 3; torch weight "
        b"(C_in, C_out/groups, *k), shape (4, 3, 3, 3))\n",
    )
    assert (files / "out.npy").read_bytes() == b"precious"


def test_convert_errors_name_the_options_and_the_argument(files):
    result = deconv("convert", "-", "--from", "tf", "--to", "torch", input=npy(np.ones((3, 3))), cwd=files)
    assert result.returncode == 2
    assert result.stderr.startswith(b"deconv: error: IN must have 3, 4 or 5 dimensions: a tf weight")


def test_convert_refuses_binary_to_a_terminal_and_pickles(files):
    command = [DECONV, "convert", "w.npy", "--from", "torch", "--to", "tf"]
    code, _, stderr = on_terminal(command, stderr_too=False, cwd=files)
    assert code == 2
    assert b"refusing to write .npy bytes to a terminal" in stderr
    result = deconv("convert", "-", "--from", "torch", "--to", "tf", input=pickled(), cwd=files)
    assert result.returncode == 1
    assert b"holds Python objects (dtype object)" in result.stderr


def test_convert_output_equal_to_its_input_is_refused(files):
    result = deconv("convert", "w.npy", "--from", "torch", "--to", "tf", "-o", "w.npy", cwd=files)
    assert (result.returncode, result.stderr) == (
        2,
        b"deconv: error: --output 'w.npy' is the weight file; write the result elsewhere\n",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"framework": "torch"}, r"x must have 3 dimensions \(N, C, \*spatial\) with 1 spatial"),
        ({"framework": "keras"}, r"x must have 3 dimensions \(N, \*spatial, C\) with 1 spatial"),
        ({"layout": "channels_last"}, r"\(N, \*spatial, C\)"),
        ({"layout": "channels_first", "framework": "tf"}, r"\(N, C, \*spatial\)"),
    ],
)
def test_the_wrong_rank_error_names_the_data_layout_in_use(kwargs, message):
    with pytest.raises(DeconvError, match=message):
        conv_transpose(np.ones((1, 2, 3, 4)), np.ones((1, 1, 3)), **kwargs)


def test_the_weight_rank_error_names_the_frameworks_weight_layout():
    with pytest.raises(
        DeconvError, match=r"w must have 3, 4 or 5 dimensions: jax's \(\*k, C_in, C_out\), sp"
    ):
        conv_transpose(np.ones((1, 2, 3)), np.ones(3), framework="jax")
