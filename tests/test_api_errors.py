"""`conv_transpose` under hostile arguments: one DeconvError naming the API parameter, never another."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deconv_cli import conv_transpose
from deconv_cli.arrays.execute import full_result
from deconv_cli.errors import DeconvError

X = np.ones((1, 2, 4))
W = np.ones((2, 3, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"w": np.ones((2, 0, 3))}, r"w must not be empty \(got shape \(2, 0, 3\)\)"),
        ({"x": np.ones((1, 2, 0))}, r"x must not be empty"),
        ({"x": [[1.0, 2.0], [3.0]]}, r"x must be an array of real numbers"),
        ({"x": "abc"}, r"x has dtype <U3; only real numbers"),
        ({"x": None}, r"x has dtype object; only real numbers"),
        ({"w": np.ones((2, 3, 3), dtype=np.longdouble)}, r"w has dtype float128 \(longdouble\)"),
        ({"x": np.ones((1, 2, 4), dtype=complex)}, r"x has dtype complex128; only real numbers"),
        ({"x": np.ones((2, 4, 4, 4))}, r"x must have 3 dimensions \(N, C, \*spatial\) with 1 spatial, or 2"),
        ({"w": np.ones((2, 3))}, r"w must have 3, 4 or 5 dimensions"),
        ({"w": np.ones((2, 3, 1, 1, 1, 1))}, r"w must have 3, 4 or 5 dimensions"),
        ({"stride": 0}, r"stride must be a positive int or 1 of them \(got 0\)"),
        ({"stride": 2.0}, r"stride must be a positive int or 1 of them \(got 2.0\)"),
        ({"stride": True}, r"stride must be a positive int or 1 of them \(got True\)"),
        ({"stride": None}, r"stride must be a positive int or 1 of them \(got None\)"),
        ({"stride": "2"}, r"stride must be a positive int"),
        ({"stride": (2, 2)}, r"stride must be a positive int or 1 of them \(got \(2, 2\)\)"),
        ({"stride": [[2]]}, r"stride must be a positive int"),
        ({"dilation": -1}, r"dilation must be a positive int"),
        ({"dilation": np.float64(1)}, r"dilation must be a positive int"),
        ({"groups": 0}, r"groups must be an int >= 1 \(got 0\)"),
        ({"groups": 1.5}, r"groups must be an int >= 1 \(got 1.5\)"),
        ({"groups": None}, r"groups must be an int >= 1 \(got None\)"),
        ({"groups": 4}, r"C_in = 2 must be divisible by groups = 4"),
        ({"output_padding": -1}, r"output_padding must be an int >= 0 or 1 of them \(got -1\)"),
        ({"output_padding": 1.0}, r"output_padding must be an int >= 0"),
        ({"output_padding": [0, 0]}, r"output_padding must be an int >= 0 or 1 of them"),
        ({"stride": 2, "output_padding": 2}, r"torch: output_padding must be < max\(stride, dilation\) = 2"),
        ({"stride": 2, "output_padding": 2}, r"use output_padding=1 or less"),
        ({"output_shape": 0}, r"output_shape must be a positive int"),
        ({"output_shape": "6"}, r"output_shape must be a positive int"),
        ({"padding": "full"}, r"padding must be valid, same, same_lower"),
        ({"padding": 1.5}, r"padding must be valid, same, same_lower, an int or 1 of them"),
        ({"padding": None}, r"padding must be valid, same, same_lower"),
        ({"padding": [(1, 2, 3)]}, r"padding must be ints or \(begin, end\) pairs of ints"),
        ({"padding": [("a", 1)]}, r"padding must be ints or \(begin, end\) pairs of ints"),
        ({"padding": -1}, r"torch: padding must be >= 0 \(got -1\)"),
        ({"padding": 9}, r"torch"),
        ({"framework": "caffe"}, r"framework must be one of tf, torch, keras, onnx, jax \(got 'caffe'\)"),
        ({"framework": None}, r"framework must be one of"),
        ({"layout": "nchw"}, r"layout must be 'channels_first', 'channels_last' or None"),
        ({"bias": np.ones(2)}, r"bias must have shape \(3,\) = C_out \(got \(2,\)\)"),
        ({"bias": "b"}, r"bias has dtype <U1"),
        ({"max_memory": 0}, r"max_memory must be a positive number of bytes or None \(got 0\)"),
        ({"max_memory": 1.5}, r"max_memory must be a positive number of bytes"),
        (
            {"max_memory": 100},
            r"the result would have shape \(1, 3, 6\) float64 = 144 B, more than max_memory 100 B",
        ),
        (
            {"max_memory": 200},
            r"this run needs at least .* more than max_memory 200 B; give max_memory 1M or more",
        ),
        (
            {"stride": 10**12},
            r"the result would have shape \(1, 3, 3000000000003\) float64 = 65.5 TiB, more than this machine",
        ),
        ({"progress": 3}, r"progress must be a function"),
    ],
)
def test_hostile_arguments_raise_deconv_error(kwargs, message):
    x, w = kwargs.pop("x", X), kwargs.pop("w", W)
    with pytest.raises(DeconvError, match=message):
        conv_transpose(x, w, **kwargs)


def test_full_result_checks_its_arguments_too():
    with pytest.raises(DeconvError, match=r"stride must be a positive int"):
        full_result(X, W, stride=0)


@pytest.mark.parametrize("kind", [np.int8, np.int64, np.uint32, np.uint8])
def test_numpy_integers_work_wherever_ints_do(kind):
    expected = conv_transpose(X, W, stride=2, padding=1, output_padding=1, dilation=1, groups=1)
    got = conv_transpose(
        X,
        W,
        stride=kind(2),
        padding=kind(1),
        output_padding=kind(1),
        dilation=np.array([1], dtype=kind),
        groups=kind(1),
        max_memory=np.int64(1 << 20),
    )
    assert_allclose(got, expected, strict=True)
    # jax's pairs are lax.conv_transpose's edge padding: 7 dilated + 0 + 1 - 3 + 1 = 6
    edge = conv_transpose(
        np.ones((1, 4, 2)),
        np.ones((3, 2, 3)),
        stride=[kind(2)],
        padding=[(kind(0), kind(1))],
        framework="jax",
    )
    assert edge.shape == (1, 6, 3)


@pytest.mark.parametrize(
    ("dtype", "result"),
    [
        (">f8", ">f8"),
        ("<f8", "<f8"),
        (">f4", ">f4"),
        (">f2", ">f2"),
        ("f2", "f2"),
        (">i4", "f4"),
        ("?", "f4"),
        ("u1", "f4"),
    ],
)
def test_every_byte_order_and_float_width_is_kept(dtype, result):
    x = (np.arange(8.0).reshape(1, 2, 4) / 8).astype(dtype)
    y = conv_transpose(x, W.astype(dtype), stride=2)
    assert y.dtype == np.dtype(result)
    reference = conv_transpose(x.astype(np.float64), W.astype(np.float64), stride=2)
    assert_allclose(y.astype(np.float64), reference, rtol=1e-3 if "2" in dtype else 1e-6)


def test_float64_keeps_float64_precision():
    x = np.full((1, 2, 4), 1 + 2**-40, dtype=">f8")
    y = conv_transpose(x, np.ones((2, 1, 1), dtype=">f8"))
    assert y[0, 0, 0] == 2 + 2**-39


def test_nan_and_inf_propagate_without_warnings():
    x = np.array([[[np.nan, np.inf, -np.inf, 1e308]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = conv_transpose(x, np.full((1, 1, 3), 1e308), stride=2)
    assert np.isnan(y[0, 0, 0])
    assert np.isinf(y).any()


@pytest.mark.parametrize(
    ("stride", "dilation", "begin", "end", "length"),
    [
        (10**9, 1, 10**9 - 1, 10**9 - 1, 1_000_000_004),
        (3, 10**9, 10**9, 10**9, 10),
        (10**9, 10**9, 1, 2, 3 * 10**9),
    ],
)
def test_huge_strides_and_dilations_compute_only_what_the_output_holds(stride, dilation, begin, end, length):
    x = np.arange(8.0).reshape(1, 4, 2)  # jax layouts: x (N, n, C_in), w (k, C_in, C_out)
    w = np.arange(18.0).reshape(3, 2, 3)
    options = {"stride": stride, "dilation": dilation, "padding": [(begin, end)], "framework": "jax"}
    if length > 10**6:
        with pytest.raises(DeconvError, match=r"the result would have shape"):
            conv_transpose(x, w, max_memory=1 << 30, **options)
        return
    y = conv_transpose(x, w, **options)
    expected = np.zeros((1, length, 3))
    for i in range(4):
        for j in range(3):  # out[i*s + j*d - begin] += x[i] @ w[k-1-j]: jax's kernel is a direct conv's
            t = i * stride + j * dilation - begin
            if 0 <= t < length:
                expected[0, t] += x[0, i] @ w[2 - j]
    assert_allclose(y, expected, strict=True)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "options"),
    [
        ((2, 4, 5), (4, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
        (
            (1, 4, 5, 3),
            (4, 2, 2, 3),
            {"stride": (3, 1), "dilation": (1, 2), "groups": 2, "bias": np.arange(4.0)},
        ),
        (
            (1, 2, 3, 2, 2),
            (2, 1, 2, 1, 3),
            {"stride": 2, "padding": [(0, 1), (1, 0), (2, 2)], "framework": "onnx"},
        ),
        ((3, 5, 2), (3, 2, 4), {"stride": 3, "padding": [(-2, 4)], "framework": "jax"}),
        (
            (1, 2, 6),
            (2, 2, 2),
            {"stride": 1, "padding": "same", "framework": "tf", "layout": "channels_first"},
        ),
    ],
)
def test_the_tap_by_tap_path_equals_the_engine(monkeypatch, x_shape, w_shape, options):
    from deconv_cli.arrays import execute

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    expected = conv_transpose(x, w, **options)
    monkeypatch.setattr(execute, "ENGINE_LIMIT", 0)
    assert_allclose(conv_transpose(x, w, **options), expected, rtol=1e-12, atol=1e-12, strict=True)
