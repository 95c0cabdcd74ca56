"""The worked examples of frameworks.md §7, each produced by running the framework."""

from __future__ import annotations

import pytest

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Layer, Options, Padding
from deconv_cli.errors import DeconvError

SAME, LOWER, VALID = Padding("same"), Padding("same_lower"), Padding("valid")


def p(begin: int, end: int | None = None) -> Padding:
    return Padding.explicit(begin, begin if end is None else end)


# framework, (n, k, s, d), options, expected (output, crop begin, crop end)
CASES = [
    # in=16 k=6 s=2, F=36
    ("torch", (16, 6, 2, 1), Options(p(2)), (32, 2, 2)),
    ("torch", (16, 6, 2, 1), Options(p(0)), (36, 0, 0)),
    ("tf", (16, 6, 2, 1), Options(SAME, output_shape=31), (31, 2, 3)),
    ("tf", (16, 6, 2, 1), Options(SAME, output_shape=32), (32, 2, 2)),
    ("tf", (16, 6, 2, 1), Options(VALID, output_shape=37), (37, 0, -1)),
    ("keras", (16, 6, 2, 1), Options(SAME), (32, 2, 2)),
    ("jax", (16, 6, 2, 1), Options(VALID), (36, 0, 0)),
    ("onnx", (16, 6, 2, 1), Options(LOWER), (32, 2, 2)),
    # in=2 k=3 s=2, F=5
    ("torch", (2, 3, 2, 1), Options(p(1), 1), (4, 1, 0)),
    ("torch", (2, 3, 2, 1), Options(p(1)), (3, 1, 1)),
    ("tf", (2, 3, 2, 1), Options(SAME, output_shape=3), (3, 1, 1)),
    ("tf", (2, 3, 2, 1), Options(SAME), (4, 0, 1)),
    ("tf", (2, 3, 2, 1), Options(VALID, output_shape=6), (6, 0, -1)),
    ("keras", (2, 3, 2, 1), Options(SAME), (4, 0, 1)),
    ("jax", (2, 3, 2, 1), Options(SAME), (4, 0, 1)),
    ("onnx", (2, 3, 2, 1), Options(SAME), (4, 0, 1)),
    ("onnx", (2, 3, 2, 1), Options(LOWER), (4, 1, 0)),
    ("onnx", (2, 3, 2, 1), Options(VALID), (5, 0, 0)),
    # in=3 k=3 s=2, F=7
    ("torch", (3, 3, 2, 1), Options(p(1), output_shape=6), (6, 1, 0)),
    ("tf", (3, 3, 2, 1), Options(SAME, output_shape=5), (5, 1, 1)),
    ("tf", (3, 3, 2, 1), Options(VALID, output_shape=8), (8, 0, -1)),
    ("keras", (3, 3, 2, 1), Options(SAME, output_padding=0), (5, 1, 1)),
    ("onnx", (3, 3, 2, 1), Options(VALID, output_shape=6), (6, 1, 0)),
    ("onnx", (3, 3, 2, 1), Options(SAME, output_shape=6), (6, 0, 1)),
    # DCGAN in=8 k=4 s=2 p=1, F=18
    ("torch", (8, 4, 2, 1), Options(p(1)), (16, 1, 1)),
    ("tf", (8, 4, 2, 1), Options(SAME, output_shape=15), (15, 1, 2)),
    ("tf", (8, 4, 2, 1), Options(VALID, output_shape=19), (19, 0, -1)),
    ("onnx", (8, 4, 2, 1), Options(LOWER), (16, 1, 1)),
    ("jax", (8, 4, 2, 1), Options(VALID), (18, 0, 0)),
    # in=5 k=5 s=2, F=13
    ("torch", (5, 5, 2, 1), Options(p(2), 1), (10, 2, 1)),
    ("tf", (5, 5, 2, 1), Options(SAME, output_shape=9), (9, 2, 2)),
    ("keras", (5, 5, 2, 1), Options(SAME), (10, 1, 2)),
    ("onnx", (5, 5, 2, 1), Options(LOWER), (10, 2, 1)),
    # k < s: in=4 k=2 s=3, F=11
    ("torch", (4, 2, 3, 1), Options(p(0), 1), (12, 0, -1)),
    ("tf", (4, 2, 3, 1), Options(SAME, output_shape=10), (10, 0, 1)),
    ("tf", (4, 2, 3, 1), Options(SAME), (12, 0, -1)),
    ("tf", (4, 2, 3, 1), Options(VALID, output_shape=13), (13, 0, -2)),
    ("keras", (4, 2, 3, 1), Options(SAME), (12, 0, -1)),
    ("jax", (4, 2, 3, 1), Options(VALID), (12, 0, -1)),
    ("onnx", (4, 2, 3, 1), Options(SAME), (11, 0, 0)),
    ("onnx", (4, 2, 3, 1), Options(LOWER), (11, 0, 0)),
    # dilated: in=4 k=3 s=1 d=2, F=8
    ("torch", (4, 3, 1, 2), Options(p(2)), (4, 2, 2)),
    ("tf", (4, 3, 1, 2), Options(SAME), (4, 2, 2)),
    ("jax", (4, 3, 1, 2), Options(SAME), (4, 2, 2)),
    ("onnx", (4, 3, 1, 2), Options(SAME), (4, 2, 2)),
    ("keras", (4, 3, 1, 2), Options(VALID), (8, 0, 0)),
    # Keras: output_padding None and 0 differ for 'same' (tensorflow#50168)
    ("keras", (3, 3, 2, 1), Options(SAME), (6, 0, 1)),
    # jax's padding is lax.conv_transpose's: (lo, hi) zeros at the edges of the zero-inserted input
    ("jax", (5, 3, 2, 1), Options(p(1, 2)), (10, 1, 0)),
    ("jax", (4, 3, 2, 1), Options(p(2)), (9, 0, 0)),
    ("jax", (4, 2, 3, 1), Options(p(1, 3)), (13, 0, -2)),
    # tf: dilation with SAME and VALID (run through oneDNN)
    ("tf", (4, 3, 1, 2), Options(VALID), (8, 0, 0)),
]


