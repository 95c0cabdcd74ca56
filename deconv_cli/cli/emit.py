"""Ready-to-paste code that builds a layer in each framework, crop or pad step included.

The functional snippet defines ``conv_transpose(x, w)`` taking the input and weight in
that framework's layouts (those of ``deconv run``) and returning the layer's output. The
module form is the layer as it is written in a model, ``layer = ...`` (torch.nn, keras
layers, flax.linen, an ONNX node list ``nodes``), with the crop as a layer of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deconv_cli.core.frameworks import FRAMEWORKS, Params
from deconv_cli.core.geometry import Axis
from deconv_cli.core.pad import PadReport, Solution
from deconv_cli.core.shape import Refusal, ShapeReport, call, crops
from deconv_cli.errors import DeconvError, ExitCode

Spans = Sequence[tuple[int, int]]


@dataclass(frozen=True)
class Channels:
    """The channel counts and groups of the module form; ``None`` leaves a named placeholder."""

    in_channels: int | None = None
    out_channels: int | None = None
    groups: int = 1

    @property
    def names(self) -> tuple[str, str]:
        """C_in and C_out as the code writes them: the counts, or ``in_channels`` and ``out_channels``."""
        return (
            "in_channels" if self.in_channels is None else str(self.in_channels),
            "out_channels" if self.out_channels is None else str(self.out_channels),
        )


@dataclass(frozen=True)
class Code:
    """What ``--emit`` prints: the functional snippet, the module form, and for ``pad`` the solution used."""

    framework: str
    functional: str
    module: str | None
    solution: str | None = None

    @property
    def text(self) -> str:
        parts = [f"# {self.solution}"] if self.solution else []
        parts.append(self.functional)
        if self.module is not None:
            parts.extend(["", "", "# the same layer as written in a model", self.module])
        return "\n".join(parts)


def snippet(
    framework: str,
    axes: Sequence[Axis],
    params: Params,
    output: Sequence[int],
    then: Spans | None,
    groups: int = 1,
) -> str:
    """Code for ``framework`` with ``params``; ``then`` slices the native output (zeros past its end).

    >>> print(snippet("torch", [Axis(2, 3, 2)], {"padding": [0], "output_padding": [0]}, [5], [(0, 4)]))
    import torch
    <BLANKLINE>
    <BLANKLINE>
    def conv_transpose(x, w):  # x (N, C_in, *spatial), w (C_in, C_out/groups, *k)
        y = torch.nn.functional.conv_transpose1d(
            x, w, stride=(2,), padding=(0,), output_padding=(0,), dilation=(1,)
        )
        return y[..., 0:4]  # crop: torch cannot express this padding
    """
    _check(framework, groups)
    body = _WRITERS[framework](axes, params, output, groups)
    lines = [*_IMPORTS[framework], "", "", f"def conv_transpose(x, w):  # {_LAYOUTS[framework]}", *body]
    if then is not None:
        result = max(i for i, line in enumerate(lines) if line.startswith("    return "))
        lines[result] = lines[result].replace("return ", "y = ", 1)
        lines.extend(_adjust(framework, then, output))
    return "\n".join(lines)


def module(
    framework: str,
    axes: Sequence[Axis],
    params: Params,
    output: Sequence[int],
    then: Spans | None,
    channels: Channels,
) -> str | None:
    """The layer as written in a model, ``layer = ...``; None for tf, whose layer is Keras's.

    >>> torch = {"padding": [0], "output_padding": [0]}
    >>> print(module("torch", [Axis(2, 3, 2)], torch, [5], None, Channels(4)))
    import torch
    <BLANKLINE>
    layer = torch.nn.ConvTranspose1d(
        4, out_channels, kernel_size=(3,), stride=(2,), padding=(0,),
        output_padding=(0,), dilation=(1,),
    )  # weight (C_in, C_out/groups, *k)
    """
    _check(framework, channels.groups)
    writer = _MODULES.get(framework)
    if writer is None:
        return None
    return "\n".join(writer(axes, params, output, then, channels))


def channels(emit: str | None, in_channels: int | None, out_channels: int | None, groups: int) -> Channels:
    """The module form's channels from the options, which mean nothing without ``--emit``."""
    if emit is None and (in_channels is not None or out_channels is not None or groups != 1):
        raise DeconvError(
            "--in-channels, --out-channels and --groups describe the code of --emit; add --emit"
        )
    if any(count is not None and count % groups for count in (in_channels, out_channels)):
        raise DeconvError(
            f"--in-channels and --out-channels must be divisible by --groups (got {in_channels}, "
            f"{out_channels} and {groups})"
        )
    return Channels(in_channels, out_channels, groups)


