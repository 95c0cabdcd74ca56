"""``deconv completion SHELL``: the shell completion script, from the installed app itself."""

from enum import StrEnum
from typing import Annotated

import typer
from typer._completion_shared import get_completion_script  # what _DECONV_COMPLETE=source_* prints

from deconv_cli.cli.app import app


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def script(shell: str) -> str:
    """The completion script for ``shell``, fit to be saved as a file the shell loads."""
    text = get_completion_script(prog_name="deconv", complete_var="_DECONV_COMPLETE", shell=shell) + "\n"
    if shell == "zsh":
        # an autoloaded file's body runs on the first TAB: calling the completer there makes
        # the first TAB complete, not only the second
        text += '\n_deconv_completion "$@"\n'
    return text


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the shell completion script for bash, zsh or fish, to save where the shell loads it.

    It completes commands, options, --framework and --padding. For example, in fish: mkdir -p
    ~/.config/fish/completions && deconv completion fish > ~/.config/fish/completions/deconv.fish
    (README's "Shell completion" gives the lines for bash and zsh).
    """
    print(script(shell.value), end="")
