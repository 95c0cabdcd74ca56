"""Emitted snippets: exact text, and, where the framework is installed, the numbers deconv promised."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from deconv_cli import cli
from deconv_cli.arrays import engine
from deconv_cli.cli.emit import snippet
from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.core.pad import pad
from deconv_cli.core.shape import Refusal, shape
from deconv_cli.core.translate import Expression
from deconv_cli.errors import DeconvError

# (defining framework, axes, options): exact translations, crops, appended zeros, 1-D and 2-D
LAYERS = [
    ("tf", [Axis(2, 3, 2)], [Options(Padding("same"))]),
    ("tf", [Axis(2, 3, 2), Axis(3, 3, 2)], [Options(Padding("same"))] * 2),
    ("torch", [Axis(8, 4, 2)], [Options(Padding.explicit(1, 1))]),
    (
        "torch",
        [Axis(3, 3, 2), Axis(4, 2, 1)],
        [Options(Padding.explicit(1, 1), 1), Options(Padding.explicit(0, 0))],
    ),
    ("onnx", [Axis(5, 3, 2)], [Options(Padding.explicit(0, 2))]),
    ("keras", [Axis(4, 2, 3)], [Options(Padding("same"))]),
    ("jax", [Axis(4, 3, 1, 2)], [Options(Padding("valid"))]),
    ("onnx", [Axis(3, 3, 2), Axis(5, 2, 3)], [Options(Padding("same_lower"))] * 2),
]


def random_layers(count: int) -> list[tuple[str, list[Axis], list[Options]]]:
    """Seeded random layers each framework builds: 1-D to 3-D, dilation 1 to 3, every padding kind."""
    from random import Random

    rng = Random(20261129)
    found: list[tuple[str, list[Axis], list[Options]]] = []
    while len(found) < count:
        rank = rng.randint(1, 3)
        axes = [
            Axis(rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 3))
            for _ in range(rank)
        ]
        mode = rng.choice(["valid", "same", "same_lower", "explicit"])
        if mode == "explicit":
            options = [Options(Padding.explicit(rng.randint(-1, 3), rng.randint(-1, 3))) for _ in axes]
        else:
            options = [Options(Padding(mode))] * rank  # type: ignore[arg-type]
        name = rng.choice(["torch", "tf", "keras", "onnx", "jax"])
        try:
            shape(name, axes, options)
        except DeconvError:
            continue
        found.append((name, axes, options))
    return found


LAYERS += random_layers(12)
FRAMEWORK_MODULE = {
    "torch": "torch",
    "tf": "tensorflow",
    "keras": "keras",
    "onnx": "onnxruntime",
    "jax": "jax",
}


def to_layout(framework: str, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (N, C, *s) and torch weight (C_in, C_out, *k) in the framework's layouts."""
    rank = w.ndim - 2
    if framework in ("torch", "onnx"):
        return x, w
    x_last = np.moveaxis(x, 1, -1)
    if framework == "jax":
        return x_last, np.flip(np.transpose(w, (*range(2, rank + 2), 0, 1)), axis=tuple(range(rank)))
    return x_last, np.transpose(w, (*range(2, rank + 2), 1, 0))


def cases() -> list[Any]:
    found = []
    for defining, axes, options in LAYERS:
        report = shape(defining, axes, options)
        for framework, item in report.frameworks.items():
            if isinstance(item, Expression):
                # keras is TensorFlow's: the markers name the installs (-m "not tf")
                marker = getattr(pytest.mark, "tf" if framework == "keras" else framework)
                found.append(
                    pytest.param(
                        report, axes, framework, item, id=f"{defining}{len(axes)}d-{framework}", marks=marker
                    )
                )
    return found


@pytest.mark.parametrize(("report", "axes", "framework", "item"), cases())
def test_emitted_snippet_runs_in_its_framework_and_gives_the_layer(report, axes, framework, item):
    check_snippet(framework, axes, snippet(framework, axes, item.params, item.output, item.then), report.crop)


