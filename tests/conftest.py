"""Shared test helpers."""

from __future__ import annotations

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
