"""``deconv net``: which input sizes a whole network accepts, where its joins break, the fixes."""

import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, BinaryIO, TextIO, TypeVar

import typer

from deconv_cli.cli.app import FrameworkName, Json, app
from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    from deconv_cli.core.net.fix import Break
    from deconv_cli.core.net.graph import Network
    from deconv_cli.core.net.mirror import Mirror
    from deconv_cli.core.net.sizes import Evaluation
    from deconv_cli.core.net.valid import Valid

T = TypeVar("T")
# the most sizes ``--in A..B`` lists per axis
RANGE_LIMIT = 1000
_RANGE = re.compile(r"(\d{1,9})\.\.(\d{1,9})")


@app.command()
def net(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="deconv's network text, Keras JSON / .keras, .onnx, or -.")
    ],
    sizes: Annotated[
        str | None,
        typer.Option(
            "--in",
            help="Input size(s) to check: 572 or 572,380; a range 256..1024 lists the valid sizes in it.",
        ),
    ] = None,
    framework: Annotated[
        FrameworkName | None,
        typer.Option(
            "--framework", "-f", help="Conventions of deconv's text format (default: its own line, or tf)."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Every input size a network accepts, or its sizes at one input: joins, breaks and fixes.

    Without --in: per axis the exact set of sizes that build and match at every join (exit 1
    when there is none), and for each conv_transpose meeting a skip the output_padding that
    mirrors it. With --in: every layer's size, exit 1 when a join breaks or a layer refuses its
    input, with the layer that caused it and the fixes.
    """
    network = read(source, framework.value if framework else None, _rank(sizes))
    out = sys.stdout
    if sizes is None:
        from deconv_cli.core.net import mirror, solve

        valid = tuple(solve.valid(network, axis) for axis in range(network.rank))
        mirrors = tuple(m for axis in range(network.rank) for m in mirror.mirrors(network, axis))
        render_valid(network, valid, mirrors, out, as_json=as_json)
        if any(not values.residues and not values.also for values in valid):
            raise typer.Exit(ExitCode.FAILURE)  # no input size builds it: a CI check fails
        return
    ranges = [_RANGE.fullmatch(item.strip()) for item in sizes.split(",")]
    if any(ranges):
        if not all(ranges):
            raise DeconvError(f"--in takes sizes or ranges A..B, not both (got {sizes!r})")
        bounds = [(int(r[1]), int(r[2])) for r in ranges if r]
        from deconv_cli.core.net import solve

        valid = tuple(solve.valid(network, axis) for axis in range(network.rank))
        render_range(network, valid, _spread(bounds, network.rank), out, as_json=as_json)
        return
    from deconv_cli.core import parse
    from deconv_cli.core.net.sizes import evaluate

    evaluation = evaluate(network, _spread(list(parse.ints(sizes, "--in")), network.rank))
    found: tuple[Break, ...] = ()
    if not evaluation.ok:  # the fixes are searched only for a break
        from deconv_cli.core.net import fix

        found = fix.breaks(network, evaluation)
    render_sizes(network, evaluation, found, out, terminal=out.isatty(), as_json=as_json)
    if not evaluation.ok:
        raise typer.Exit(ExitCode.FAILURE)


def _rank(sizes: str | None) -> int | None:
    return None if sizes is None else sizes.count(",") + 1


def _spread(values: Sequence[T], rank: int) -> tuple[T, ...]:
    if len(values) == 1:
        return tuple(values) * rank
    if len(values) != rank:
        raise DeconvError(f"--in has {len(values)} sizes but the network has {rank} spatial axes")
    return tuple(values)


# network text and Keras JSON are kilobytes; a binary model (a .keras zip with its weights, ONNX,
# whose protobuf holds at most 2 GiB) may be large, but nothing is read past these
TEXT_LIMIT = 64 << 20
MODEL_LIMIT = 2 << 30
# a JSON object starts with a key or closes at once; network text may start with {i} in a repeat
_JSON = re.compile(rb"\s*\{\s*[\"}]")


def read(source: str, framework: str | None, rank: int | None) -> "Network":
    """The network in ``source`` (a path or ``-``), whatever its format."""
    from deconv_cli.core.net import text

    name = "stdin" if source == "-" else source
    try:
        if source == "-":
            data = _bounded(sys.stdin.buffer, source, name)
        else:
            with open(source, "rb") as handle:
                data = _bounded(handle, source, name)
    except OSError as error:
        raise DeconvError(f"cannot read {name}: {error.strerror or error}", ExitCode.FAILURE) from None
    if data[:2] == b"PK" or _JSON.match(data):  # a .keras zip, or model.to_json()
        from deconv_cli.core.net import keras

        return _model(keras.network(data), framework, "a Keras model")
    if _onnx(data, source):
        from deconv_cli.core.net import onnx

        return _model(onnx.network(data), framework, "an ONNX model")
    try:
        return text.read(data.decode("utf-8"), framework, rank)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DeconvError(
            f"{name} is neither deconv's network text (byte 0x{data[error.start]:02x} on line {line} is not "
            "UTF-8), Keras JSON, a .keras file nor ONNX",
            ExitCode.FAILURE,
        ) from None


def _onnx(data: bytes, source: str) -> bool:
    return source.endswith(".onnx") or data[:1] == b"\x08"  # ModelProto's first field, ir_version


def _bounded(handle: BinaryIO, source: str, name: str) -> bytes:
    """All of ``handle`` (a file, stdin, /dev/zero), read no further than its format's limit."""
    data = handle.read(TEXT_LIMIT + 1)
    if len(data) <= TEXT_LIMIT:
        return data
    if data[:2] != b"PK" and not _onnx(data, source):
        raise DeconvError(
            f"{name} holds more than {TEXT_LIMIT >> 20} MiB: too large for network text or Keras JSON, "
            "and not a .keras file or an ONNX model",
            ExitCode.FAILURE,
        )
    data += handle.read(MODEL_LIMIT + 1 - len(data))
    if len(data) > MODEL_LIMIT:
        raise DeconvError(
            f"{name} holds more than {MODEL_LIMIT >> 30} GiB, more than a model file holds", ExitCode.FAILURE
        )
    return data


def _model(network: "Network", framework: str | None, what: str) -> "Network":
    if framework is not None:
        sys.stderr.write(f"note: --framework applies to deconv's network text; {what} keeps its own\n")
    return network


# ---- rendering ----------------------------------------------------------------------------


def _size(values: tuple[int | None, ...]) -> str:
    return " x ".join("-" if v is None else str(v) for v in values)


def _rows(network: "Network", evaluation: "Evaluation") -> list[tuple[str, str, str, str]]:
    """(layer, op, size, note) per layer; a join shows its inputs' sizes."""
    joins = {join.name: join for join in evaluation.joins}
    rows = []
    for layer in evaluation.layers:
        join = joins.get(layer.name)
        if join is not None:
            size = " | ".join(_size(s) for s in join.sizes)
            known = all(None not in s for s in join.sizes)
            note = "ok" if join.match else "mismatch: " + ", ".join(join.inputs) if known else ""
        else:
            size = _size(layer.sizes)
            note = "refuses its input" if layer.refused else ""
        rows.append((layer.name, layer.op, size, note))
    return rows


def render_sizes(
    network: "Network",
    evaluation: "Evaluation",
    found: "tuple[Break, ...]",
    out: TextIO,
    *,
    terminal: bool,
    as_json: bool,
) -> None:
    from deconv_cli.cli import render

    if as_json:
        render.to_json(
            {
                "in": list(evaluation.size),
                "ok": evaluation.ok,
                "layers": [asdict(layer) for layer in evaluation.layers],
                "joins": [asdict(join) for join in evaluation.joins],
                "breaks": [asdict(item) for item in found],
            },
            out,
        )
        return
    from deconv_cli.core.net.valid import AXIS_NAMES

    header = ("layer", "op", " x ".join(AXIS_NAMES[network.rank]), "")
    rows = _rows(network, evaluation)
    if terminal:
        from rich.table import Table

        table = Table()
        table.add_column("layer", overflow="fold", min_width=5)
        table.add_column("op", no_wrap=True)
        table.add_column(header[2], no_wrap=True)  # the answer: never cut
        table.add_column("note", overflow="fold", min_width=4)
        for name, op, size, note in rows:
            # a join's inputs one per line, so the sizes keep their width at any terminal width
            style = "red" if note and note != "ok" else None
            table.add_row(name, op, size.replace(" | ", "\n"), note, style=style)
        render.console(out).print(table)
    else:
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
        for row in [header, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            out.write(("  ".join(cells) + ("  " + row[3] if row[3] else "")).rstrip() + "\n")
    size = _size(evaluation.size)
    if evaluation.ok:
        out.write(f"ok: {size} builds and every join matches\n")
    for item in found:
        out.write(f"break: {item.problem}\n")
        if item.cause and item.cause != item.at:
            out.write(f"  caused by {item.cause}\n")
        for line in item.because:
            out.write(f"  because {line}\n")
        for line in item.fixes:
            out.write(f"  fix: {line}\n")


def render_valid(
    network: "Network",
    valid: "tuple[Valid, ...]",
    mirrors: "tuple[Mirror, ...]",
    out: TextIO,
    *,
    as_json: bool,
) -> None:
    from deconv_cli.core.net.valid import AXIS_NAMES, sentence

    names = AXIS_NAMES[network.rank]
    if as_json:
        from deconv_cli.cli import render

        render.to_json(
            {
                "layers": [
                    {"name": n.name, "op": n.kind, "inputs": list(n.inputs), "params": dict(n.params)}
                    for n in network.nodes
                ],
                "joins": [
                    {"name": n.name, "op": n.kind, "inputs": list(n.inputs)}
                    for n in network.nodes
                    if n.kind in ("concat", "add")
                ],
                "valid": [v.json() for v in valid],
                "mirror": [asdict(m) for m in mirrors],
            },
            out,
        )
        return
    for name, values in zip(names, valid, strict=True):
        out.write(sentence(values, name) + "\n")
    for mirror in mirrors:
        axis = f" ({names[mirror.axis]})" if network.rank > 1 else ""
        out.write(f"mirror {mirror.layer} -> {mirror.join}{axis}: {mirror.advice}\n")


def render_range(
    network: "Network",
    valid: "tuple[Valid, ...]",
    bounds: tuple[tuple[int, int], ...],
    out: TextIO,
    *,
    as_json: bool,
) -> None:
    from deconv_cli.core.net.valid import AXIS_NAMES

    names = AXIS_NAMES[network.rank]
    lists = []
    cut = []
    for name, (low, high), values in zip(names, bounds, valid, strict=True):
        if low > high:
            raise DeconvError(f"--in range must go up, like 256..1024 (got {low}..{high})")
        found = values.within(low, high, RANGE_LIMIT + 1)
        if len(found) > RANGE_LIMIT:
            cut.append(name)
        lists.append(found[:RANGE_LIMIT])
    if cut:
        where = f" of {', '.join(cut)}" if network.rank > 1 else ""
        sys.stderr.write(f"showing the first {RANGE_LIMIT} sizes{where}; narrow the range for more\n")
    if as_json:
        from deconv_cli.cli import render

        render.to_json({"valid": [v.json() for v in valid], "sizes": lists}, out)
        return
    for name, found in zip(names, lists, strict=True):
        if network.rank == 1:
            out.write("".join(f"{n}\n" for n in found))
        else:
            out.write(f"{name}: {' '.join(map(str, found)) or 'none'}\n")
