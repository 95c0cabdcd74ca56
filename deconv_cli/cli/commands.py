"""The single-layer commands: parse, call the core, render; each imports its work when it runs."""

import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from deconv_cli.cli.app import (
    DEFAULT_FRAMEWORK,
    TERMINAL_LIMIT,
    Dilation,
    Emit,
    EmitGroups,
    FrameworkName,
    FrameworkOption,
    In,
    InChannels,
    Json,
    Kernel,
    OutChannels,
    OutputPadding,
    OutputShape,
    PaddingOption,
    Stride,
    app,
)
from deconv_cli.core import parse
from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    from deconv_cli.cli.emit import Channels

ReadAs = Annotated[
    FrameworkName | None,
    typer.Option(
        "--framework",
        "-f",
        help="Whose conventions define the layer; default: read as written, with the first of "
        "torch, tf, onnx, keras, jax that accepts it.",
    ),
]


def emit_channels(
    emit: FrameworkName | None, in_channels: int | None, out_channels: int | None, groups: int
) -> "Channels | None":
    """The module form's channels for --emit, checked; without --emit they mean nothing (and
    the code emitter is not loaded)."""
    if emit is None:
        if in_channels is not None or out_channels is not None or groups != 1:
            raise DeconvError(
                "--in-channels, --out-channels and --groups describe the code of --emit; add --emit"
            )
        return None
    from deconv_cli.cli import emit as code

    return code.channels(in_channels, out_channels, groups)


@app.command()
def shape(
    n: In,
    kernel_size: Kernel,
    stride: Stride = "1",
    dilation: Dilation = "1",
    padding: PaddingOption = "valid",
    output_padding: OutputPadding = None,
    output_shape: OutputShape = None,
    framework: ReadAs = None,
    as_json: Json = False,
    emit: Emit = None,
    in_channels: InChannels = None,
    out_channels: OutChannels = None,
    groups: EmitGroups = 1,
) -> None:
    """Output size of a transposed convolution, why, and how each framework writes it.

    Piped, it prints the bare size per axis (deconv shape --in 16 --k 6 --s 2 --padding same
    prints 32); on a terminal, the steps and a row per framework.
    """
    axes, options = parse.layer(n, kernel_size, stride, dilation, padding, output_padding, output_shape)
    layer = emit_channels(emit, in_channels, out_channels, groups)
    from deconv_cli.cli import render
    from deconv_cli.core.shape import shape as solve_shape

    report = solve_shape(framework.value if framework else None, axes, options)
    if emit is not None and layer is not None:
        from deconv_cli.cli import emit as code

        render.code(code.for_shape(report, axes, emit.value, layer), sys.stdout, as_json=as_json)
        return
    render.shape(report, sys.stdout, terminal=sys.stdout.isatty(), as_json=as_json)


