"""``deconv convert``: a weight or data array from one framework's layout to another's."""

import sys
from enum import Enum, StrEnum
from typing import Annotated

import typer

from deconv_cli.cli.app import app
from deconv_cli.core.frameworks import FRAMEWORKS

# the layouts of arrays/convert.py, named here so --help and TAB completion load no numpy
LayoutName = Enum(  # type: ignore[misc]
    "LayoutName", {name: name for name in (*FRAMEWORKS, "jax_transpose_kernel")}, type=str
)


class KindName(StrEnum):
    weight = "weight"
    input = "input"
    output = "output"


OPTIONS = {"source": "--from", "target": "--to", "kind": "--kind", "groups": "--groups", "array": "IN"}


@app.command()
def convert(
    input_path: Annotated[str, typer.Argument(metavar="IN", help="The .npy array, or - for stdin.")],
    source: Annotated[LayoutName, typer.Option("--from", help="The framework whose layout IN is in.")],
    target: Annotated[LayoutName, typer.Option("--to", help="The framework to rearrange it for.")],
    kind: Annotated[
        KindName, typer.Option("--kind", help="A weight, or an input or output batch (data).")
    ] = KindName.weight,
    groups: Annotated[int, typer.Option("--groups", "-g", min=1, help="The layer's groups.")] = 1,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output .npy file; default stdout (not a terminal).")
    ] = None,
) -> None:
    """Rearrange a weight or data array from one framework's layout to another's.

    Weights: torch and onnx (C_in, C_out/groups, *k); tf and keras (*k, C_out/groups, C_in);
    jax (*k, C_in, C_out) spatially flipped, as lax.conv_transpose applies it by default;
    jax_transpose_kernel (*k, C_out, C_in), for transpose_kernel=True. Keras and JAX have no
    groups: with --groups, their weight is the dense block-diagonal one. Data keeps its batch
    axis: (N, C, *spatial) for torch and onnx, (N, *spatial, C) for the others. run in --to on
    the converted arrays gives the converted output of run in --from.
    """
    from deconv_cli.arrays import stream

    with stream.Output(output, sys.stdout.buffer) as destination:  # checked before any work
        arrays = stream.read_all([("IN", kind.value, input_path)], ("--output", output), sys.stdin.buffer)
        from deconv_cli.arrays.convert import rearrange

        result = rearrange(arrays[kind.value], source.value, target.value, kind.value, groups, OPTIONS)
        destination.commit(stream.save(result))
