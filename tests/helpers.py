"""What several test modules share: the installed command, a pseudo-terminal, .npy bytes, the
golden modules and README's example files.

pytest puts this folder on ``sys.path`` (``pythonpath`` in pyproject.toml), so a test module
imports it as ``helpers``.
"""

from __future__ import annotations

import fcntl
import importlib.util
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

DECONV = str(Path(sys.executable).with_name("deconv"))
GOLDEN = Path(__file__).resolve().parent / "golden"
README = GOLDEN.parent.parent / "README.md"
# the files a reader would save from README (```text file=NAME blocks), by name
README_FILES = dict(re.findall(r"```text file=(\S+)\n(.*?)```", README.read_text(), flags=re.S))


def deconv(*args: str, **options: Any) -> subprocess.CompletedProcess[bytes]:
    """``deconv *args`` as a process, ``options`` as ``subprocess.run``'s: its output captured
    unless they route it, and an empty stdin unless they give ``input`` or ``stdin``."""
    if "stdout" not in options and "stderr" not in options:
        options["capture_output"] = True
    if "input" not in options and "stdin" not in options:
        options["stdin"] = subprocess.DEVNULL
    return subprocess.run([DECONV, *args], check=False, **options)  # type: ignore[no-any-return]


def plain(shown: str) -> str:
    """What a terminal shows of ``shown``: its colours and carriage returns removed."""
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown).replace("\r", "")


def on_terminal(
    command: list[str], *, columns: int = 100, stderr_too: bool = True, **options: Any
) -> tuple[int, str, bytes]:
    """(exit code, what ``command`` wrote to a pseudo-terminal ``columns`` wide, its stderr
    when that did not go to the terminal too); ``options`` as ``subprocess.Popen``'s."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    stderr = terminal if stderr_too else subprocess.PIPE
    with subprocess.Popen(command, stdout=terminal, stderr=stderr, **options) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closes when the command ends
                break
            if not chunk:
                break
            chunks.append(chunk)
        errors = b"" if process.stderr is None else process.stderr.read()
        process.wait()
    os.close(controller)
    return process.returncode, b"".join(chunks).decode(), errors


def npy(array: np.ndarray) -> bytes:
    """The .npy file of ``array``, as bytes."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def pickled() -> bytes:
    """A .npy file that holds Python objects: loading it would unpickle."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def load(path: Path) -> ModuleType:
    """The module at ``path`` (a golden generator or a benchmark), loaded once under its stem."""
    name = path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