@app.command()
def pad(
    n: Annotated[
        str | None, typer.Option("--in", help="Input spatial size(s), comma list per axis: 16 or 16,24.")
    ] = None,
    out: Annotated[str | None, typer.Option("--out", help="Wanted output size(s).")] = None,
    factor: Annotated[
        str | None,
        typer.Option(
            "--factor", help="Instead of --in/--out: output = FACTOR * n for every input size n (per axis)."
        ),
    ] = None,
    kernel_size: Annotated[
        str | None, typer.Option("--k", "--kernel-size", help="Kernel size(s); omitted: search 1..--max-k.")
    ] = None,
    stride: Annotated[
        str | None, typer.Option("--s", "--stride", help="Stride(s); omitted: search 1..--max-s.")
    ] = None,
    dilation: Dilation = "1",
    framework: Annotated[
        list[FrameworkName] | None,
        typer.Option("--framework", "-f", help="Only these frameworks (repeatable); default all."),
    ] = None,
    max_k: Annotated[
        int | None,
        typer.Option(
            "--max-k",
            min=1,
            max=64,
            help="Largest kernel to search; default 2x the largest stride, at least 8.",
        ),
    ] = None,
    max_s: Annotated[int, typer.Option("--max-s", min=1, max=64, help="Largest stride to search.")] = 4,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="Show the best N (0: all); default 20 on a terminal.")
    ] = None,
    as_json: Json = False,
    emit: Emit = None,
    in_channels: InChannels = None,
    out_channels: OutChannels = None,
    groups: EmitGroups = 1,
) -> None:
    """Every setting each framework accepts that turns --in into --out (or multiplies every size
    by --factor), in its own terms, ranked.

    Ranking: plain settings first; marked ones (discards: a crop throws away every contribution of
    an input element; zeros: a constant edge; holes: outputs no input reaches; uneven: a
    checkerboard) last. Then a framework's own settings before a conv-then-slice recipe, kernels
    that overlap (k*d > s), the smallest kernel, symmetric crops, no output_padding.
    """
    named = {"--d": parse.ints(dilation, "--d")}
    if factor is not None:
        if out is not None:
            raise DeconvError("give --factor or --out, not both")
        named["--factor"] = parse.ints(factor, "--factor")
        if n is not None:
            named["--in"] = parse.ints(n, "--in")
    elif n is None or out is None:
        raise DeconvError("pad needs --in and --out, or --factor")
    else:
        named.update({"--in": parse.ints(n, "--in"), "--out": parse.ints(out, "--out")})
    named.update({"--k": parse.ints(kernel_size, "--k")} if kernel_size is not None else {})
    named.update({"--s": parse.ints(stride, "--s")} if stride is not None else {})
    values = parse.per_axis(named)
    layer = emit_channels(emit, in_channels, out_channels, groups)
    from deconv_cli.cli import render
    from deconv_cli.core import pad as core

    names = [name for name in FRAMEWORKS if name in {*(framework or FrameworkName), emit}]
    if "--factor" in values:
        report = core.factor(
            values["--factor"],
            kernel_size=values.get("--k"),
            stride=values.get("--s"),
            dilation=values["--d"],
            frameworks=names,
            max_k=max_k,
        )
    else:
        report = core.pad(
            values["--in"],
            values["--out"],
            kernel_size=values.get("--k"),
            stride=values.get("--s"),
            dilation=values["--d"],
            frameworks=names,
            max_k=max_k,
            max_s=max_s,
        )
    if emit is not None and layer is not None:
        from deconv_cli.cli import emit as code

        if report.factor is not None:  # the best setting for every n, written for the one given
            if "--in" not in values:
                raise DeconvError("--emit with --factor needs --in N: the code is written for one input size")
            best = next((s for s in report.solutions if s.framework == emit.value), None)
            if best is None:
                raise DeconvError(f"no {emit.value} setting gives this factor; see the others without --emit")
            report = core.pad(
                values["--in"],
                [f * size for f, size in zip(report.factor, values["--in"], strict=True)],
                kernel_size=best.k,
                stride=best.s,
                dilation=best.d,
                frameworks=[emit.value],
            )
        render.code(code.for_pad(report, values["--in"], emit.value, layer), sys.stdout, as_json=as_json)
        return
    if (
        report.factor is None
        and kernel_size is None
        and stride is None
        and all(s.marks for s in report.solutions)
    ):
        plain = core.plain_setting(values["--in"], values["--out"], values["--d"], names)
        if plain is not None:
            k, s, out_text = (",".join(map(str, v)) for v in (*plain, values["--out"]))
            sys.stderr.write(f"every setting found is marked; --k {k} --s {s} reaches {out_text} unmarked\n")
    terminal = sys.stdout.isatty()
    shown = limit or None
    if limit is None and terminal and not as_json:
        shown = TERMINAL_LIMIT
        if len(report.solutions) > shown:
            sys.stderr.write(f"{len(report.solutions) - shown} more; --limit 0 shows all\n")
    render.pad(report, sys.stdout, terminal=terminal, as_json=as_json, limit=shown)


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
    if output in (None, stream.STDIO) and stdout is not None and stdout.isatty():
        raise DeconvError("refusing to write .npy bytes to a terminal; redirect stdout or give -o FILE")
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
        stream.Output(svg, None).discard()  # the picture's file can be written: checked before any work
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
        )
        planar = core.planar([a.full for a in axes], 1)
        numbers = core.Values.of(
            report, x.reshape(core.planar(sizes, 1)).tolist(), full.reshape(planar).tolist()
        )
    draw.explain(core.Explanation(report, numbers), sys.stdout, svg=svg)


@app.command()
def overlap(
    kernel_size: Kernel,
    stride: Stride,
    dilation: Dilation = "1",
    as_json: Json = False,
) -> None:
    """Taps per output position over one period: even, or uneven (checkerboard risk), 1-D or 2-D.

    Output position t gets one tap per kernel index j with j*d = t (mod s); uneven counts
    print as a checkerboard. Also names the nearest kernel sizes with even coverage.
    """
    from deconv_cli.cli import draw
    from deconv_cli.core.overlap import overlap as solve_overlap

    values = parse.per_axis(
        {
            "--k": parse.ints(kernel_size, "--k"),
            "--s": parse.ints(stride, "--s"),
            "--d": parse.ints(dilation, "--d"),
        }
    )
    report = solve_overlap(values["--k"], values["--s"], values["--d"])
    draw.overlap(report, sys.stdout, terminal=sys.stdout.isatty(), as_json=as_json)
