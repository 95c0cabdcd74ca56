"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from deconv_cli import cli

Invoke = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli_run() -> Invoke:
    """Run the app in-process: (exit code, stdout, stderr), failing on any exception but an exit."""
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        # pictures are drawn for a 100-column terminal, whatever runs the tests
        result = runner.invoke(cli.app, list(args), env={"COLUMNS": "100"})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result.exit_code, result.stdout, result.stderr

    return invoke


LOADED = """
import sys
from deconv_cli.cli import main
sys.argv = ["deconv", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
sys.stdout.flush()
print(" ".join(m for m in ("numpy", "rich", "deconv_cli.cli.emit") if m in sys.modules), file=sys.stderr)
"""


@pytest.fixture
def heavy_imports() -> Callable[..., list[str]]:
    """Which of numpy, rich and the code emitter a piped run of ``deconv *args`` imported, in a
    fresh interpreter."""

    def run(*args: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", LOADED, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            check=False,
        )
        # deconv's own exits are caught in the child: anything else is a crash, not "no imports"
        assert result.returncode == 0, result.stderr
        return result.stderr.splitlines()[-1].split()

    return run
