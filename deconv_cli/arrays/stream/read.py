"""Reading .npy arrays from files or ``-`` (stdin), safely.

The .npy header is parsed first; the dtype and the declared size are checked (against the
file's size and a memory limit); then exactly that many bytes are read into the array:
pipes, FIFOs and ``/dev/stdin`` work, nothing is read beyond what the header declares,
and no pickle is ever loaded.
"""

from __future__ import annotations

import math
import os
import stat
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from deconv_cli.arrays.stream.common import STDIO, human, reason, same_file
from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

REAL_KINDS = "fiub"  # numpy dtype kinds of real numbers: float, int, uint, bool
MAGIC = b"\x93NUMPY"
MAX_HEADER = 100_000  # numpy writes a few hundred bytes; its own reader stops at 10000
CHUNK = 1 << 24  # bytes per read, so a short pipe read never costs a copy of the array


def check_dtype(dtype: np.dtype[Any], what: str) -> None:
    """Real numbers only, and no wider than float64 (numpy's longdouble has no BLAS)."""
    if dtype.kind not in REAL_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise DeconvError(
            f"{what} has dtype {dtype}; only real numbers are supported (float16/32/64 or integers)",
            ExitCode.FAILURE,
        )
    if dtype.kind == "f" and dtype.itemsize > 8:
        raise DeconvError(
            f"{what} has dtype {dtype} (longdouble): only float16/32/64 are computed exactly; "
            "convert it to float64",
            ExitCode.FAILURE,
        )


@dataclass
class Pending:
    """A .npy array whose header has been read and checked, its data not yet."""

    role: str
    where: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran: bool
    file: BinaryIO
    owned: bool  # opened here, so closed here

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def load(self) -> npt.NDArray[Any]:
        """Read exactly the declared bytes into a new array; fewer is "truncated"."""
        import numpy as np

        try:
            array = np.empty(self.shape, self.dtype, order="F" if self.fortran else "C")
            view = array.reshape(-1, order="A").view(np.uint8).data
            done = 0
            while done < len(view):
                got = self.file.readinto(view[done : done + CHUNK])  # type: ignore[attr-defined]
                if not got:
                    raise DeconvError(
                        f"{self.role} {self.where} is truncated: its header declares {self.nbytes} bytes "
                        f"of data, it holds {done}",
                        ExitCode.FAILURE,
                    )
                done += got
        except OSError as error:
            raise DeconvError(
                f"cannot read {self.role} {self.where}: {reason(error)}", ExitCode.FAILURE
            ) from None
        finally:
            self.close()
        return array

    def close(self) -> None:
        if self.owned:
            self.file.close()


def _stat(file: BinaryIO) -> os.stat_result | None:
    try:
        return os.fstat(file.fileno())
    except (OSError, ValueError):  # an in-memory stream has no descriptor
        return None


def _exactly(file: BinaryIO, count: int) -> bytes:
    """Up to ``count`` bytes: pipes may return fewer per read."""
    parts, left = [], count
    while left:
        part = file.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def open_npy(path: str, role: str, stdin: BinaryIO | None, limit: int | None = None) -> Pending:
    """Open the .npy array ``role`` at ``path`` (``-``: stdin) and check its header.

    ``limit`` bounds the bytes its data may take (the memory budget).
    """
    where = "stdin" if path == STDIO else repr(path)
    try:
        if path == STDIO:
            if stdin is None:
                raise OSError(0, "stdin is closed")
            file, owned = stdin, False
        else:
            file, owned = open(path, "rb"), True  # noqa: SIM115 - closed by Pending
    except OSError as error:
        raise DeconvError(f"cannot read {role} {path!r}: {reason(error)}", ExitCode.FAILURE) from None
    try:
        shape, dtype, fortran = _header(file, f"{role} {where}")
        pending = Pending(role, where, shape, dtype, fortran, file, owned)
        check_dtype(dtype, f"{role} {where}")
        if pending.nbytes == 0:
            raise DeconvError(f"{role} {where} is empty (shape {shape})", ExitCode.FAILURE)
        if limit is not None and pending.nbytes > limit:
            raise DeconvError(
                f"{role} {where} declares shape {shape} {dtype} = {human(pending.nbytes)}, "
                f"more than --max-memory {human(limit)}; raise --max-memory",
                ExitCode.FAILURE,
            )
        info = _stat(file)
        if info is not None and stat.S_ISREG(info.st_mode) and file.tell() + pending.nbytes > info.st_size:
            raise DeconvError(
                f"{role} {where} is truncated: its header declares {pending.nbytes} bytes of data, "
                f"it holds {info.st_size - file.tell()}",
                ExitCode.FAILURE,
            )
    except OSError as error:
        if owned:
            file.close()
        raise DeconvError(f"cannot read {role} {where}: {reason(error)}", ExitCode.FAILURE) from None
    except BaseException:
        if owned:
            file.close()
        raise
    return pending