def check_snippet(framework: str, axes: list[Axis], code: str, crop: Any) -> None:
    """Run ``code`` in its framework on random arrays; it must give the layer cropping ``crop``."""
    if importlib.util.find_spec(FRAMEWORK_MODULE[framework]) is None:
        pytest.skip(f"{framework} is not installed")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, *(a.n for a in axes))).astype(np.float32)
    w = rng.standard_normal((3, 2, *(a.kernel_size for a in axes))).astype(np.float32)
    expected = engine.conv_transpose(
        x, w, stride=[a.stride for a in axes], dilation=[a.dilation for a in axes], crop=crop
    )
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    inputs = to_layout(framework, x, w)
    if framework == "torch":  # torch takes tensors; the others take numpy arrays as they are
        import torch

        inputs = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs)
    got = np.asarray(namespace["conv_transpose"](*inputs))
    if framework not in ("torch", "onnx"):
        got = np.moveaxis(got, -1, 1)
    assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def pad_cases() -> list[Any]:
    """The two best settings of every framework for the sizes of the random layers: their own
    settings and conv-then-slice recipes."""
    found = []
    for index, (defining, axes, options) in enumerate(random_layers(12)):
        wanted = list(shape(defining, axes, options).output)
        sizes = [[getattr(a, f) for a in axes] for f in ("n", "kernel_size", "stride", "dilation")]
        for framework in FRAMEWORK_MODULE:
            try:
                report = pad(
                    sizes[0],
                    wanted,
                    kernel_size=sizes[1],
                    stride=sizes[2],
                    dilation=sizes[3],
                    frameworks=[framework],
                )
            except DeconvError:
                continue
            marker = getattr(pytest.mark, "tf" if framework == "keras" else framework)
            for rank, solution in enumerate(report.solutions[:2]):
                found.append(pytest.param(axes, solution, id=f"{index}-{framework}-{rank}", marks=marker))
    return found


@pytest.mark.parametrize(("axes", "solution"), pad_cases())
def test_pad_snippets_run_in_their_framework_and_give_the_setting(axes, solution):
    code = snippet(
        solution.framework, axes, solution.params, solution.native or solution.output, solution.then
    )
    check_snippet(solution.framework, axes, code, solution.crop)


def test_torch_snippet_for_the_tf_same_layer_crops_the_end():
    report = shape("tf", [Axis(2, 3, 2)] * 2, [Options(Padding("same"))] * 2)
    item = report.frameworks["torch"]
    assert isinstance(item, Expression)
    assert snippet("torch", [Axis(2, 3, 2)] * 2, item.params, item.output, item.then) == (
        "import torch\n"
        "\n"
        "\n"
        "def conv_transpose(x, w):  # x (N, C_in, *spatial), w (C_in, C_out/groups, *k)\n"
        "    y = torch.nn.functional.conv_transpose2d(\n"
        "        x, w, stride=(2, 2), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)\n"
        "    )\n"
        "    return y[..., 0:4, 0:4]  # crop: torch cannot express this padding"
    )


def test_tf_snippet_passes_the_output_shape():
    report = shape("tf", [Axis(16, 6, 2)], [Options(Padding("same"))])
    item = report.frameworks["tf"]
    assert isinstance(item, Expression)
    assert snippet("tf", [Axis(16, 6, 2)], item.params, item.output, item.then) == (
        "import tensorflow as tf\n"
        "\n"
        "\n"
        "def conv_transpose(x, w):  # x (N, *spatial, C_in), w (*k, C_out, C_in)\n"
        "    return tf.nn.conv1d_transpose(\n"
        "        x, w, output_shape=[tf.shape(x)[0], 32, w.shape[-2]],\n"
        "        strides=(2,), padding='SAME', dilations=(1,),\n"
        "    )"
    )


def test_a_refused_framework_has_no_snippet():
    report = shape("tf", [Axis(4, 3, 2, 2)], [Options(Padding("same"))])
    assert isinstance(report.frameworks["keras"], Refusal)


def test_unknown_framework_is_refused():
    with pytest.raises(DeconvError, match="--emit must be one of"):
        snippet("caffe", [Axis(2, 3, 2)], {}, [4], None)


def test_shape_emit_prints_the_snippet_of_the_chosen_framework():
    runner = CliRunner()
    result = runner.invoke(
        cli.app, ["shape", "--in", "16", "--k", "6", "--s", "2", "--padding", "same", "--emit", "tf"]
    )
    report = shape("tf", [Axis(16, 6, 2)], [Options(Padding("same"))])
    item = report.frameworks["tf"]
    assert isinstance(item, Expression)
    assert (result.exit_code, result.stdout) == (
        0,
        snippet("tf", [Axis(16, 6, 2)], item.params, item.output, None) + "\n",
    )


def test_pad_emit_prints_the_best_solution_of_that_framework():
    result = CliRunner().invoke(
        cli.app, ["pad", "--in", "8", "--out", "16", "--k", "4", "--s", "2", "--emit", "torch"]
    )
    assert result.exit_code == 0
    assert "padding=(1,), output_padding=(0,)" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["shape", "--in", "4", "--k", "3", "--s", "2", "--d", "2", "--emit", "keras"],
            2,
            "keras: strides > 1 not supported in conjunction with dilation_rate > 1",
        ),
        (
            ["pad", "--in", "3", "--out", "9", "--k", "3", "--s", "2", "-f", "jax", "--emit", "keras"],
            1,
            "no keras setting reaches this size",
        ),
    ],
)
def test_emit_where_the_framework_cannot_exits_with_its_reason(args, code, message):
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == code
    assert message in result.stderr
