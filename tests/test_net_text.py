"""deconv's network text: what each line builds, and one-line errors with the line and the fix."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from helpers import README_FILES
from hypothesis import given, settings
from hypothesis import strategies as st

from deconv_cli.core.geometry import Padding
from deconv_cli.core.net import text
from deconv_cli.core.net.graph import Transposed
from deconv_cli.core.net.sizes import evaluate
from deconv_cli.errors import DeconvError, ExitCode

# README's U-Net (Pytorch-UNet without the F.pad in Up)
UNET = README_FILES["unet.txt"]


def sizes(source: str, n: int, **options) -> dict[str, int | None]:
    network = text.read(source, **options)
    evaluation = evaluate(network, (n,) * network.rank)
    return {layer.name: layer.sizes[0] for layer in evaluation.layers}


def test_a_unet_in_ten_lines_unrolls_its_repeats_and_names():
    network = text.read(UNET)
    names = [node.name for node in network.nodes]
    assert len(names) == 31
    assert names[:5] == ["input", "conv1", "e1", "max_pool1", "conv3"]
    joins = [(node.name, node.inputs) for node in network.nodes if node.kind == "concat"]
    assert joins == [
        ("concat1", ("conv_transpose1", "e4")),
        ("concat2", ("conv_transpose2", "e3")),
        ("concat3", ("conv_transpose3", "e2")),
        ("concat4", ("conv_transpose4", "e1")),
    ]
    assert {node.framework for node in network.nodes[1:]} == {"torch"}


@pytest.mark.parametrize(
    ("source", "n", "expected"),
    [
        ("conv k=3", 7, {"conv1": 5}),
        ("conv k=3 s=2 p=1", 7, {"conv1": 4}),
        ("conv k=3 d=2", 7, {"conv1": 3}),
        ("conv k=3 p=same", 7, {"conv1": 7}),
        ("max_pool k=2", 7, {"max_pool1": 3}),
        ("max_pool k=2 ceil", 7, {"max_pool1": 4}),
        ("avg_pool k=3 s=2 p=1 ceil_mode=true", 6, {"avg_pool1": 4}),
        ("convT k=4 s=2 p=1", 5, {"conv_transpose1": 10}),
        ("deconv k=3 s=2 p=1 op=1", 5, {"conv_transpose1": 10}),
        ("upsample 2", 5, {"upsample1": 10}),
        ("upsample scale=3/2", 5, {"upsample1": 7}),
        ("upsample 1.5", 5, {"upsample1": 7}),
        ("resize 64", 5, {"resize1": 64}),
        ("pad 1", 5, {"pad1": 7}),
        ("crop 1:2", 5, {"crop1": 2}),
        ("a = conv k=3\nconv k=1 in=input\nadd a", 5, {"a": 3, "conv2": 5, "add1": None}),
    ],
)
def test_each_layer_line_builds_its_size_map(source, n, expected):
    found = sizes("framework torch\n" + source, n)
    assert {name: found[name] for name in expected} == expected


def test_keras_conventions_apply_same_and_valid():
    found = sizes("framework keras\nmax_pool k=2 p=same\nconvT k=3 s=2 p=same", 7)
    assert (found["max_pool1"], found["conv_transpose1"]) == (4, 8)


def test_framework_option_overrides_the_file_and_tf_is_the_default():
    assert text.read("conv k=3").nodes[1].framework == "tf"
    assert text.read("framework torch\nconv k=3", framework="onnx").nodes[1].framework == "onnx"


def test_per_axis_values_set_the_rank():
    network = text.read("framework onnx\nconv k=3,5 p=1:0,2")
    assert network.rank == 2
    evaluation = evaluate(network, (10, 10))
    assert evaluation.layer("conv1").sizes == (9, 10)


def test_rank_comes_from_in_when_every_value_is_shared():
    assert text.read("conv k=3", rank=3).rank == 3
    assert text.read("rank 2\nconv k=3", rank=1).rank == 2


def test_conv_transpose_keeps_its_parameters_for_the_fixes():
    node = text.read("framework torch\nconvT k=3 s=2 p=1 op=1").nodes[1]
    assert node.transposed == (Transposed(3, 2, 1, Padding.explicit(1, 1), 1),)
    assert dict(node.params) == {"kernel_size": "3", "stride": "2", "padding": "1", "output_padding": "1"}


def test_nested_repeats_and_index_arithmetic():
    network = text.read("repeat 2:\n  repeat 2:\n    conv k=1\n  d{3-i} = conv k=1\n", rank=1)
    assert [node.name for node in network.nodes[1:]] == ["conv1", "conv2", "d2", "conv4", "conv5", "d1"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "the network has no layers; write one per line, like 'conv k=3'"),
        ("# only a comment\n", "the network has no layers"),
        ("conv k=3\nfoo k=2", "line 2: unknown layer 'foo'; layers are conv, conv_transpose"),
        ("conv k=3\nconcat e1", "line 2: no layer named 'e1' before this line; name one with 'e1 = ...'"),
        ("a = conv k=3 in=b\nb = conv k=3", "line 1: no layer named 'b' before this line"),
        ("a = conv k=3\na = conv k=3", "line 2: a layer is already named 'a'; choose another name"),
        ("conv", "line 1: conv needs a kernel size, like k=3"),
        ("conv k=3 z=1", "line 1: conv takes kernel_size, stride, dilation, padding (got 'z')"),
        ("conv k=3 k=4", "line 1: k is given twice"),
        ("conv k=x", "line 1: kernel_size must be an integer (got 'x')"),
        ("conv k=3 s=1000000000", "line 1: stride must be an integer of at most 9 digits (got '1000000000')"),
        ("conv k=3 3", "line 1: '3' is not a parameter; write key=value, like k=3"),
        ("conv k=3,3,3,3", "at most 3 spatial axes are supported (got 4)"),
        ("rank 2\nconv k=3,3,3", "line 2: kernel_size has 3 values for 2 axes"),
        ("framework caffe\nconv k=3", "line 1: framework must be one of tf, torch, keras, onnx, jax"),
        ("repeat 2:\nconv k=3", "line 1: indent the lines that 'repeat' repeats under it"),
        ("repeat two:\n  conv k=3", "line 1: write a repeat block as 'repeat 4:'"),
        ("e{i} = conv k=3", "line 1: {i} is only defined inside a repeat block"),
        ("upsample 0", "line 1: scale must be a positive number"),
        ("upsample x", "line 1: scale must be a number like 2, 1.5 or 3/2"),
        ("concat", "line 1: concat joins the line before with a named layer"),
        ("framework torch\nconv k=3 p=same s=2", "line 2: torch: stride must be 1 with padding='same'"),
        ("conv k=3 p=wide", "line 1: padding must be an int, B:E, same, valid or same_lower"),
        ("conv k=3\n\tconv k=3", "line 2: indent with spaces, not tabs"),
        ("conv k=3\nrank 2", "line 2: rank goes before the first layer"),
        # Keras refuses a stride > 1 on one axis with a dilation > 1 on another (Keras 3.15)
        (
            "framework keras\nrank 2\nconvT k=3 s=2,1 d=1,2",
            "line 3: keras: strides must be 1 when dilation_rate > 1 (got strides=2,1, dilation_rate=1,2)",
        ),
        (
            "framework keras\nrank 2\nconv k=3 s=1,2 d=2,1",
            "line 3: keras: strides must be 1 when dilation_rate > 1 (got strides=1,2, dilation_rate=2,1)",
        ),
    ],
)
def test_mistakes_are_one_line_with_the_line_and_the_fix(source, message):
    with pytest.raises(DeconvError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        text.read(source)


@pytest.mark.parametrize(
    "source", ["repeat 9999:\n  conv k=1 x9999", "repeat 9999:\n repeat 9999:\n  conv k=1"]
)
def test_a_repeat_too_large_is_refused_not_built(source):
    with pytest.raises(DeconvError, match="at most 10000 layers"):
        text.read(source)


WORDS = st.sampled_from(
    ["conv", "convT", "max_pool", "avg_pool", "upsample", "resize", "pad", "crop", "concat", "add",
     "repeat 2:", "k=3", "k=0", "k=-1", "s=2", "s=999999999", "d=2", "p=1", "p=same", "p=1:2",
     "p=-3", "op=1", "op=5",
     "ceil", "x2", "x0", "e{i}", "{3-i}", "in=input", "a", "=", "a =", "scale=0", "1/0", "3/2", "64", "0",
     "framework", "keras", "onnx", "rank", "3", "k=1,2", "k=1,2,3,4", "#", "\t", "  "]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(WORDS, max_size=6).map(" ".join), max_size=8).map("\n".join) | st.text(max_size=80))
def test_any_text_reads_as_a_network_or_one_line_error(source):
    message = ""
    try:
        network = text.read(source)
    except DeconvError as error:
        message = str(error)
    else:
        evaluate(network, (64,) * network.rank)
    assert "\n" not in message


def test_the_input_line_names_the_input():
    network = text.read("input image\nconv k=3\nadd image")
    assert [node.inputs for node in network.nodes] == [(), ("image",), ("conv1", "image")]


def test_a_padding_mode_applies_to_every_axis():
    with pytest.raises(DeconvError, match=r"^line 2: padding same,1 mixes a mode with other values"):
        text.read("framework onnx\nconv k=3 p=same,1")


def nested(depth: int, indent: str = " ") -> str:
    return "".join(indent * level + "repeat 1:\n" for level in range(depth)) + indent * depth + "conv k=3\n"


SCALE = "scale must be a number like 2, 1.5 or 3/2, at most 9 digits a part"
DIGITS = "a number in {i} must be an integer of at most 9 digits"
COUNT = "a repeat count must be from 1 to 9999"
LAYERS = "a network has at most 10000 layers; repeat fewer times"
# each written so that a naive reader would compute with the value (a huge Fraction or int), recurse
# once per block, or unroll every repeat before counting: refused by the text's size instead
HOSTILE = [
    ("upsample 1e99999", f"line 1: {SCALE} (got '1e99999')"),
    ("upsample scale=1e-99999", f"line 1: {SCALE} (got '1e-99999')"),
    ("upsample 1234567890", f"line 1: {SCALE} (got '1234567890')"),
    (
        "upsample 2000000",
        "line 1: scale must have a numerator and denominator of at most 1000000 (got '2000000')",
    ),
    (nested(17), "line 17: repeat blocks nest at most 16 deep (got 17)"),
    (nested(1000, "  "), "line 497: a line must be at most 1000 characters (got 1001)"),
    (
        "repeat 2:\n  concat e{" + "9" * 4301 + "-i}",
        "line 2: a line must be at most 1000 characters (got 4315)",
    ),
    ("repeat 2:\n  conv k=3 in=e{1234567890-i}", f"line 2: {DIGITS} (got '1234567890')"),
    ("repeat 2:\n  concat e{i+" + "9" * 50 + "}", f"line 2: {DIGITS} (got '{'9' * 50}')"),
    ("repeat 99999:\n  conv k=3", f"line 1: {COUNT} (got 'repeat 99999:')"),
    ("repeat 1000000000:\n  conv k=3", f"line 1: {COUNT} (got 'repeat 1000000000:')"),
    ("conv k=3 p=1 x99999", f"line 1: {COUNT} (got 'x99999')"),
    ("repeat 0:\n  conv k=3", f"line 1: {COUNT} (got 'repeat 0:')"),
    ("conv k=3 x0", f"line 1: {COUNT} (got 'x0')"),
    ("repeat 9999:\n  repeat 9999:\n    conv k=1", f"line 3: {LAYERS}"),
    ("repeat 9999:\n  conv k=1 x9999", f"line 2: {LAYERS}"),
    ("conv k=1 x9999\nconv k=1 x2", f"line 2: {LAYERS}"),
    ("framework torch\nmax_pool k=2 ceil ceil", "line 2: ceil is given twice"),
    (
        "framework torch\nconv k=3 ceil",
        "line 2: conv takes kernel_size, stride, dilation, padding (got 'ceil')",
    ),
]


@pytest.mark.parametrize(("source", "message"), HOSTILE)
def test_hostile_text_is_refused_in_one_line_by_its_size(source, message):
    with pytest.raises(DeconvError, match="^" + re.escape(message) + "$") as error:
        text.read(source)
    assert error.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("source", ["upsample 1e999999999", "upsample scale=1e-999999999"])
def test_a_huge_exponent_is_refused_before_fraction_builds_it(source):
    # in a subprocess, so the test fails by its timeout rather than hanging the run
    code = f"from deconv_cli.core.net import text\ntext.read({source!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stderr.splitlines()[-1].startswith("deconv_cli.errors.DeconvError: line 1: scale must be")


def test_ten_thousand_layers_read_and_settings_lines_do_not_count():
    assert len(text.read("framework torch\n" + "conv k=1\n" * 10_000).nodes) == 10_001
    assert len(text.read("conv k=1 x9999\nconv k=1").nodes) == 10_001


def test_a_byte_order_mark_is_skipped():
    assert text.read("\ufeffframework torch\nconv k=3").nodes[1].framework == "torch"


def test_a_layer_may_be_named_after_repeat():
    assert text.read("repeat_block = conv k=3").nodes[1].name == "repeat_block"


HOSTILE_WORDS = st.sampled_from(
    ["repeat 9999:", "repeat 99999:", "repeat 0:", "repeat 1:", "x9999", "x99999", "x{i}", "upsample",
     "1e999999999", "scale=1e-999999999", "1/0", "-1.5", "e{1234567890-i}", "{i+99999999999}", "{i}",
     "conv", "k=1", "k=999999999", "s=2", "p=same", "ceil", "concat", "a", "a =", "in=a", "\ufeff", "{", "}"]
)  # fmt: skip
INDENTED = st.lists(st.tuples(st.integers(0, 4), st.lists(HOSTILE_WORDS, max_size=5)), max_size=10)


@settings(max_examples=300, deadline=timedelta(seconds=2))
@given(INDENTED.map(lambda lines: "\n".join(" " * indent + " ".join(words) for indent, words in lines)))
def test_nested_hostile_text_returns_or_raises_one_line_quickly(source):
    message, code = "", ExitCode.USAGE
    try:
        text.read(source)
    except DeconvError as error:
        message, code = str(error), error.exit_code
    assert "\n" not in message
    assert code == ExitCode.USAGE
