"""``deconv shape`` and ``deconv pad``: a layer's output size and its inverse; parse, call the
core, render, and import the work only when the command runs."""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from deconv_cli.cli.app import (
    TERMINAL_LIMIT,
    Dilation,
    Emit,
    EmitGroups,
    FrameworkName,
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
from deconv_cli.errors import DeconvError

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
    if report.unmarked is not None:
        k, s, out_text = (parse.each(v) for v in (*report.unmarked, values["--out"]))
        sys.stderr.write(f"every setting found is marked; --k {k} --s {s} reaches {out_text} unmarked\n")
    terminal = sys.stdout.isatty()
    shown = limit or None
    if limit is None and terminal and not as_json:
        shown = TERMINAL_LIMIT
        # whether there are more, not how many: counting them would search every kernel and stride
        if report.solutions[shown : shown + 1]:
            sys.stderr.write("more settings follow; --limit 0 shows all\n")
    render.pad(report, sys.stdout, terminal=terminal, as_json=as_json, limit=shown)
