"""The interface: the Typer app, its commands, and the rendering of results (tables, drawings, code)."""

# importing the command modules registers their commands on the app, in this order: the help's
from deconv_cli.cli import layer, compute, overlap, completion, convert, net  # noqa: F401, I001
from deconv_cli.cli.app import app, main

__all__ = ["app", "main"]
