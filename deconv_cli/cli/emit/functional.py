"""The functional snippet: ``conv_transpose(x, w)`` in the framework's own layouts (those of
``deconv run``), with the crop (or zero-padding) step when its parameters cannot express the layer."""

from __future__ import annotations

from collections.abc import Sequence

from deconv_cli.core.frameworks import FRAMEWORKS, Params
from deconv_cli.core.geometry import Axis
from deconv_cli.errors import DeconvError

Spans = Sequence[tuple[int, int]]


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
    check(framework, groups, len(axes))
    body = _WRITERS[framework](axes, params, output, groups)
    lines = [*_IMPORTS[framework], "", "", f"def conv_transpose(x, w):  # {_LAYOUTS[framework]}", *body]
    if then is not None:
        result = max(i for i, line in enumerate(lines) if line.startswith("    return "))
        lines[result] = lines[result].replace("return ", "y = ", 1)
        lines.extend(_adjust(framework, then, output))
    return "\n".join(lines)


def check(framework: str, groups: int, rank: int) -> None:
    """Refuse an unknown framework, or groups where the framework has none of this rank."""
    if framework not in FRAMEWORKS:
        raise DeconvError(f"--emit must be one of {', '.join(FRAMEWORKS)} (got {framework!r})")
    FRAMEWORKS[framework].check_groups(groups, rank)


_IMPORTS = {
    "torch": ["import torch"],
    "tf": ["import tensorflow as tf"],
    "keras": ["import keras"],
    "onnx": ["import numpy as np", "import onnxruntime", "from onnx import TensorProto, helper"],
    "jax": ["import jax"],
}
_LAYOUTS = {
    "torch": "x (N, C_in, *spatial), w (C_in, C_out/groups, *k)",
    "tf": "x (N, *spatial, C_in), w (*k, C_out/groups, C_in)",
    "keras": "x (N, *spatial, C_in), w (*k, C_out, C_in)",
    "onnx": "x (N, C_in, *spatial), w (C_in, C_out/groups, *k), float32",
    "jax": "x (N, *spatial, C_in), w (*k, C_in, C_out), applied unflipped",
}


def tuple_text(values: Sequence[object]) -> str:
    """Values as a Python tuple: (2,) or (2, 3)."""
    return "(" + ", ".join(map(repr, values)) + ("," if len(values) == 1 else "") + ")"


def grouped(groups: int, name: str = "groups") -> str:
    """The groups keyword argument when there are groups, else nothing."""
    return f", {name}={groups}" if groups > 1 else ""


def _torch(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    strides = tuple_text([a.stride for a in axes])
    dilations = tuple_text([a.dilation for a in axes])
    return [
        f"    return torch.nn.functional.conv_transpose{len(axes)}d(",
        f"        x, w, stride={strides}, padding={tuple_text(params['padding'])}, "  # type: ignore[arg-type]
        f"output_padding={tuple_text(params['output_padding'])}{grouped(groups)}, "  # type: ignore[arg-type]
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
        f"        strides={tuple_text([a.stride for a in axes])}, padding={params['padding']!r}, "
        f"dilations={tuple_text([a.dilation for a in axes])},",
        "    )",
    ]


def _keras(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    extra = params["output_padding"]
    return [
        "    return keras.ops.conv_transpose(",
        f"        x, w, strides={tuple_text([a.stride for a in axes])}, padding={params['padding']!r}, "
        f"output_padding={None if extra is None else tuple_text(extra)},",  # type: ignore[arg-type]
        f"        dilation_rate={tuple_text([a.dilation for a in axes])},",
        "    )",
    ]


def _onnx(axes: Sequence[Axis], params: Params, output: Sequence[int], groups: int) -> list[str]:
    attributes = ", ".join(f"{name}={value!r}" for name, value in params.items()) + grouped(groups, "group")
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
        f"        x, w, strides={tuple_text([a.stride for a in axes])}, padding={jax_padding(params)}, "
        f"rhs_dilation={tuple_text([a.dilation for a in axes])},",
        f"        dimension_numbers=('N{letters}C', '{letters}IO', 'N{letters}C'),",
        "    )",
    ]


def jax_padding(params: Params) -> str:
    """JAX's padding as code: a string, or (begin, end) pairs."""
    padding = params["padding"]
    return repr(padding) if isinstance(padding, str) else repr([tuple(p) for p in padding])  # type: ignore[attr-defined]


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
            lines.append(f"    y = {padder}(y, {tuple_text(flat)})  # zeros the framework cannot append")
        else:
            lines.append(f"    y = {padder}(y, {widths!r})  # zeros the framework cannot append")
    index = ", ".join(f"{start}:{stop}" for start, stop in spans)
    index = f"[:, {index}, :]" if channels_last else f"[..., {index}]"
    lines.append(f"    return y{index}  # crop: {framework} cannot express this padding")
    return lines
