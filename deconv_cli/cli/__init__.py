"""The interface: the Typer app, its commands, and the rendering of results (tables, drawings, code)."""

# importing the command modules registers their commands on the app
from deconv_cli.cli import commands, completion, convert, net  # noqa: F401
from deconv_cli.cli.app import app, main

__all__ = ["app", "main"]
