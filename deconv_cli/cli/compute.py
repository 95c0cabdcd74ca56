"""``deconv run`` and ``deconv explain``: the commands that compute on arrays (numpy loads
only when they run)."""

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import typer

from deconv_cli.cli.app import (
    DEFAULT_FRAMEWORK,
    Dilation,
    FrameworkOption,
    In,
    Kernel,
    OutputPadding,
    OutputShape,
    PaddingOption,
    Stride,
    app,
)
from deconv_cli.core import parse
from deconv_cli.errors import DeconvError, ExitCode


class DataLayout(StrEnum):
    channels_first = "channels_first"
    channels_last = "channels_last"


@app.command()
def run(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Input .npy file, or - for stdin.")],
    weight: Annotated[str, typer.Option("--weight", "-w", help="Weight .npy in the framework's layout.")],
    bias: Annotated[str | None, typer.Option("--bias", "-b", help="Bias .npy of shape (C_out,).")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output .npy file; default stdout (not a terminal).")
    ] = None,
    stride: Stride = "1",
    dilation: Dilation = "1",
    padding: PaddingOption = "valid",
    output_padding: OutputPadding = None,
    output_shape: OutputShape = None,
    framework: FrameworkOption = DEFAULT_FRAMEWORK,
    groups: Annotated[int, typer.Option("--groups", "-g", min=1, help="Groups.")] = 1,
    layout: Annotated[
        DataLayout | None, typer.Option("--layout", help="Override the framework's data layout.")
    ] = None,
    max_memory: Annotated[
        str, typer.Option("--max-memory", help="Bound on the engine's extra memory, e.g. 512M or 2G.")
    ] = "1G",
) -> None:
    """Run the transposed convolution on .npy arrays, exactly as --framework does.

    Layouts follow --framework: torch and onnx take x (N, C, *spatial) and w (C_in, C_out/groups, *k);
    tf and keras take x (N, *spatial, C) and w (*k, C_out, C_in); jax takes x (N, *spatial, C) and
    w (*k, C_in, C_out) applied unflipped, as lax.conv_transpose does by default. The kernel size
    comes from the weight. The result is written as .npy bytes to --output or stdout.
    """
    from deconv_cli.arrays import stream
    from deconv_cli.cli import render

    budget = parse.size(max_memory, "--max-memory")
    stdout = getattr(sys.stdout, "buffer", None)
    strides, dilations = parse.ints(stride, "--s"), parse.ints(dilation, "--d")
    paddings = parse.padding(padding)
    extra = None if output_padding is None else parse.ints(output_padding, "--op", minimum=0)
    requested = None if output_shape is None else parse.ints(output_shape, "--output-shape")
    # the options agree among themselves; the arrays' rank is checked against them next
    named: dict[str, Sequence[object]] = {"--s": strides, "--d": dilations, "--padding": paddings}
    named.update({"--op": extra} if extra is not None else {})
    named.update({"--output-shape": requested} if requested is not None else {})
    parse.broadcast(named)
    # every check before any work: the output first, then the headers, then the memory
    with stream.Output(output, stdout) as target:
        sources = [("INPUT", "input", input_path), ("--weight", "weight", weight), ("--bias", "bias", bias)]
        stdin = getattr(sys.stdin, "buffer", None)
        with stream.open_all(sources, ("--output", output), stdin, budget) as opened:
            from deconv_cli.arrays.execute import plan

            rank = len(opened["weight"].shape) - 2
            if rank > 0:  # else plan names what the weight lacks
                parse.fit(named, rank, f"the weight has {rank} spatial {'axis' if rank == 1 else 'axes'}")

            job = plan(
                opened["input"].shape,
                opened["input"].dtype,
                opened["weight"].shape,
                opened["weight"].dtype,
                opened["bias"].shape if "bias" in opened else None,
                stride=strides,
                dilation=dilations,
                padding=paddings[0].mode
                if paddings[0].mode != "explicit"
                else [(p.begin, p.end) for p in paddings],
                output_padding=extra,
                output_shape=requested,
                groups=groups,
                framework=framework.value,
                layout=layout.value if layout else None,
                cli_words=True,
            )
            job.check_memory(budget, "--max-memory", loaded=sum(p.nbytes for p in opened.values()))
            arrays = {role: pending.load() for role, pending in opened.items()}
            with render.progress(sys.stderr.isatty()) as report:
                result = job.run(arrays["input"], arrays["weight"], arrays.get("bias"), budget, report)
        target.commit(stream.save(result))


