"""The interface: the Typer app, its commands, and the rendering of results (tables, drawings, code)."""

from deconv_cli.cli import commands, net  # noqa: F401  (registers the commands on the app)
from deconv_cli.cli.app import app, main

__all__ = ["app", "main"]
