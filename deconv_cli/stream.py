"""Reading and writing .npy arrays from files or ``-`` (stdin/stdout), safely.

Pipes are not seekable, so input is read whole and parsed from memory; output is
written in one call to stdout, or to a temporary file renamed over the target, so
an interrupted run never leaves half a file. Untrusted files are loaded with
``allow_pickle=False`` and only real and integer dtypes are accepted.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

STDIO = "-"


def read(path: str, role: str, stdin: BinaryIO) -> npt.NDArray[np.generic]:
    """Load the .npy array ``role`` (input, weight, bias) from ``path`` or ``-``."""
    import numpy as np

    try:
        data = stdin.read() if path == STDIO else Path(path).read_bytes()
    except OSError as error:
        raise DeconvError(f"cannot read {role} {path!r}: {error.strerror}", ExitCode.FAILURE) from None
    where = "stdin" if path == STDIO else repr(path)
    if not data:
        raise DeconvError(f"{role} {where} is empty: expected a .npy array", ExitCode.FAILURE)
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DeconvError(
            f"{role} {where} is not a readable .npy array ({reason})", ExitCode.FAILURE
        ) from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise DeconvError(f"{role} {where} is an .npz archive: give one .npy array", ExitCode.FAILURE)
    if array.dtype.kind not in "fiub":
        raise DeconvError(
            f"{role} {where} has dtype {array.dtype}; only real numbers are supported "
            "(float16/32/64 or integers)",
            ExitCode.FAILURE,
        )
    if array.size == 0:
        raise DeconvError(f"{role} {where} is empty (shape {array.shape})", ExitCode.FAILURE)
    return array


def write(array: npt.NDArray[np.generic], path: str | None, stdout: BinaryIO) -> None:
    """Write ``array`` as .npy to ``path``, or to ``stdout`` when ``path`` is None or ``-``."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    if path is None or path == STDIO:
        stdout.write(buffer.getvalue())
        stdout.flush()
        return
    replace(path, buffer.getvalue())


def replace(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder and rename it over ``path``.

    So a reader never sees half a file, and a failed write leaves ``path`` as it was.
    """
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise DeconvError(f"cannot write {path!r}: {error.strerror}", ExitCode.FAILURE) from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a result is an ordinary file
        os.replace(temporary, target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise DeconvError(f"cannot write {path!r}: {error.strerror}", ExitCode.FAILURE) from None
        raise


def same_file(first: str, second: str) -> bool:
    """Whether two paths name one existing file (so writing one would clobber the other)."""
    if STDIO in (first, second):
        return False
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False
