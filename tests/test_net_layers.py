import itertools
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Options, Padding
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


PADDINGS = st.one_of(
    st.sampled_from(["same", "valid", "same_lower"]),
    st.integers(0, 4),
    st.tuples(st.integers(0, 4), st.integers(0, 4)),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(FRAMEWORKS)),
    st.integers(1, 7),
    st.integers(1, 5),
    st.integers(1, 3),
    PADDINGS,
    st.one_of(st.none(), st.integers(0, 4)),
)
def test_conv_transpose_map_is_the_single_layer_rule_at_every_size(framework, k, s, d, padding, extra):
    assume(not (framework == "keras" and padding == 0))  # keras' default 0 is 'valid' here, no crop
    try:
        size_map = layers.conv_transpose(framework, k, s, d, padding, extra)
    except DeconvError:
        size_map = None
    if isinstance(padding, str):
        crop = Padding(padding)
    else:
        crop = Padding.explicit(padding, padding) if isinstance(padding, int) else Padding.explicit(*padding)
    for n in range(1, 25):
        try:
            expected = FRAMEWORKS[framework].resolve(Axis(n, k, s, d), Options(crop, extra)).output
        except DeconvError:
            expected = None
        assert (size_map(n) if size_map else None) == expected, n


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 7), st.integers(1, 5), st.integers(0, 3), st.integers(1, 60))
def test_ceil_mode_counts_windows_that_start_inside_the_input_or_the_left_padding(k, s, p, n):
    assume(p < k <= n + 2 * p)  # onnx pads stay below the kernel; the padded input holds it
    size_map = layers.pool("onnx", k, s, 1, (p, p), ceil_mode=True)
    # windows at i*s in the padded input: every full one, and ceil_mode's one partial window that
    # ends past the padded input by less than a stride, unless it starts in the right padding
    padded = n + 2 * p
    full = [i for i in range(0, padded, s) if i + k <= padded]
    partial = [i for i in range(0, padded, s) if padded < i + k < padded + s and i < n + p]
    assert size_map(n) == len(full) + len(partial)


# ---- live: a grid of single layers in each framework ---------------------------------------------

GRID = [(k, s, d) for k in (1, 2, 3, 4) for s in (1, 2, 3) for d in (1, 2)]


def _check(run, size_map, sizes=range(1, 12)) -> None:
    """``run(n)`` is the framework's output size (an exception or an empty output: refused)."""
    for n in sizes:
        try:
            got = run(n) or None
        except Exception:  # the framework's refusal
            got = None
        assert got == size_map(n), n


def _maps(make, *args):
    try:
        return make(*args)
    except DeconvError:
        return None


@pytest.mark.torch
def test_live_torch_layers_match_the_size_maps():
    torch = pytest.importorskip("torch")

    def run(module):
        return lambda n: module(torch.zeros(1, 1, n)).shape[-1]

    with torch.no_grad():
        for (k, s, d), p, ceil in itertools.product(GRID, (0, 1, 2), (False, True)):
            size_map = _maps(layers.pool, "torch", k, s, d, p, ceil)
            module = torch.nn.MaxPool1d(k, s, p, d, ceil_mode=ceil)
            if size_map is None:
                with pytest.raises(RuntimeError):
                    run(module)(9)
                continue
            _check(run(module), size_map)
            if not ceil:
                _check(run(torch.nn.Conv1d(1, 1, k, s, p, d)), layers.conv("torch", k, s, d, p))
                _check(
                    run(torch.nn.Upsample(scale_factor=s + 0.5)),
                    layers.upsample("torch", Fraction(2 * s + 1, 2)),
                )


@pytest.mark.tf
def test_live_keras_layers_match_the_size_maps():
    keras = pytest.importorskip("keras")
    import numpy as np

    def run(layer):
        return lambda n: layer(np.zeros((1, n, 1), "float32")).shape[1]

    for (k, s, d), padding in itertools.product(GRID, ("same", "valid")):
        size_map = _maps(layers.conv, "keras", k, s, d, padding)
        if size_map is not None:
            _check(run(keras.layers.Conv1D(1, k, s, padding, dilation_rate=d)), size_map)
        if d == 1:
            # TensorFlow dies (SIGFPE) on a 'valid' pooling window longer than its input
            sizes = range(k if padding == "valid" else 1, 12)
            _check(
                run(keras.layers.MaxPooling1D(k, s, padding)), layers.pool("keras", k, s, 1, padding), sizes
            )


