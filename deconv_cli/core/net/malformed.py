"""The last line of defence of the model readers: what a malformed file makes reading code raise,
as one line, told apart from a bug in deconv's own arithmetic (which must stay a traceback)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from deconv_cli.errors import DeconvError, ExitCode

# what a malformed structure makes the reading code raise (RecursionError is a RuntimeError,
# UnicodeDecodeError a ValueError)
MALFORMED = (AttributeError, IndexError, KeyError, TypeError, ValueError, RuntimeError, OverflowError)
T = TypeVar("T")


def _while_reading(error: BaseException, readers: tuple[str, ...]) -> bool:
    """Whether ``error`` came from the ``readers`` modules or the libraries they call (json,
    zipfile, onnx) rather than from deconv's layer arithmetic, which gets checked values."""
    frame = error.__traceback__
    while frame is not None:
        module = frame.tb_frame.f_globals.get("__name__", "")
        if module.startswith("deconv_cli.") and module not in (*readers, __name__):
            return False
        frame = frame.tb_next
    return True


def read(what: str, readers: tuple[str, ...], reading: Callable[[], T]) -> T:
    """``reading()``, a structure its checks did not foresee refused as "not a readable {what}"."""
    try:
        return reading()
    except MALFORMED as error:
        if not _while_reading(error, readers):
            raise
        message = str(error).splitlines()[0][:200] if str(error) else ""
        raise DeconvError(
            f"not a readable {what}: {type(error).__name__}: {message}", ExitCode.FAILURE
        ) from None
