"""What reading and writing share: ``-`` for the standard streams, which paths are one file,
and the texts of errors."""

from __future__ import annotations

import os

STDIO = "-"


def reason(error: BaseException) -> str:
    """An OSError's text without the errno and path that the message names already."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def human(size: int) -> str:
    """Bytes as a short size with a binary unit.

    >>> human(512), human(3 << 20), human(1536 << 30)
    ('512 B', '3.0 MiB', '1.5 TiB')
    """
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def same_file(first: str, second: str) -> bool:
    """Whether two paths name one existing file (so writing one would clobber the other)."""
    if STDIO in (first, second):
        return False
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