def _check(framework: str, groups: int) -> None:
    if framework not in FRAMEWORKS:
        raise DeconvError(f"--emit must be one of {', '.join(FRAMEWORKS)} (got {framework!r})")
    if groups > 1 and not FRAMEWORKS[framework].has_groups:
        raise DeconvError(f"{framework} has no grouped transposed convolution (got --groups {groups})")


def for_shape(report: ShapeReport, axes: Sequence[Axis], framework: str, channels: Channels) -> Code:
    """The code for the layer of ``deconv shape`` in ``framework``, or its refusal."""
    item = report.frameworks[framework]
    if isinstance(item, Refusal):
        raise DeconvError(item.error)
    return Code(
        framework,
        snippet(framework, axes, item.params, item.output, item.then, channels.groups),
        module(framework, axes, item.params, item.output, item.then, channels),
    )


def for_pad(report: PadReport, n: Sequence[int], framework: str, channels: Channels) -> Code:
    """The code for ``framework``'s best solution of ``deconv pad``, saying which it is."""
    for solution in report.solutions:
        if solution.framework == framework:
            axes = [Axis(*values) for values in zip(n, solution.k, solution.s, solution.d, strict=True)]
            return Code(
                framework,
                snippet(framework, axes, solution.params, solution.output, None, channels.groups),
                module(framework, axes, solution.params, solution.output, None, channels),
                _described(solution),
            )
    raise DeconvError(
        f"no {framework} setting reaches this size; see the others without --emit", ExitCode.FAILURE
    )


def _described(solution: Solution) -> str:
    def ints(values: Sequence[int]) -> str:
        return ",".join(map(str, values))

    return (
        f"deconv pad's best {solution.framework} solution: k={ints(solution.k)} s={ints(solution.s)} "
        f"d={ints(solution.d)} crop={crops(solution.crop)}, {call(solution.params)}"
    )


_IMPORTS = {
    "torch": ["import torch"],
    "tf": ["import tensorflow as tf"],
    "keras": ["import keras"],
    "onnx": ["import numpy as np", "import onnxruntime", "from onnx import TensorProto, helper"],
    "jax": ["import jax"],
}
_LAYOUTS = {
    "torch": "x (N, C_in, *spatial), w (C_in, C_out/groups, *k)",
    "tf": "x (N, *spatial, C_in), w (*k, C_out, C_in)",
    "keras": "x (N, *spatial, C_in), w (*k, C_out, C_in)",
    "onnx": "x (N, C_in, *spatial), w (C_in, C_out/groups, *k), float32",
    "jax": "x (N, *spatial, C_in), w (*k, C_in, C_out), applied unflipped",
}


def _tuple(values: Sequence[object]) -> str:
    return "(" + ", ".join(map(repr, values)) + ("," if len(values) == 1 else "") + ")"


def _grouped(groups: int, name: str = "groups") -> str:
    return f", {name}={groups}" if groups > 1 else ""


