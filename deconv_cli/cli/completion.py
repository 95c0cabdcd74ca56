"""``deconv completion SHELL``: the shell completion script, from the installed app itself."""

from __future__ import annotations

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
    """Print the shell completion script; README's "Shell completion" says where to save it.

    It completes commands, options, --framework and --padding. bash: deconv completion bash
    > ~/.local/share/bash-completion/completions/deconv.
    """
    print(script(shell.value), end="")
