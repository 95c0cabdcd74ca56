"""Shell completion: `deconv completion SHELL` is Typer's script, and README's install lines
work in a fresh home, in each shell, for real."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deconv_cli.cli.completion import script

README = Path(__file__).parent.parent / "README.md"
# the repository's copies of the scripts, for packagers; regenerate with `python tests/test_completions.py`
COMPLETIONS = Path(__file__).parent.parent / "completions"
FILES = {"bash": "deconv.bash", "zsh": "_deconv", "fish": "deconv.fish"}
BIN = str(Path(sys.executable).parent)  # where pip put the deconv command


def install_line(shell: str) -> str:
    """The line README's "Shell completion" section gives for ``shell``."""
    section = README.read_text().split("## Shell completion", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block is not None
    lines = block.group(1).splitlines()
    return lines[lines.index(f"# {shell}") + 1]


def fresh_home(shell: str, tmp_path: Path) -> dict[str, str]:
    """An environment whose home is empty but for README's line for ``shell``, run there."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": f"{BIN}:{os.environ['PATH']}", "TERM": "dumb", "LANG": "C.UTF-8"}
    subprocess.run(["bash", "-c", install_line(shell)], env=env, check=True, timeout=60)
    return env


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_typers_script_for_the_shell(shell):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "_DECONV_COMPLETE": f"source_{shell}"}
    rendered = subprocess.run(["deconv"], env=env, capture_output=True, text=True, check=True).stdout
    printed = subprocess.run(
        ["deconv", "completion", shell], env=env | {"_DECONV_COMPLETE": ""}, capture_output=True, text=True
    ).stdout
    assert printed == script(shell)
    # '#compdef' must be line 1 of zsh's file; the rest is Typer's own script
    assert printed.startswith("#compdef deconv\n" if shell == "zsh" else rendered.strip()[:20])
    assert rendered.strip() in printed


@pytest.mark.parametrize("shell", list(FILES))
def test_committed_script_is_what_the_command_prints(shell):
    assert (COMPLETIONS / FILES[shell]).read_text() == script(shell)


def test_bash_completes_after_readme_install_in_a_fresh_home(tmp_path):
    env = fresh_home("bash", tmp_path)

    def complete(*words: str) -> list[str]:
        line = (
            f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}; "
            "_deconv_completion deconv; printf '%s\\n' \"${COMPREPLY[@]}\""
        )
        result = subprocess.run(
            ["bash", "-i", "-c", line], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        return result.stdout.split()

    assert complete("deconv", "sh") == ["shape"]
    assert complete("deconv", "co") == ["completion", "convert"]
    assert complete("deconv", "shape", "--framework", "") == ["tf", "torch", "keras", "onnx", "jax"]
    assert complete("deconv", "shape", "--padding", "") == ["valid", "same", "same_lower"]


def test_zsh_completes_after_readme_install_in_a_fresh_home(tmp_path):
    env = fresh_home("zsh", tmp_path)
    capture = Path(__file__).parent / "shells" / "capture.zsh"

    def complete(line: str) -> str:
        out = tmp_path / "line"
        subprocess.run(
            ["zsh", str(capture), str(out), line], env=env, capture_output=True, check=True, timeout=60
        )
        return out.read_text().rstrip("\n")

    assert complete("deconv sh") == "deconv shape "
    assert complete("deconv shape --framework to") == "deconv shape --framework torch "
    assert complete("deconv shape --padding same_l") == "deconv shape --padding same_lower "


def test_fish_completes_after_readme_install_in_a_fresh_home(tmp_path):
    env = fresh_home("fish", tmp_path)

    def complete(line: str) -> list[str]:
        result = subprocess.run(
            ["fish", "-c", f"complete -C {line!r}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return [row.split("\t")[0] for row in result.stdout.splitlines()]

    assert complete("deconv sh") == ["shape"]
    assert complete("deconv shape --framework ") == ["jax", "keras", "onnx", "tf", "torch"]
    assert complete("deconv shape --padding ") == ["same", "same_lower", "valid"]


def test_tab_completion_does_not_import_numpy():
    env = {
        **os.environ,
        "_DECONV_COMPLETE": "complete_bash",
        "COMP_WORDS": "deconv shape --f",
        "COMP_CWORD": "2",
    }
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "deconv_cli"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "--framework" in result.stdout
    assert " numpy" not in result.stderr


if __name__ == "__main__":
    for shell, name in FILES.items():
        (COMPLETIONS / name).write_text(script(shell))