@pytest.mark.parametrize(("framework", "axis", "options", "expected"), CASES)
def test_framework_gives_its_verified_output_and_crop(framework, axis, options, expected):
    assert FRAMEWORKS[framework].resolve(Axis(*axis), options) == Layer(*expected)


ERRORS = [
    (
        "torch",
        (3, 3, 2, 1),
        Options(p(1), 2),
        r"output_padding must be < max\(stride, dilation\) = 2 \(got 2\)",
    ),
    ("torch", (3, 3, 2, 1), Options(SAME), r"no padding='same'"),
    ("torch", (3, 3, 2, 1), Options(p(1, 2)), r"padding is symmetric"),
    ("torch", (6, 3, 2, 1), Options(p(1), output_shape=10), r"output_size must be in \[11, 12\]"),
    ("torch", (1, 2, 1, 1), Options(p(1)), r"output size must be >= 1 \(got 0"),
    ("tf", (3, 3, 2, 1), Options(SAME, output_shape=7), r"output_shape must be in \[5, 6\].*\(got 7\)"),
    ("tf", (3, 3, 2, 1), Options(LOWER), r"same_lower"),
    (
        "keras",
        (3, 3, 2, 2),
        Options(SAME),
        r"strides > 1 not supported in conjunction with dilation_rate > 1",
    ),
    (
        "keras",
        (3, 3, 2, 1),
        Options(SAME, output_padding=2),
        r"output_padding must be < strides = 2 \(got 2\)",
    ),
    ("keras", (5, 4, 2, 1), Options(SAME, output_padding=0), r"TensorFlow backend rejects"),
    ("keras", (3, 3, 2, 1), Options(p(1)), r"padding must be 'valid' or 'same'"),
    ("onnx", (4, 3, 1, 3), Options(SAME, output_padding=1), r"output_padding must be < stride = 1 \(got 1\)"),
    ("onnx", (4, 3, 2, 1), Options(SAME, output_padding=2), r"< max\(stride, dilation\) = 2 \(got 2\)"),
    ("onnx", (3, 3, 2, 1), Options(VALID, output_shape=9), r"output_shape must be <= .* = 8 \(got 9\)"),
    ("jax", (3, 3, 2, 1), Options(SAME, output_padding=1), r"no output_padding"),
    ("jax", (2, 3, 1, 1), Options(p(-2, -1)), r"output would be empty"),
    ("jax", (4, 3, 1, 2), Options(p(0)), r"output would be empty \(0 = 4 \+ 0 \+ 0 - 5 \+ 1\)"),
    (
        "tf",
        (5, 3, 2, 2),
        Options(p(1), output_shape=11),
        r"CPU kernel rejects explicit padding with dilation > 1 .*use padding VALID then slice",
    ),
]


@pytest.mark.parametrize(("framework", "axis", "options", "message"), ERRORS)
def test_framework_rejects_what_it_rejects_with_a_precise_message(framework, axis, options, message):
    with pytest.raises(DeconvError, match=message):
        FRAMEWORKS[framework].resolve(Axis(*axis), options)
