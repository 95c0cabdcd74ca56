"""Writing .npy arrays to files or ``-`` (stdout) without ever destroying what they replace.

A regular file (or a symlink's target) is replaced by renaming a temporary file over it,
keeping its permissions, so an interrupted or failed run leaves it as it was; FIFOs,
devices and ``-`` are written in place, but binary data never to a terminal. ``Output``
does every check, and creates the temporary file, before any work.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from deconv_cli.arrays.stream.common import STDIO, reason
from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    import numpy.typing as npt

TERMINAL = "refusing to write .npy bytes to a terminal; redirect stdout or give -o FILE"


class Output:
    """Where a result goes, checked (and its temporary file created) before any work.

    stdout (``-`` or None); a FIFO, device or other special file, written in place; or
    a regular file (absent, or a symlink's target), written to a temporary file in the
    same folder that replaces it on ``commit`` with the old file's permissions.
    ``discard`` (also on any exception inside ``with``) removes the temporary file.
    ``binary`` data (.npy) is refused a terminal, whether stdout or a device named.
    """

    def __init__(self, path: str | None, stdout: BinaryIO | None, *, binary: bool = True) -> None:
        self.path, self.stdout = path, stdout
        self.target: Path | None = None
        self.temporary: str | None = None
        self.handle: int | None = None
        if path is None or path == STDIO:
            if binary and stdout is not None and stdout.isatty():
                raise DeconvError(TERMINAL)
            return
        if not path:
            raise DeconvError("cannot write '': the file name is empty", ExitCode.FAILURE)
        try:
            info: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as error:
            self.target = Path(path)
            raise self._failure(error) from None
        # a regular file behind symlinks is replaced, so the links survive; a special file
        # (a FIFO, a device, a shell's /dev/fd/N) is written in place, through its own name
        regular = info is None or stat.S_ISREG(info.st_mode)
        self.target = Path(os.path.realpath(path) if regular else path)
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise DeconvError(f"cannot write {path!r}: it is a directory", ExitCode.FAILURE)
        if info is None and path.endswith(os.sep):  # as the shell refuses it, not a file by its stem
            raise DeconvError(f"cannot write {path!r}: a name ending in / is a directory", ExitCode.FAILURE)
        if info is not None and not stat.S_ISREG(info.st_mode):
            if not os.access(self.target, os.W_OK):
                raise DeconvError(f"cannot write {path!r}: Permission denied", ExitCode.FAILURE)
            if binary and stat.S_ISCHR(info.st_mode) and _terminal(path):  # /dev/tty, /dev/stdout
                raise DeconvError(f"refusing to write .npy bytes to a terminal ({path}); give -o FILE")
            return  # written in place at commit
        if info is not None and not os.access(self.target, os.W_OK):
            raise DeconvError(f"cannot write {path!r}: Permission denied (it is read-only)", ExitCode.FAILURE)
        mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
        import tempfile  # here: overlap and explain load this module, and rarely write

        try:
            # a short fixed name: a target near NAME_MAX must not make it too long
            self.handle, self.temporary = tempfile.mkstemp(
                prefix=".deconv.", suffix=".tmp", dir=self.target.parent
            )
            os.fchmod(self.handle, mode)
        except OSError as error:
            self.discard()
            raise self._failure(error) from None

    def __enter__(self) -> Output:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self.discard()

    def _failure(self, error: BaseException) -> DeconvError:
        where = "stdout" if self.target is None else repr(self.path)
        return DeconvError(f"cannot write {where}: {reason(error)}", ExitCode.FAILURE)

    def commit(self, data: bytes | Callable[[BinaryIO], None]) -> None:
        """Write ``data`` (bytes, or a function that writes to a file) to the destination."""

        def put(file: BinaryIO) -> None:
            if isinstance(data, bytes):
                file.write(data)
            else:
                data(file)
            file.flush()

        try:
            if self.target is None:
                if self.stdout is None:
                    raise OSError(0, "stdout is closed")
                put(_Sequential(self.stdout))  # type: ignore[arg-type]
            elif self.handle is None:
                with open(self.target, "wb") as special:  # FIFO or device: in place
                    put(_Sequential(special))  # type: ignore[arg-type]
            else:
                with os.fdopen(self.handle, "wb") as file:
                    self.handle = None
                    put(_Sequential(file))  # type: ignore[arg-type]
                assert self.temporary is not None
                os.replace(self.temporary, self.target)
                self.temporary = None
        except OSError as error:
            self.discard()
            raise self._failure(error) from None
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Remove the temporary file, if any: the destination stays as it was."""
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None
        if self.temporary is not None:
            Path(self.temporary).unlink(missing_ok=True)
            self.temporary = None


class _Sequential:
    """A file seen only through ``write``: numpy then writes in chunks instead of asking
    for a file position (which pipes, FIFOs and devices do not have), and a failed write
    says why (``File too large``, ``No space left on device``)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def write(self, data: bytes) -> int:
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def _terminal(path: str) -> bool:
    """Whether the character device ``path`` is a terminal (opened without waiting, and
    without becoming the process's controlling terminal)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False  # the write reports why
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def save(array: npt.NDArray[Any]) -> Callable[[BinaryIO], None]:
    """The writer of ``array`` as .npy (never pickled)."""
    import numpy as np

    def write(file: BinaryIO) -> None:
        np.save(file, array, allow_pickle=False)

    return write


def replace(path: str, data: bytes) -> None:
    """Write the text ``data`` to ``path`` as ``Output`` does: whole, or not at all."""
    with Output(path, None, binary=False) as output:
        output.commit(data)