@pytest.mark.tf
@pytest.mark.parametrize(("strides", "dilations"), [((2, 1), (1, 2)), ((1, 2), (2, 1)), ((2, 2), (1, 1))])
def test_live_keras_refuses_strides_with_dilation_across_axes_as_deconv_does(strides, dilations):
    keras = pytest.importorskip("keras")
    for layer in (keras.layers.Conv2D, keras.layers.Conv2DTranspose):
        try:
            layer(1, 3, strides=strides, dilation_rate=dilations)
        except ValueError:
            refused = True
        else:
            refused = False
        try:
            layers.strides_with_dilation("keras", strides, dilations)
        except DeconvError:
            assert refused, (layer.__name__, strides, dilations)
        else:
            assert not refused, (layer.__name__, strides, dilations)


@pytest.mark.jax
def test_live_jax_windows_match_the_size_maps():
    jax = pytest.importorskip("jax")
    lax = jax.lax

    def shape(op, n):  # traced, not run: the shape rules without compiling every size
        return jax.eval_shape(op, jax.ShapeDtypeStruct((1, 1, n), "float32")).shape[2]

    for (k, s, d), padding in itertools.product(GRID, ("same", "valid", (1, 0), (0, 3), (-1, 2))):
        native = padding.upper() if isinstance(padding, str) else [padding]
        window = native if isinstance(padding, str) else [(0, 0), (0, 0), padding]
        kernel = jax.numpy.zeros((1, 1, k))

        def conv(x, s=s, d=d, native=native, kernel=kernel):
            return lax.conv_general_dilated(x, kernel, (s,), native, rhs_dilation=(d,))

        def pool(x, k=k, s=s, d=d, window=window):
            return lax.reduce_window(
                x, -jax.numpy.inf, lax.max, (1, 1, k), (1, 1, s), window, window_dilation=(1, 1, d)
            )

        _check(lambda n, conv=conv: shape(conv, n), layers.conv("jax", k, s, d, padding))
        _check(lambda n, pool=pool: shape(pool, n), layers.pool("jax", k, s, d, padding))


@pytest.mark.onnx
def test_live_onnx_runtime_windows_match_the_size_maps():
    ort = pytest.importorskip("onnxruntime")
    import numpy as np
    from onnx import TensorProto, helper

    ort.set_default_logger_severity(4)

    def run(op, k, **attributes):
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "n"])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        weight = [helper.make_tensor("w", TensorProto.FLOAT, [1, 1, k], [1.0] * k)] if "Conv" in op else []
        node = helper.make_node(op, ["x", "w"] if weight else ["x"], ["y"], kernel_shape=[k], **attributes)
        model = helper.make_model(
            helper.make_graph([node], "g", [x], [y], weight), opset_imports=[helper.make_opsetid("", 19)]
        )
        model.ir_version = 9
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return lambda n: session.run(None, {"x": np.zeros((1, 1, n), np.float32)})[0].shape[2]

    for (k, s, d), pads in itertools.product(GRID, ((0, 0), (1, 0), (1, 2))):
        _check(
            run("Conv", k, strides=[s], dilations=[d], pads=list(pads)), layers.conv("onnx", k, s, d, pads)
        )
        for ceil in (0, 1):
            size_map = _maps(layers.pool, "onnx", k, s, d, pads, bool(ceil))
            if size_map is None:
                continue
            # ONNX Runtime truncates toward zero where the window is longer than the padded input
            sizes = range(max(1, d * (k - 1) + 1 - sum(pads)), 12)
            _check(
                run("MaxPool", k, strides=[s], dilations=[d], pads=list(pads), ceil_mode=ceil),
                size_map,
                sizes,
            )
        for mode, auto_pad in (("same", "SAME_UPPER"), ("same_lower", "SAME_LOWER"), ("valid", "VALID")):
            _check(
                run("ConvTranspose", k, strides=[s], dilations=[d], auto_pad=auto_pad),
                layers.conv_transpose("onnx", k, s, d, mode),
                range(1, 8),
            )