def _header(file: BinaryIO, what: str) -> tuple[tuple[int, ...], np.dtype[Any], bool]:
    """(shape, dtype, fortran order) from a .npy header, or a one-line reason it is not one."""
    import ast  # here: overlap and explain load this module, and read no header

    import numpy as np

    start = _exactly(file, 8)
    if not start:
        raise DeconvError(f"{what} is empty: expected a .npy array", ExitCode.FAILURE)
    if start.startswith(b"PK\x03\x04"):
        raise DeconvError(f"{what} is an .npz archive: give one .npy array", ExitCode.FAILURE)
    if not start.startswith(MAGIC):
        raise DeconvError(
            f"{what} is not a .npy file (it does not start with numpy's .npy signature)", ExitCode.FAILURE
        )
    if len(start) < 8 or start[6] not in (1, 2, 3) or start[7] != 0:
        version = ".".join(map(str, start[6:8])) or "missing"
        raise DeconvError(
            f"{what} has .npy format version {version}; only 1.0, 2.0 and 3.0 exist", ExitCode.FAILURE
        )
    major = start[6]
    size_bytes = _exactly(file, 2 if major == 1 else 4)
    if len(size_bytes) < (2 if major == 1 else 4):
        raise DeconvError(f"{what} is truncated inside its .npy header", ExitCode.FAILURE)
    length = struct.unpack("<H" if major == 1 else "<I", size_bytes)[0]
    if length > MAX_HEADER:
        raise DeconvError(
            f"{what} has a .npy header of {length} bytes (limit {MAX_HEADER})", ExitCode.FAILURE
        )
    raw = _exactly(file, length)
    if len(raw) < length:
        raise DeconvError(f"{what} is truncated inside its .npy header", ExitCode.FAILURE)
    broken = DeconvError(f"{what} has a broken .npy header", ExitCode.FAILURE)
    try:
        header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin-1"))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        raise broken from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise broken
    shape, fortran = header["shape"], header["fortran_order"]
    if (
        not isinstance(shape, tuple)
        or not all(type(n) is int and n >= 0 for n in shape)
        or len(shape) > 32
        or not isinstance(fortran, bool)
    ):
        raise broken
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, TypeError, KeyError, SyntaxError):
        raise broken from None
    if dtype.hasobject:
        raise DeconvError(
            f"{what} holds Python objects (dtype {dtype}); only real numbers are supported", ExitCode.FAILURE
        )
    return shape, dtype, fortran


class Opened(dict[str, Pending]):
    """The arrays ``open_all`` opened, keyed by role; ``with`` closes them all."""

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        for pending in self.values():
            pending.close()


def open_all(
    sources: Sequence[tuple[str, str, str | None]],
    output: tuple[str, str | None],
    stdin: BinaryIO | None,
    limit: int | None = None,
) -> Opened:
    """Open every (option, role, path) given, keyed by role, after refusing what would
    lose data: two of them on stdin, or ``output`` = (option, path) naming one of them.

    ``limit`` bounds the data of all of them together.
    """
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
    opened = Opened()
    try:
        for _, role, path in given:
            left = None if limit is None else limit - sum(p.nbytes for p in opened.values())
            opened[role] = open_npy(path, role, stdin, left)
    except BaseException:
        opened.__exit__(None, None, None)
        raise
    return opened


def read_all(
    sources: Sequence[tuple[str, str, str | None]],
    output: tuple[str, str | None],
    stdin: BinaryIO | None,
    limit: int | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """``open_all``, then every array loaded."""
    with open_all(sources, output, stdin, limit) as opened:
        return {role: pending.load() for role, pending in opened.items()}


def read(path: str, role: str, stdin: BinaryIO | None) -> npt.NDArray[Any]:
    """Load the .npy array ``role`` (input, weight, bias) from ``path`` or ``-``."""
    return open_npy(path, role, stdin).load()
