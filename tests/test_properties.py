"""Hypothesis properties of the core: crops add up, candidates invert, solutions reproduce."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Layer, Options, Padding
from deconv_cli.core.pad import pad
from deconv_cli.core.shape import Refusal, shape
from deconv_cli.errors import DeconvError, ExitCode

axes = st.builds(
    Axis,
    n=st.integers(1, 12),
    kernel_size=st.integers(1, 7),
    stride=st.integers(1, 4),
    dilation=st.integers(1, 3),
)
modes = st.sampled_from([Padding("valid"), Padding("same"), Padding("same_lower")])
crops = st.builds(Padding.explicit, st.integers(0, 6), st.integers(0, 6))
paddings = st.one_of(modes, crops, st.builds(Padding.explicit, st.integers(-2, 6), st.integers(-2, 6)))
options = st.builds(
    Options,
    paddings,
    st.one_of(st.none(), st.integers(0, 4)),
    st.one_of(st.none(), st.integers(1, 40)),
)
names = st.sampled_from(sorted(FRAMEWORKS))


def resolved(name: str, axis: Axis, option: Options) -> Layer:
    try:
        return FRAMEWORKS[name].resolve(axis, option)
    except DeconvError:
        assume(False)
        raise


@given(names, axes, options)
def test_every_layer_crops_the_full_result_to_a_positive_length(name, axis, option):
    layer = resolved(name, axis, option)
    assert layer.output == axis.full - layer.begin - layer.end
    assert layer.output >= 1


def forward(name: str, axis: Axis, padding: Padding, size: int) -> int:
    """The forward convolution each framework pairs with this padding."""
    if padding.mode in ("same", "same_lower"):
        return -(-size // axis.stride)
    return axis.forward(size, padding.begin, padding.end)


@given(st.sampled_from(["torch", "tf", "keras"]), axes, st.one_of(modes, crops))
def test_forward_conv_of_every_candidate_gives_back_n(name, axis, padding):
    try:
        candidates = FRAMEWORKS[name].candidates(axis, Options(padding))
    except DeconvError:
        assume(False)
        raise
    assume(candidates)
    for size in candidates:
        assert forward(name, axis, padding, size) == axis.n
        assert resolved(name, axis, Options(padding, output_shape=size)).output == size


@given(names, axes, st.one_of(modes, crops))
def test_every_candidate_resolves_to_itself(name, axis, padding):
    try:
        candidates = FRAMEWORKS[name].candidates(axis, Options(padding))
    except DeconvError:
        assume(False)
        raise
    for size in candidates:
        layer = resolved(name, axis, Options(padding, output_shape=size if name != "jax" else None))
        assert layer.output == size
        # what the transposed conv appends beyond the full result stays within one stride,
        # but jax's edge padding, which adds any number of zeros
        assert layer.end > -axis.stride or (name == "jax" and padding.mode == "explicit")


def read_params(name: str, axis: Axis, params: dict[str, object]) -> Options:
    """The framework's parameters read back as deconv options, independently of the core."""
    if name == "torch":
        padding, output_padding = params["padding"], params["output_padding"]
        return Options(Padding.explicit(padding[0], padding[0]), output_padding[0])  # type: ignore[index]
    if name == "tf":
        mode = params["padding"]
        shape_ = params["output_shape"][0]  # type: ignore[index]
        if isinstance(mode, str):
            return Options(Padding(mode.lower()), output_shape=shape_)  # type: ignore[arg-type]
        begin, end = mode[1]  # type: ignore[index]
        return Options(Padding.explicit(begin, end), output_shape=shape_)
    if name == "keras":
        extra = params["output_padding"]
        return Options(Padding(params["padding"]), None if extra is None else extra[0])  # type: ignore[arg-type, index]
    if name == "onnx":
        if "pads" in params:
            padding = Padding.explicit(*params["pads"])  # type: ignore[misc]
        else:
            modes = {"SAME_UPPER": "same", "SAME_LOWER": "same_lower", "VALID": "valid"}
            padding = Padding(modes[params["auto_pad"]])  # type: ignore[arg-type, index]
        extra = params.get("output_padding")
        requested = params.get("output_shape")
        return Options(
            padding,
            None if extra is None else extra[0],  # type: ignore[index]
            None if requested is None else requested[0],  # type: ignore[index]
        )
    mode = params["padding"]
    if isinstance(mode, str):
        return Options(Padding(mode.lower()))  # type: ignore[arg-type]
    low, high = mode[0]  # type: ignore[index]
    return Options(Padding.explicit(low, high))  # lax.conv_transpose's own edge padding


@settings(max_examples=60, deadline=None)
@given(axes, st.integers(1, 40), names)
def test_every_pad_solution_gives_the_wanted_size_when_read_back(axis, wanted, name):
    try:
        report = pad(
            [axis.n],
            [wanted],
            kernel_size=[axis.kernel_size],
            stride=[axis.stride],
            dilation=[axis.dilation],
            frameworks=[name],
        )
    except DeconvError as error:
        failure = error.exit_code
    else:
        failure = None
    if failure is not None:  # no setting reaches the size: a runtime failure, not bad usage
        assert failure == ExitCode.FAILURE
        return
    for solution in report.solutions:
        assert solution.output == (wanted,)
        begin, end = solution.crop[0]
        assert axis.full - begin - end == wanted
        native = FRAMEWORKS[name].resolve(axis, read_params(name, axis, solution.params))
        if solution.then is None:
            assert native == Layer(wanted, begin, end)
        else:  # the plain conv, then the slice
            start, stop = solution.then[0]
            assert (native.output, native.begin + start, stop - start) == (solution.native[0], begin, wanted)


@settings(max_examples=80, deadline=None)
@given(names, axes, options)
def test_every_translation_reproduces_the_layer(name, axis, option):
    try:
        report = shape(name, [axis], [option])
    except DeconvError:
        assume(False)
        raise
    target = Layer(report.output[0], *report.crop[0])
    for other, item in report.frameworks.items():
        if isinstance(item, Refusal):
            continue
        native = FRAMEWORKS[other].resolve(axis, read_params(other, axis, item.params))
        assert (native.output, (native.begin, native.end)) == (item.output[0], item.crop[0])
        if item.then is None:
            assert native == target
        else:
            start, stop = item.then[0]
            assert native.begin + start == target.begin
            assert stop - start == target.output
