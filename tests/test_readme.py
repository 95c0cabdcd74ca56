"""Every command in README.md runs and prints exactly what README says, so the docs cannot drift."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
BOX = "┏┌"


def examples() -> list[tuple[str, str]]:
    """(command, expected output) for each ``$ `` line of the console blocks."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(), flags=re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            found.append((command, output))
    return found


def normalise(text: str) -> str:
    lines = ANSI.sub("", text).replace("\r", "").splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def run_in_terminal(command: str, env: dict[str, str]) -> str:
    controller, terminal = pty.openpty()
    # a 100-column terminal, as the README's tables were drawn
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
    with subprocess.Popen(["bash", "-c", command], stdout=terminal, stderr=terminal, env=env) as process:
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
        process.wait()
    os.close(controller)
    return b"".join(chunks).decode()


def run(command: str, terminal: bool) -> str:
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    if terminal:
        return normalise(run_in_terminal(command, env))
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, check=False)
    return normalise(result.stdout + result.stderr)


@pytest.mark.parametrize(("command", "expected"), examples(), ids=[c for c, _ in examples()])
def test_readme_example_prints_what_readme_says(command, expected):
    terminal = any(mark in expected for mark in BOX)
    assert run(command, terminal) == normalise(expected)


def test_readme_has_examples_of_both_commands():
    commands = " ".join(command for command, _ in examples())
    assert "deconv shape" in commands
    assert "deconv pad" in commands


def update() -> None:
    """Rewrite README's example outputs from real runs: ``python tests/test_readme.py``."""
    text = README.read_text()
    for command, expected in examples():
        fresh = run(command, any(mark in expected for mark in BOX))
        text = text.replace(f"$ {command}\n{expected}", f"$ {command}\n{fresh}\n", 1)
    README.write_text(text)


if __name__ == "__main__":
    update()