def _torch(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    strides = _tuple([a.stride for a in axes])
    dilations = _tuple([a.dilation for a in axes])
    return [
        f"    return torch.nn.functional.conv_transpose{len(axes)}d(",
        f"        x, w, stride={strides}, padding={_tuple(params['padding'])}, "  # type: ignore[arg-type]
        f"output_padding={_tuple(params['output_padding'])}{_grouped(groups)}, "  # type: ignore[arg-type]
        f"dilation={dilations}",
        "    )",
    ]


def _tf(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    channels = "w.shape[-2]" if groups == 1 else f"w.shape[-2] * {groups}"  # the filter holds C_out/groups
    # tests/test_emit.py checks this limit of TensorFlow 2.21 on CPU
    note = ["    # TensorFlow's CPU kernels group only with padding 'SAME' or 'VALID' (else: an error)"]
    return [
        *(note if groups > 1 and not isinstance(params["padding"], str) else []),
        f"    return tf.nn.conv{len(axes)}d_transpose(",
        f"        x, w, output_shape=[tf.shape(x)[0], {', '.join(map(str, output))}, {channels}],",
        f"        strides={_tuple([a.stride for a in axes])}, padding={params['padding']!r}, "
        f"dilations={_tuple([a.dilation for a in axes])},",
        "    )",
    ]


def _keras(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    extra = params["output_padding"]
    return [
        "    return keras.ops.conv_transpose(",
        f"        x, w, strides={_tuple([a.stride for a in axes])}, padding={params['padding']!r}, "
        f"output_padding={None if extra is None else _tuple(extra)},",  # type: ignore[arg-type]
        f"        dilation_rate={_tuple([a.dilation for a in axes])},",
        "    )",
    ]


def _onnx(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    attributes = ", ".join(f"{name}={value!r}" for name, value in params.items()) + _grouped(groups, "group")
    return [
        "    node = helper.make_node(",
        f'        "ConvTranspose", ["X", "W"], ["Y"], strides={[a.stride for a in axes]!r}, '
        f"dilations={[a.dilation for a in axes]!r},",
        f"        {attributes},",
        "    )",
        "    graph = helper.make_graph(",
        '        [node], "deconv",',
        '        [helper.make_tensor_value_info("X", TensorProto.FLOAT, x.shape),',
        '         helper.make_tensor_value_info("W", TensorProto.FLOAT, w.shape)],',
        '        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],',
        "    )",
        '    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])',
        "    session = onnxruntime.InferenceSession(model.SerializeToString())",
        '    return session.run(None, {"X": np.asarray(x, np.float32), "W": np.asarray(w, np.float32)})[0]',
    ]


def _jax(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    letters = "WHD"[: len(axes)][::-1]
    return [
        "    return jax.lax.conv_transpose(",
        f"        x, w, strides={_tuple([a.stride for a in axes])}, padding={_jax_padding(params)}, "
        f"rhs_dilation={_tuple([a.dilation for a in axes])},",
        f"        dimension_numbers=('N{letters}C', '{letters}IO', 'N{letters}C'),",
        "    )",
    ]


def _jax_padding(params: Params) -> str:
    padding = params["padding"]
    return repr(padding) if isinstance(padding, str) else repr([tuple(p) for p in padding])  # type: ignore[attr-defined]


_WRITERS = {"torch": _torch, "tf": _tf, "keras": _keras, "onnx": _onnx, "jax": _jax}


def _edges(then: Spans, native: Sequence[int]) -> list[tuple[int, int]]:
    """Per axis, (before, after) to add to the native output: negative removes elements."""
    return [(-start, stop - size) for (start, stop), size in zip(then, native, strict=True)]


def _torch_module(
    axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None, channels: Channels
) -> list[str]:
    c_in, c_out = channels.names
    rank = len(axes)
    arguments = [
        f"{c_in}, {c_out}, kernel_size={_tuple([a.kernel_size for a in axes])}, "
        f"stride={_tuple([a.stride for a in axes])}, padding={_tuple(params['padding'])},",  # type: ignore[arg-type]
        f"output_padding={_tuple(params['output_padding'])}{_grouped(channels.groups)}, "  # type: ignore[arg-type]
        f"dilation={_tuple([a.dilation for a in axes])},",
    ]
    conv = f"torch.nn.ConvTranspose{rank}d("
    if then is None:
        return [
            "import torch",
            "",
            f"layer = {conv}",
            *(f"    {line}" for line in arguments),
            ")  # weight (C_in, C_out/groups, *k)",
        ]
    # ZeroPad's widths run from the last axis back; a negative width removes elements (the crop)
    widths = [v for before, after in reversed(_edges(then, output)) for v in (before, after)]
    return [
        "import torch",
        "",
        "layer = torch.nn.Sequential(",
        f"    {conv}",
        *(f"        {line}" for line in arguments),
        "    ),  # weight (C_in, C_out/groups, *k)",
        f"    torch.nn.ZeroPad{rank}d({_tuple(widths)}),  # crop: torch cannot express this padding",
        ")",
    ]


def _keras_module(
    axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None, channels: Channels
) -> list[str]:
    rank = len(axes)
    extra = params["output_padding"]
    conv = [
        f"keras.layers.Conv{rank}DTranspose(",
        f"    {channels.names[1]}, kernel_size={_tuple([a.kernel_size for a in axes])}, "
        f"strides={_tuple([a.stride for a in axes])}, padding={params['padding']!r},",
        f"    output_padding={None if extra is None else _tuple(extra)}, "  # type: ignore[arg-type]
        f"dilation_rate={_tuple([a.dilation for a in axes])},",
        ")",
    ]
    if then is None:
        return ["import keras", "", f"layer = {conv[0]}", *conv[1:-1], ")  # weight (*k, C_out, C_in)"]
    edges = _edges(then, output)
    zeros = [(max(0, before), max(0, after)) for before, after in edges]
    cuts = [(max(0, -before), max(0, -after)) for before, after in edges]

    def widths(pairs: list[tuple[int, int]]) -> str:
        return repr(pairs[0]) if rank == 1 else repr(tuple(pairs))

    lines = ["import keras", "", "layer = keras.Sequential(", "    ["]
    lines += [f"        {line}" for line in conv[:-1]] + ["        ),  # weight (*k, C_out, C_in)"]
    if any(before or after for before, after in zeros):
        lines.append(
            f"        keras.layers.ZeroPadding{rank}D({widths(zeros)}),  # zeros keras cannot append"
        )
    lines += [
        f"        keras.layers.Cropping{rank}D({widths(cuts)}),  # crop: keras cannot express this padding"
    ]
    return [*lines, "    ]", ")"]


def _flax_module(
    axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None, channels: Channels
) -> list[str]:
    arguments = [
        f"{channels.names[1]}, kernel_size={_tuple([a.kernel_size for a in axes])}, "
        f"strides={_tuple([a.stride for a in axes])}, padding={_jax_padding(params)},",
        f"kernel_dilation={_tuple([a.dilation for a in axes])},",
    ]
    if then is None:
        return [
            "import flax.linen",
            "",
            "layer = flax.linen.ConvTranspose(",
            *(f"    {line}" for line in arguments),
            ")  # kernel (*k, C_in, C_out), applied unflipped",
        ]
    index = ", ".join(f"{start}:{stop}" for start, stop in then)
    return [
        "import flax.linen",
        "",
        "",
        "class Layer(flax.linen.Module):",
        "    @flax.linen.compact",
        "    def __call__(self, x):",
        "        y = flax.linen.ConvTranspose(",
        *(f"            {line}" for line in arguments),
        "        )(x)  # kernel (*k, C_in, C_out), applied unflipped",
        f"        return y[:, {index}, :]  # crop: jax cannot express this padding",
        "",
        "",
        "layer = Layer()",
    ]


def _onnx_module(
    axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None, channels: Channels
) -> list[str]:
    attributes = ", ".join(f"{name}={value!r}" for name, value in params.items())
    attributes += _grouped(channels.groups, "group")
    lines = [
        "from onnx import helper",
        "",
        "nodes = [  # inputs X (N, C_in, *spatial), W (C_in, C_out/groups, *k); output Y",
        "    helper.make_node(",
        f'        "ConvTranspose", ["X", "W"], ["{"Y" if then is None else "Y_native"}"],',
        f"        kernel_shape={[a.kernel_size for a in axes]!r}, strides={[a.stride for a in axes]!r},",
        f"        dilations={[a.dilation for a in axes]!r}, {attributes},",
        "    ),",
    ]
    if then is not None:  # zeros past the edges first (Pad), then the slice
        edges = _edges(then, output)
        before = [max(0, b) for b, _ in edges]
        after = [max(0, a) for _, a in edges]
        starts = [max(0, -b) for b, _ in edges]
        ends = [n + z + max(0, a) - max(0, -a) for n, z, (_, a) in zip(output, before, edges, strict=True)]
        constants = {"pads": [0, 0, *before, 0, 0, *after], "starts": starts, "ends": ends}
        constants["axes"] = list(range(2, len(axes) + 2))
        lines += [
            f'    helper.make_node("Constant", [], ["{name}"], value_ints={values!r}),'
            for name, values in constants.items()
        ]
        lines += [
            '    helper.make_node("Pad", ["Y_native", "pads"], ["Y_padded"]),  # zeros onnx cannot append',
            '    helper.make_node("Slice", ["Y_padded", "starts", "ends", "axes"], ["Y"]),  # crop',
        ]
    return [*lines, "]"]


_MODULES = {"torch": _torch_module, "keras": _keras_module, "onnx": _onnx_module, "jax": _flax_module}


def _adjust(framework: str, then: Spans, native: Sequence[int]) -> list[str]:
    """Slice the native output; where the slice runs past an edge, pad zeros there first."""
    channels_last = FRAMEWORKS[framework].channels_last
    pads = [(max(0, -start), max(0, stop - size)) for (start, stop), size in zip(then, native, strict=True)]
    spans = [(start + before, stop + before) for (start, stop), (before, _) in zip(then, pads, strict=True)]
    lines = []
    if any(before or after for before, after in pads):
        widths = [(0, 0), *pads, (0, 0)] if channels_last else [(0, 0), (0, 0), *pads]
        padder = {
            "torch": "torch.nn.functional.pad",
            "tf": "tf.pad",
            "keras": "keras.ops.pad",
            "onnx": "np.pad",
            "jax": "jax.numpy.pad",
        }[framework]
        if framework == "torch":  # F.pad takes (last axis before, after, previous axis ...)
            flat = [v for before, after in reversed(pads) for v in (before, after)]
            lines.append(f"    y = {padder}(y, {_tuple(flat)})  # zeros the framework cannot append")
        else:
            lines.append(f"    y = {padder}(y, {widths!r})  # zeros the framework cannot append")
    index = ", ".join(f"{start}:{stop}" for start, stop in spans)
    index = f"[:, {index}, :]" if channels_last else f"[..., {index}]"
    lines.append(f"    return y{index}  # crop: {framework} cannot express this padding")
    return lines
