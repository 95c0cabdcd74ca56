"""The ``deconv`` app: one-line errors and exit codes, and the options the commands share.

The command modules do without ``from __future__ import annotations``: Typer reads every
command's signature on every run, and string annotations would be evaluated anew each time
(about 10 ms of a 130 ms start).
"""

import errno
import io
import os
import signal
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
    try:
        sys.stderr.write(f"deconv: error: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or full: the exit code still tells
        pass
    sys.exit(code)


class Signalled(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (so temporary files are removed), then die of it."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class _Closed(io.RawIOBase):
    """Stands for a standard stream that was closed when deconv started (``>&-``):
    not a terminal; reading or writing it fails with one line."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    @property
    def buffer(self) -> "_Closed":
        return self

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    def write(self, data: Any) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    def flush(self) -> None:
        pass


class _Group(TyperGroup):
    """Reports every error as one line on stderr with the documented exit code."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands with their whole summary line, wrapped to the terminal, never cut."""
        rows = [
            (name, self.commands[name].get_short_help_str(limit=1000)) for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _offers(self, args: list[str] | None, option: str) -> bool:
        """Whether the command named in ``args`` (the command line's) has ``option``."""
        words = sys.argv[1:] if args is None else args
        command = self.commands.get(next((word for word in words if not word.startswith("-")), ""))
        return command is not None and any(option in param.opts for param in command.params)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
            sys.stdout.flush()  # here, where a full or closed stdout can still be reported
        except DeconvError as error:
            _fail(str(error), error.exit_code)
        except TyperException as error:  # Typer's usage errors: bad option, missing value
            hint = getattr(getattr(error, "ctx", None), "command_path", "deconv")
            message = " ".join(error.format_message().split())  # Click lists choices on lines of their own
            if not message:  # no arguments: the help was the answer
                sys.exit(getattr(error, "exit_code", 2))
            _fail(f"{message} (see '{hint} --help')", getattr(error, "exit_code", 2))
        except MemoryError:
            lower = "lower --max-memory, or " if self._offers(kwargs.get("args"), "--max-memory") else ""
            _fail(f"out of memory: {lower}free memory for deconv", ExitCode.FAILURE)
        except ValueError:
            if os.environ.get("_DECONV_COMPLETE"):  # TAB with a broken COMP_CWORD: no completions
                sys.exit(ExitCode.FAILURE)
            raise
        except OSError as error:  # writing stdout: full, closed, gone
            _fail(f"cannot write stdout: {error.strerror or error}", ExitCode.FAILURE)
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
    if context.invoked_subcommand is None:  # a bare `deconv`: a usage error, in one line
        commands = ", ".join(context.command.list_commands(context))  # type: ignore[attr-defined]
        raise DeconvError(f"give a command: {commands} (see 'deconv --help')")


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
        help="valid, same (TensorFlow's; = ONNX SAME_UPPER), same_lower, or per axis an int or B:E "
        "(1,2 or 1:2,0:1) in --framework's own meaning: torch and no framework: a crop (PyTorch's "
        "padding; B:E crops B at the start, E at the end); tf: tf.nn's explicit padding (2-D); "
        "onnx: pads; jax: lax.conv_transpose's (lo, hi) zeros added at the edges of the "
        "zero-inserted input.",
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


def _terminate(number: int, _frame: object) -> None:
    raise Signalled(number)


def main() -> None:
    """The command: streams and signals made safe, then the app.

    A closed pipe ends deconv as it ends ``cat`` (SIGPIPE, status 141 in a shell);
    SIGTERM and SIGHUP unwind first, so no temporary file is left, then end it the same way.
    """
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past a file size limit: an error (EFBIG), not death
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _terminate)
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:  # closed at start: hold the descriptor, so no file takes it
            os.open(os.devnull, os.O_RDWR)
            setattr(sys, name, _Closed(name))
        elif isinstance(getattr(sys, name), io.TextIOWrapper) and fd:
            getattr(sys, name).reconfigure(errors="replace")  # PYTHONIOENCODING=ascii: '?' for what it lacks
    try:
        app(prog_name="deconv")
    except Signalled as signalled:
        signal.signal(signalled.number, signal.SIG_DFL)
        os.kill(os.getpid(), signalled.number)