@app.command()
def explain(
    n: In,
    kernel_size: Kernel,
    stride: Stride = "1",
    dilation: Dilation = "1",
    padding: PaddingOption = "valid",
    output_padding: OutputPadding = None,
    output_shape: OutputShape = None,
    framework: FrameworkOption = DEFAULT_FRAMEWORK,
    values: Annotated[
        str | None,
        typer.Option(
            "--values",
            help="Input .npy to run through the layer: the --in shape, or one sample and one channel "
            "in the framework's layout.",
        ),
    ] = None,
    weight: Annotated[
        str | None,
        typer.Option(
            "--weight",
            "-w",
            help="Kernel .npy for --values: the --k shape, or one input and one output channel "
            "in the framework's layout.",
        ),
    ] = None,
    ones: Annotated[bool, typer.Option("--ones", help="An all-ones kernel for --values.")] = False,
    svg: Annotated[
        str | None, typer.Option("--svg", help="Also save the picture as SVG to this file.")
    ] = None,
    max_memory: Annotated[
        str, typer.Option("--max-memory", help="Bound on the memory --values may take, e.g. 512M or 2G.")
    ] = "1G",
) -> None:
    """Draw the layer: input, zeros inserted, edge padding and kernel window, the crop (1-D, 2-D).

    With --values and --weight (or --ones) it shows the numbers: the full result, the output,
    and what PyTorch's padding/output_padding would give when it crops differently.
    """
    from deconv_cli.arrays import stream
    from deconv_cli.cli import draw
    from deconv_cli.core import explain as core

    axes, options = parse.layer(n, kernel_size, stride, dilation, padding, output_padding, output_shape)
    report = core.layer(framework.value, axes, options)
    core.kernel(values, weight, ones)
    budget = parse.size(max_memory, "--max-memory")
    if svg is not None:
        # the picture's file can be written: checked before any work
        stream.Output(svg, None, binary=False).discard()
    numbers = None
    if values is not None:
        need = core.memory(report)
        if need > budget:
            raise DeconvError(
                f"drawing the numbers of this layer takes about {stream.human(need)}, more than "
                f"--max-memory {stream.human(budget)}; give --max-memory {-(-need // (1 << 20))}M or more, "
                "or a smaller --in",
                ExitCode.FAILURE,
            )
        import numpy as np

        from deconv_cli.arrays.execute import full_result

        sizes = tuple(a.n for a in axes)
        kernels = tuple(a.kernel_size for a in axes)
        sources = [("--values", "input", values), ("--weight", "weight", weight)]
        arrays = stream.read_all(sources, ("--svg", svg), getattr(sys.stdin, "buffer", None), budget - need)
        x, w = arrays["input"], arrays.get("weight", np.ones(kernels))
        full = full_result(
            x.reshape(core.layout(x.shape, sizes, framework.value, option="--values")),
            w.reshape(core.layout(w.shape, kernels, framework.value, option="--weight")),
            stride=[a.stride for a in axes],
            dilation=[a.dilation for a in axes],
            framework=framework.value,
            max_memory=budget,
            held=need,  # the numbers, listed for the picture
            cli_words=True,
        )
        planar = core.planar([a.full for a in axes], 1)
        numbers = core.Values.of(
            report, x.reshape(core.planar(sizes, 1)).tolist(), full.reshape(planar).tolist()
        )
    draw.explain(core.Explanation(report, numbers), sys.stdout, svg=svg)
