"""Ready-to-paste code that builds a layer in each framework, crop or pad step included.

Every snippet defines ``conv_transpose(x, w)`` taking the input and weight in that
framework's layouts (those of ``deconv run``) and returning the layer's output.
"""

from __future__ import annotations

from collections.abc import Sequence

from deconv_cli.core.frameworks import FRAMEWORKS, Params
from deconv_cli.core.geometry import Axis
from deconv_cli.core.pad import PadReport
from deconv_cli.core.shape import Refusal, ShapeReport
from deconv_cli.errors import DeconvError, ExitCode

Spans = Sequence[tuple[int, int]]


def snippet(
    framework: str, axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None
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
    if framework not in FRAMEWORKS:
        raise DeconvError(f"--emit must be one of {', '.join(FRAMEWORKS)} (got {framework!r})")
    write = _WRITERS[framework]
    body = write(axes, params, output)
    lines = [*_IMPORTS[framework], "", "", f"def conv_transpose(x, w):  # {_LAYOUTS[framework]}", *body]
    if then is not None:
        result = max(i for i, line in enumerate(lines) if line.startswith("    return "))
        lines[result] = lines[result].replace("return ", "y = ", 1)
        lines.extend(_adjust(framework, then, output))
    return "\n".join(lines)


def for_shape(report: ShapeReport, axes: Sequence[Axis], framework: str) -> str:
    """The snippet for the layer of ``deconv shape`` in ``framework``, or its refusal."""
    item = report.frameworks[framework]
    if isinstance(item, Refusal):
        raise DeconvError(item.error)
    return snippet(framework, axes, item.params, item.output, item.then)


def for_pad(report: PadReport, n: Sequence[int], framework: str) -> str:
    """The snippet for ``framework``'s best solution of ``deconv pad``."""
    for solution in report.solutions:
        if solution.framework == framework:
            axes = [Axis(*values) for values in zip(n, solution.k, solution.s, solution.d, strict=True)]
            return snippet(
                framework, axes, solution.params, solution.native or solution.output, solution.then
            )
    raise DeconvError(
        f"no {framework} setting reaches this size; see the others without --emit", ExitCode.FAILURE
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


def _torch(axes: Sequence[Axis], params: Params, output: Sequence[int]) -> list[str]:
    strides = _tuple([a.stride for a in axes])
    dilations = _tuple([a.dilation for a in axes])
    return [
        f"    return torch.nn.functional.conv_transpose{len(axes)}d(",
        f"        x, w, stride={strides}, padding={_tuple(params['padding'])}, "  # type: ignore[arg-type]
        f"output_padding={_tuple(params['output_padding'])}, dilation={dilations}",  # type: ignore[arg-type]
        "    )",
    ]


def _tf(axes: Sequence[Axis], params: Params, output: Sequence[int]) -> list[str]:
    return [
        f"    return tf.nn.conv{len(axes)}d_transpose(",
        f"        x, w, output_shape=[tf.shape(x)[0], {', '.join(map(str, output))}, w.shape[-2]],",
        f"        strides={_tuple([a.stride for a in axes])}, padding={params['padding']!r}, "
        f"dilations={_tuple([a.dilation for a in axes])},",
        "    )",
    ]


def _keras(axes: Sequence[Axis], params: Params, output: Sequence[int]) -> list[str]:
    extra = params["output_padding"]
    return [
        "    return keras.ops.conv_transpose(",
        f"        x, w, strides={_tuple([a.stride for a in axes])}, padding={params['padding']!r}, "
        f"output_padding={None if extra is None else _tuple(extra)},",  # type: ignore[arg-type]
        f"        dilation_rate={_tuple([a.dilation for a in axes])},",
        "    )",
    ]


def _onnx(axes: Sequence[Axis], params: Params, output: Sequence[int]) -> list[str]:
    attributes = ", ".join(f"{name}={value!r}" for name, value in params.items())
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


def _jax(axes: Sequence[Axis], params: Params, output: Sequence[int]) -> list[str]:
    letters = "WHD"[: len(axes)][::-1]
    padding = params["padding"]
    written = repr(padding) if isinstance(padding, str) else repr([tuple(p) for p in padding])  # type: ignore[attr-defined]
    return [
        "    return jax.lax.conv_transpose(",
        f"        x, w, strides={_tuple([a.stride for a in axes])}, padding={written}, "
        f"rhs_dilation={_tuple([a.dilation for a in axes])},",
        f"        dimension_numbers=('N{letters}C', '{letters}IO', 'N{letters}C'),",
        "    )",
    ]


_WRITERS = {"torch": _torch, "tf": _tf, "keras": _keras, "onnx": _onnx, "jax": _jax}


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
