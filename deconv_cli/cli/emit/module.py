"""The module form: the layer as written in a model, ``layer = ...`` (torch.nn, keras layers,
flax.linen) or ONNX's ``nodes``, with the crop as a layer of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deconv_cli.cli.emit.functional import Spans, check, grouped, jax_padding, tuple_text
from deconv_cli.core.frameworks import Params
from deconv_cli.core.geometry import Axis


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
    check(framework, channels.groups, len(axes))
    writer = _MODULES.get(framework)
    if writer is None:
        return None
    return "\n".join(writer(axes, params, output, then, channels))


def _edges(then: Spans, native: Sequence[int]) -> list[tuple[int, int]]:
    """Per axis, (before, after) to add to the native output: negative removes elements."""
    return [(-start, stop - size) for (start, stop), size in zip(then, native, strict=True)]


def _torch_module(
    axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None, channels: Channels
) -> list[str]:
    c_in, c_out = channels.names
    rank = len(axes)
    arguments = [
        f"{c_in}, {c_out}, kernel_size={tuple_text([a.kernel_size for a in axes])}, "
        f"stride={tuple_text([a.stride for a in axes])}, padding={tuple_text(params['padding'])},",  # type: ignore[arg-type]
        f"output_padding={tuple_text(params['output_padding'])}{grouped(channels.groups)}, "  # type: ignore[arg-type]
        f"dilation={tuple_text([a.dilation for a in axes])},",
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
        f"    torch.nn.ZeroPad{rank}d({tuple_text(widths)}),  # crop: torch cannot express this padding",
        ")",
    ]


def _keras_module(
    axes: Sequence[Axis], params: Params, output: Sequence[int], then: Spans | None, channels: Channels
) -> list[str]:
    rank = len(axes)
    extra = params["output_padding"]
    conv = [
        f"keras.layers.Conv{rank}DTranspose(",
        f"    {channels.names[1]}, kernel_size={tuple_text([a.kernel_size for a in axes])}, "
        f"strides={tuple_text([a.stride for a in axes])}, padding={params['padding']!r},",
        f"    output_padding={None if extra is None else tuple_text(extra)}, "  # type: ignore[arg-type]
        f"dilation_rate={tuple_text([a.dilation for a in axes])},",
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
        f"{channels.names[1]}, kernel_size={tuple_text([a.kernel_size for a in axes])}, "
        f"strides={tuple_text([a.stride for a in axes])}, padding={jax_padding(params)},",
        f"kernel_dilation={tuple_text([a.dilation for a in axes])},",
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
    attributes += grouped(channels.groups, "group")
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
