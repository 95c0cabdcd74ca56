"""The ``deconv`` app: one-line errors and exit codes, and the options the commands share."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, Any, NoReturn

import typer
from typer._completion_classes import completion_init  # Typer's own; typer.completion re-exports it
from typer.core import TyperGroup
from typer.exceptions import TyperException

from deconv_cli.core import parse
from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.errors import DeconvError, ExitCode

# Each command imports what it needs when it runs: --help and TAB completion load none of it.

TERMINAL_LIMIT = 20
FrameworkName = Enum("FrameworkName", {name: name for name in FRAMEWORKS}, type=str)  # type: ignore[misc]
DEFAULT_FRAMEWORK = FrameworkName("tf")


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"deconv: error: {message}\n")
    sys.exit(code)


class _Group(TyperGroup):
    """Reports every error as one line on stderr with the documented exit code."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands with their whole summary line, wrapped to the terminal, never cut."""
        rows = [
            (name, self.commands[name].get_short_help_str(limit=1000)) for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except DeconvError as error:
            _fail(str(error), error.exit_code)
        except TyperException as error:  # Typer's usage errors: bad option, missing value
            hint = getattr(getattr(error, "ctx", None), "command_path", "deconv")
            _fail(f"{error.format_message()} (see '{hint} --help')", getattr(error, "exit_code", 2))
        except (KeyboardInterrupt, typer.Abort):
            code = ExitCode.INTERRUPTED
        if code == ExitCode.INTERRUPTED:  # Typer turns Ctrl-C into this code
            _fail("interrupted", ExitCode.INTERRUPTED)
        sys.exit(code if isinstance(code, int) else ExitCode.OK)


app = typer.Typer(
    cls=_Group,
    name="deconv",
    pretty_exceptions_enable=False,
    # Click's plain help: paragraphs rewrapped to the terminal, option names never cut, no rich
    rich_markup_mode=None,
    # one way to install completion, `deconv completion SHELL` (cli/completion.py), so Typer's
    # options are off; its completion classes still answer TAB (_DECONV_COMPLETE)
    add_completion=False,
)
completion_init()


def _version(value: bool) -> None:
    if value:
        from deconv_cli import __version__

        print(f"deconv {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _options(
    context: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Calculator and reference executor for transposed convolutions."""  # the app's help
    if context.invoked_subcommand is None:  # a bare `deconv`: the help, as a usage error
        print(context.get_help())
        raise typer.Exit(ExitCode.USAGE)


def _complete_padding(incomplete: str) -> list[str]:
    return [mode for mode in dict.fromkeys(parse.MODES.values()) if mode.startswith(incomplete)]


In = Annotated[str, typer.Option("--in", help="Input spatial size(s), comma list per axis: 16 or 16,24.")]
Kernel = Annotated[str, typer.Option("--k", "--kernel-size", help="Kernel size(s).")]
Stride = Annotated[str, typer.Option("--s", "--stride", help="Stride(s).")]
Dilation = Annotated[str, typer.Option("--d", "--dilation", help="Dilation(s).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
PaddingOption = Annotated[
    str,
    typer.Option(
        "--padding",
        "-p",
        help="valid, same (= SAME_UPPER), same_lower, a crop per axis (1 or 1,2) "
        "or an asymmetric begin:end crop per axis (1:2,0:1).",
        autocompletion=_complete_padding,
    ),
]
OutputPadding = Annotated[str | None, typer.Option("--op", "--output-padding", help="Output padding(s).")]
OutputShape = Annotated[
    str | None,
    typer.Option("--output-shape", help="Requested output size(s), checked against the candidates."),
]
Emit = Annotated[
    FrameworkName | None,
    typer.Option(
        "--emit",
        help="Print code that builds this layer in that framework instead: a function, and the layer "
        "as written in a model (torch.nn, keras.layers, flax.linen, an ONNX node).",
    ),
]
InChannels = Annotated[
    int | None, typer.Option("--in-channels", min=1, help="C_in for --emit's layer; default a placeholder.")
]
OutChannels = Annotated[
    int | None, typer.Option("--out-channels", min=1, help="C_out for --emit's layer; default a placeholder.")
]
EmitGroups = Annotated[int, typer.Option("--groups", "-g", min=1, help="Groups of --emit's layer.")]
FrameworkOption = Annotated[
    FrameworkName, typer.Option("--framework", "-f", help="Whose conventions define the layer.")
]


def main() -> None:
    app(prog_name="deconv")
