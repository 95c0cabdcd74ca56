"""Every command in README.md runs and prints exactly what README says, so the docs cannot drift."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import README, README_FILES, on_terminal, plain

BOX = "┏┌"


def blocks() -> list[list[tuple[str, str]]]:
    """Each console block as its (command, expected output) pairs, in order."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", README.read_text(), flags=re.S):
        pairs = []
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, output = chunk.partition("\n")
            pairs.append((command, output))
        found.append(pairs)
    return found


def normalise(text: str) -> str:
    lines = plain(text).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def run(command: str, expected: str, cwd: Path) -> str:
    """The command's output, on a terminal when README shows a table."""
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    if any(mark in expected for mark in BOX):
        # a 100-column terminal, as the README's tables were drawn
        return normalise(on_terminal(["bash", "-c", command], columns=100, env=env, cwd=cwd)[1])
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, check=False, cwd=cwd
    )
    return normalise(result.stdout + result.stderr)


@pytest.mark.parametrize("block", blocks(), ids=[pairs[0][0] for pairs in blocks()])
def test_readme_examples_print_what_readme_says(block, tmp_path):
    # a block's commands run in order in one fresh folder, as a reader would type them
    for name, content in README_FILES.items():
        (tmp_path / name).write_text(content)
    for command, expected in block:
        assert run(command, expected, tmp_path) == normalise(expected), command


@pytest.mark.parametrize("code", re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S))
def test_readme_python_examples_run_and_their_asserts_hold(code):
    exec(compile(code, "README.md", "exec"), {})


def test_every_command_has_help_and_a_readme_example():
    from deconv_cli.cli import app

    commands = " ".join(command for pairs in blocks() for command, _ in pairs)
    callbacks = [info.callback for info in app.registered_commands if info.callback is not None]
    names = {c.__name__ for c in callbacks}
    assert names == {"shape", "pad", "run", "explain", "overlap", "net", "convert", "completion"}
    for callback in callbacks:
        assert callback.__doc__, f"{callback.__name__} has no help"
        assert f"deconv {callback.__name__}" in commands, f"README has no example of {callback.__name__}"


def update() -> None:
    """Rewrite README's example outputs from real runs: ``python tests/test_readme.py``."""
    import tempfile

    text = README.read_text()
    for pairs in blocks():
        with tempfile.TemporaryDirectory() as folder:
            for name, content in README_FILES.items():
                (Path(folder) / name).write_text(content)
            for command, expected in pairs:
                fresh = run(command, expected, Path(folder))
                text = text.replace(
                    f"$ {command}\n{expected}", f"$ {command}\n{fresh}\n" if fresh else f"$ {command}\n", 1
                )
    README.write_text(text)


if __name__ == "__main__":
    update()
