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
from deconv_cli.cli.emit import Channels, module, snippet
from deconv_cli.core.frameworks import FRAMEWORKS
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
    # zeros appended past the native output: tf, keras and onnx for torch's op < d, torch for onnx's
    (
        "torch",
        [Axis(1, 1, 1, 2), Axis(2, 3, 2)],
        [Options(Padding.explicit(0, 0), 1), Options(Padding.explicit(1, 1))],
    ),
    ("onnx", [Axis(1, 2, 2, 1)], [Options(Padding("same_lower"), 1)]),
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
    "flax": "flax",
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
                for groups in (1, 2) if len(axes) in FRAMEWORKS[framework].grouped_ranks else (1,):
                    found.append(
                        pytest.param(
                            report,
                            axes,
                            framework,
                            item,
                            groups,
                            id=f"{defining}{len(axes)}d-{framework}-g{groups}",
                            marks=marker,
                        )
                    )
    return found


def layer_arrays(report: Any, axes: Any, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (N, C_in, *s), the torch weight, and the layer's output by deconv's engine."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, *(a.n for a in axes))).astype(np.float32)
    w = rng.standard_normal((4, 6 // groups, *(a.kernel_size for a in axes))).astype(np.float32)
    expected = engine.conv_transpose(
        x,
        w,
        stride=[a.stride for a in axes],
        dilation=[a.dilation for a in axes],
        crop=report.crop,
        groups=groups,
    )
    return x, w, expected


def installed(framework: str) -> None:
    if importlib.util.find_spec(FRAMEWORK_MODULE[framework]) is None:
        pytest.skip(f"{framework} is not installed")


def check_snippet(framework: str, axes: Any, code: str, layer: Any, groups: int = 1) -> None:
    """Run ``code`` in its framework on random arrays; it must give ``layer``'s crop (``layer.crop``)."""
    installed(framework)
    x, w, expected = layer_arrays(layer, axes, groups)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    inputs = to_layout(framework, x, w)
    if framework == "torch":  # torch takes tensors; the others take numpy arrays as they are
        import torch

        inputs = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in inputs)
    if framework == "tf" and groups > 1 and "padding='VALID'" not in code and "padding='SAME'" not in code:
        # the snippet says so: TensorFlow's CPU kernels group only with a padding string
        with pytest.raises(Exception, match="Gradients for grouped convolutions are not supported on CPU"):
            namespace["conv_transpose"](*inputs)
        return
    got = np.asarray(namespace["conv_transpose"](*inputs))
    if framework not in ("torch", "onnx"):
        got = np.moveaxis(got, -1, 1)
    assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("report", "axes", "framework", "item", "groups"), cases())
def test_emitted_snippet_runs_in_its_framework_and_gives_the_layer(report, axes, framework, item, groups):
    code = snippet(framework, axes, item.params, item.output, item.then, groups)
    check_snippet(framework, axes, code, report, groups)


def run_module(framework: str, namespace: dict[str, Any], x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The emitted module form (``layer``, or ONNX's ``nodes``) on x and w in its layouts, bias zero."""
    if framework == "torch":
        import torch

        layer = namespace["layer"]
        conv = layer[0] if isinstance(layer, torch.nn.Sequential) else layer
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.zero_()
            return layer(torch.from_numpy(x)).numpy()
    if framework == "keras":
        import keras

        layer = namespace["layer"]
        layer(x)  # builds the weights
        conv = layer.layers[0] if isinstance(layer, keras.Sequential) else layer
        conv.set_weights([w, np.zeros(w.shape[-2], np.float32)])
        return np.asarray(layer(x))
    if framework == "jax":
        import jax

        layer = namespace["layer"]
        variables = layer.init(jax.random.key(0), x)
        variables = jax.tree_util.tree_map_with_path(
            lambda path, leaf: w if path[-1].key == "kernel" else np.zeros_like(leaf), variables
        )
        return np.asarray(layer.apply(variables, x))
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        namespace["nodes"],
        "module",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape) for n, a in (("X", x), ("W", w))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    feeds = {"X": np.ascontiguousarray(x), "W": np.ascontiguousarray(w)}
    return onnxruntime.InferenceSession(model.SerializeToString()).run(None, feeds)[0]


@pytest.mark.parametrize(("report", "axes", "framework", "item", "groups"), cases())
def test_module_form_runs_in_its_framework_and_gives_the_layer(report, axes, framework, item, groups):
    if framework == "tf":
        assert module(framework, axes, item.params, item.output, item.then, Channels()) is None
        return
    installed("flax" if framework == "jax" else framework)
    x, w, expected = layer_arrays(report, axes, groups)
    namespace: dict[str, Any] = {"in_channels": 4}  # a placeholder the user defines; C_out given
    code = module(framework, axes, item.params, item.output, item.then, Channels(None, 6, groups))
    assert code is not None
    exec(code, namespace)
    got = run_module(framework, namespace, *to_layout(framework, x, w))
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
        for framework in FRAMEWORKS:
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
    check_snippet(solution.framework, axes, code, solution)


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
        "def conv_transpose(x, w):  # x (N, *spatial, C_in), w (*k, C_out/groups, C_in)\n"
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


def test_shape_emit_prints_the_function_then_the_layer_as_written_in_a_model():
    result = CliRunner().invoke(
        cli.app, ["shape", "--in", "4", "--k", "3", "--s", "2", "--padding", "same", "--emit", "keras"]
    )
    assert (result.exit_code, result.stdout) == (
        0,
        "import keras\n"
        "\n"
        "\n"
        "def conv_transpose(x, w):  # x (N, *spatial, C_in), w (*k, C_out, C_in)\n"
        "    return keras.ops.conv_transpose(\n"
        "        x, w, strides=(2,), padding='same', output_padding=None,\n"
        "        dilation_rate=(1,),\n"
        "    )\n"
        "\n"
        "\n"
        "# the same layer as written in a model\n"
        "import keras\n"
        "\n"
        "layer = keras.layers.Conv1DTranspose(\n"
        "    out_channels, kernel_size=(3,), strides=(2,), padding='same',\n"
        "    output_padding=None, dilation_rate=(1,),\n"
        ")  # weight (*k, C_out, C_in)\n",
    )


def test_module_form_crops_with_a_layer_and_takes_the_channel_counts():
    report = shape("tf", [Axis(2, 3, 2)] * 2, [Options(Padding("same"))] * 2)
    item = report.frameworks["torch"]
    assert isinstance(item, Expression)
    assert module("torch", [Axis(2, 3, 2)] * 2, item.params, item.output, item.then, Channels(16, 8, 2)) == (
        "import torch\n"
        "\n"
        "layer = torch.nn.Sequential(\n"
        "    torch.nn.ConvTranspose2d(\n"
        "        16, 8, kernel_size=(3, 3), stride=(2, 2), padding=(0, 0),\n"
        "        output_padding=(0, 0), groups=2, dilation=(1, 1),\n"
        "    ),  # weight (C_in, C_out/groups, *k)\n"
        "    torch.nn.ZeroPad2d((0, -1, 0, -1)),  # crop: torch cannot express this padding\n"
        ")"
    )
    keras = report.frameworks["keras"]
    assert isinstance(keras, Expression)
    assert keras.then is None  # keras's 'same' is tf's: no crop layer


def test_pad_emit_says_which_solution_it_emitted():
    result = CliRunner().invoke(
        cli.app, ["pad", "--in", "8", "--out", "16", "--k", "4", "--s", "2", "--emit", "torch"]
    )
    assert result.exit_code == 0
    first, second = result.stdout.splitlines()[:2]
    assert first == (
        "# deconv pad's best torch solution: k=4 s=2 d=1 crop=1:1, padding=[1], output_padding=[0]"
    )
    assert second == "import torch"
    assert "padding=(1,), output_padding=(0,)" in result.stdout


def test_json_emit_gives_the_code_in_json():
    import json

    args = ["pad", "--in", "3", "--out", "6", "--k", "3", "--s", "2", "--emit", "jax", "--json"]
    result = CliRunner().invoke(cli.app, [*args, "--out-channels", "8"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert sorted(data) == ["framework", "functional", "module", "solution"]
    assert data["framework"] == "jax"
    assert data["functional"].startswith("import jax\n")
    assert "flax.linen.ConvTranspose(\n    8, kernel_size=(3,)" in data["module"]
    assert data["solution"].startswith("deconv pad's best jax solution: k=3 s=2 d=1 crop=0:1")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--in-channels", "4"], "--in-channels, --out-channels and --groups describe the code of --emit"),
        (["--emit", "torch", "--in-channels", "3", "--groups", "2"], "must be divisible by --groups"),
        (
            ["--emit", "keras", "--groups", "2"],
            "keras: has no grouped transposed convolution at all (got groups 2)",
        ),
        (
            ["--emit", "tf", "--groups", "2", "--in", "4,4,4"],
            "tf: has no grouped transposed convolution in 3-D (got groups 2)",
        ),
    ],
)
def test_emit_options_without_emit_or_that_cannot_be_are_refused(args, message):
    result = CliRunner().invoke(cli.app, ["shape", "--in", "4", "--k", "3", "--s", "2", *args])
    assert result.exit_code == 2
    assert message in result.stderr


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
