"""Reading and writing .npy arrays from files or ``-`` (stdin/stdout), safely.

Pipes are not seekable, so stdin is read whole and parsed from memory; files are
parsed as they are read. Output goes to stdout, or to a temporary file renamed over
the target, so an interrupted run never leaves half a file. Untrusted files are
loaded with ``allow_pickle=False`` and only real and integer dtypes are accepted.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

STDIO = "-"
REAL_KINDS = "fiub"  # numpy dtype kinds of real numbers: float, int, uint, bool


def read_all(
    sources: Sequence[tuple[str, str, str | None]], output: tuple[str, str | None], stdin: BinaryIO
) -> dict[str, npt.NDArray[np.generic]]:
    """Load every (option, role, path) given, keyed by role, after refusing what
    would lose data: two of them on stdin, or ``output`` = (option, path) naming
    one of them."""
    given = [(option, role, path) for option, role, path in sources if path is not None]
    on_stdin = [option for option, _, path in given if path == STDIO]
    if len(on_stdin) > 1:
        names = [option for option, _, _ in given]
        listed = f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 2 else " and ".join(names)
        raise DeconvError(f"only one of {listed} can read stdin (-)")
    target_option, target = output
    for _, role, path in given:
        if target is not None and same_file(target, path):
            raise DeconvError(f"{target_option} {target!r} is the {role} file; write the result elsewhere")
    return {role: read(path, role, stdin) for _, role, path in given}


def read(path: str, role: str, stdin: BinaryIO) -> npt.NDArray[np.generic]:
    """Load the .npy array ``role`` (input, weight, bias) from ``path`` or ``-``."""
    import numpy as np

    where = "stdin" if path == STDIO else repr(path)
    try:
        source = io.BytesIO(stdin.read()) if path == STDIO else open(path, "rb")  # noqa: SIM115
    except OSError as error:
        raise DeconvError(f"cannot read {role} {path!r}: {error.strerror}", ExitCode.FAILURE) from None
    with source:
        if not source.read(1):
            raise DeconvError(f"{role} {where} is empty: expected a .npy array", ExitCode.FAILURE)
        source.seek(0)
        try:
            array = np.load(source, allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise DeconvError(
                f"{role} {where} is not a readable .npy array ({reason})", ExitCode.FAILURE
            ) from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise DeconvError(f"{role} {where} is an .npz archive: give one .npy array", ExitCode.FAILURE)
    if array.dtype.kind not in REAL_KINDS:
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

    def save(file: BinaryIO) -> None:
        np.save(file, array, allow_pickle=False)

    if path is None or path == STDIO:
        save(stdout)
        stdout.flush()
        return
    replace(path, save)


def replace(path: str, data: bytes | Callable[[BinaryIO], None]) -> None:
    """Write ``data`` (bytes, or a function that writes to a file) to a temporary
    file in the same folder and rename it over ``path``.

    So a reader never sees half a file, and a failed write leaves ``path`` as it was.
    """
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise DeconvError(f"cannot write {path!r}: {error.strerror}", ExitCode.FAILURE) from None
    try:
        with os.fdopen(handle, "wb") as file:
            if isinstance(data, bytes):
                file.write(data)
            else:
                data(file)
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
