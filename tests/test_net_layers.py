from fractions import Fraction

import pytest

from deconv_cli.core.net import layers
from deconv_cli.core.net.graph import Term
from deconv_cli.errors import DeconvError

# (map, {input size: output size or None where the framework refuses}), each checked against the
# framework that names it (torch 2.13, keras 3.15, onnxruntime 1.32)
VERIFIED = [
    (layers.conv("torch", 3, 2, padding=1), {1: 1, 2: 1, 7: 4, 8: 4}),
    (layers.conv("torch", 5), {4: None, 5: 1, 9: 5}),
    (layers.conv("torch", 3, dilation=2), {4: None, 5: 1}),
    (layers.conv("torch", 4, padding="same"), {1: 1, 6: 6}),
    (layers.conv("keras", 3, 2, padding="same"), {1: 1, 7: 4, 8: 4}),
    (layers.conv("keras", 3, 2, padding="valid"), {2: None, 3: 1, 8: 3}),
    (layers.conv("onnx", 3, 2, padding=(0, 1)), {1: None, 2: 1, 8: 4}),
    (layers.conv("onnx", 3, 3, padding="same_lower"), {1: 1, 3: 1, 4: 2}),
    (layers.pool("torch", 2), {1: None, 7: 3}),
    (layers.pool("torch", 2, ceil_mode=True), {1: 1, 7: 4}),
    # ceil_mode's last window must start inside the input or the left padding
    (layers.pool("torch", 3, 2, padding=1, ceil_mode=True), {1: 1, 5: 3, 6: 4}),
    (layers.pool("torch", 2, 2, padding=1, ceil_mode=True), {1: 1, 2: 2, 3: 2, 4: 3}),
    (layers.pool("keras", 2, padding="same"), {1: 1, 7: 4}),
    (layers.pool("keras", 3, 2), {2: None, 3: 1, 7: 3}),
    (layers.pool("onnx", 3, 2, padding=(1, 1), ceil_mode=True), {1: 1, 5: 3, 6: 4}),
    (layers.conv_transpose("torch", 4, 2, padding=1), {1: 2, 5: 10}),
    (layers.conv_transpose("torch", 3, 2, padding=1, output_padding=1), {1: 2, 5: 10}),
    (layers.conv_transpose("torch", 3, 2, padding=2), {1: None, 2: 1}),
    (layers.conv_transpose("keras", 3, 2, padding="same"), {1: 2, 5: 10}),
    (layers.conv_transpose("keras", 3, 2, padding="same", output_padding=0), {1: 1, 5: 9}),
    (layers.conv_transpose("keras", 2, 3, padding="valid"), {1: 3, 4: 12}),
    (layers.conv_transpose("onnx", 2, 3, padding="same"), {1: 2, 4: 11}),
    (layers.upsample("torch", 2), {1: 2, 5: 10}),
    (layers.upsample("onnx", Fraction(3, 2)), {1: 1, 5: 7}),
    (layers.resize(64), {1: 64, 300: 64}),
    (layers.pad(1, 2), {1: 4}),
    (layers.crop(1, 2), {3: None, 4: 1}),
]


@pytest.mark.parametrize(("size_map", "expected"), VERIFIED)
def test_layer_sizes_match_the_frameworks(size_map, expected):
    assert {n: size_map(n) for n in expected} == expected


def test_ceil_mode_is_the_minimum_of_the_ceil_count_and_the_last_window_rule():
    assert layers.pool("torch", 2, 2, padding=1, ceil_mode=True).terms == (Term(1, 3, 2), Term(1, 2, 2))


def test_conv_transpose_is_stride_times_n_plus_a_constant_in_every_framework():
    for framework in ("torch", "onnx", "tf", "jax"):
        size_map = layers.conv_transpose(framework, 3, 2, padding=(1, 1))
        assert [size_map(n) for n in (4, 5)] == [7, 9], framework


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: layers.conv("keras", 3, 2, 2, "same"), r"keras: strides must be 1 when dilation_rate > 1"),
        (lambda: layers.conv("torch", 3, 2, padding="same"), r"torch: stride must be 1 with padding='same'"),
        (
            lambda: layers.conv("torch", 3, padding=(1, 2)),
            r"torch: padding must be 'same', 'valid' or an int",
        ),
        (lambda: layers.conv("keras", 3, padding=1), r"keras: padding must be 'same' or 'valid' \(got 1\)"),
        (lambda: layers.conv("tf", 3, padding=(-1, 0)), r"tf: padding must be >= 0"),
        (lambda: layers.conv("onnx", 3, dilation=2, padding="same"), r"onnx: dilations must be 1"),
        (lambda: layers.conv("torch", 0), r"kernel_size must be a positive integer \(got 0\)"),
        (lambda: layers.conv("caffe", 3), r"framework must be one of"),
        (lambda: layers.pool("torch", 3, padding=2), r"torch: padding must be <= kernel_size // 2 = 1"),
        (lambda: layers.pool("keras", 2, ceil_mode=True), r"keras: ceil_mode must be False"),
        (lambda: layers.pool("onnx", 2, padding=(2, 0)), r"onnx: pads must be < kernel_shape = 2"),
        (lambda: layers.pool("onnx", 2, 3, padding="same"), r"onnx: auto_pad SAME_\* pooling needs"),
        (lambda: layers.pool("torch", 2, padding="same"), r"torch: pooling padding must be an int"),
        (lambda: layers.conv_transpose("torch", 3, 2, padding="same"), r"torch: ConvTranspose has no"),
        (lambda: layers.conv_transpose("keras", 3, 2, output_padding=2), r"output_padding must be < strides"),
        (lambda: layers.upsample("keras", Fraction(3, 2)), r"keras: UpSampling size must be an integer"),
        (lambda: layers.upsample("torch", 0), r"scale must be > 0 \(got 0\)"),
        (lambda: layers.resize(0), r"size must be a positive integer \(got 0\)"),
        (lambda: layers.crop(-1, 0), r"crop must be >= 0 on both sides"),
    ],
)
def test_parameters_a_framework_refuses_give_one_line_errors(call, message):
    with pytest.raises(DeconvError, match=message):
        call()
