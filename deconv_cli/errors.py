"""The one error type of deconv and the exit codes the CLI promises."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes: a contract with scripts, each one tested."""

    OK = 0
    FAILURE = 1  # runtime failure: no solution, unreadable file, I/O
    USAGE = 2  # bad usage or parameters a framework rejects
    INTERRUPTED = 130


class DeconvError(Exception):
    """A problem with the user's request, worded as one line for the terminal.

    ``exit_code`` says whether it is a usage error (2) or a runtime failure (1).
    """

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
