"""deconv: calculator and reference executor for transposed convolutions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["conv_transpose", "convert", "release"]

if TYPE_CHECKING:
    from deconv_cli.arrays.convert import convert
    from deconv_cli.arrays.engine.buffers import release
    from deconv_cli.arrays.execute import conv_transpose


def __getattr__(name: str) -> Any:
    # numpy loads only when the array API is used, never for shape, pad or --help
    if name == "conv_transpose":
        from deconv_cli.arrays.execute import conv_transpose

        return conv_transpose
    if name == "convert":
        from deconv_cli.arrays.convert import convert

        return convert
    if name == "release":
        from deconv_cli.arrays.engine.buffers import release

        return release
    raise AttributeError(f"module 'deconv_cli' has no attribute {name!r}")
