"""Shell completions: the committed scripts equal a fresh render, and each shell completes for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
COMPLETIONS = ROOT / "completions"
FILES = {"bash": "deconv.bash", "zsh": "_deconv", "fish": "deconv.fish"}


def render(shell: str) -> str:
    """The script Typer renders for ``shell``, made fit to install as a file."""
    env = {**os.environ, "_DECONV_COMPLETE": f"source_{shell}"}
    script = subprocess.run(["deconv"], env=env, capture_output=True, text=True, check=True).stdout
    if shell == "zsh":
        # '#compdef' must be line 1, and an autoloaded file's body runs on the first TAB:
        # calling the completer there makes the first TAB complete, not only the second
        script = script.lstrip("\n") + '\n_deconv_completion "$@"\n'
    return script


@pytest.mark.parametrize("shell", list(FILES))
def test_committed_completion_script_equals_a_fresh_render(shell):
    assert (COMPLETIONS / FILES[shell]).read_text() == render(shell)


def needs(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")


def bash_complete(words: list[str]) -> list[str]:
    needs("bash")
    script = (
        f"source {COMPLETIONS / FILES['bash']}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words) - 1}; _deconv_completion deconv; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()


def zsh_complete(line: str, tmp_path: Path) -> str:
    needs("zsh")
    out = tmp_path / "line"
    subprocess.run(
        ["zsh", str(Path(__file__).parent / "shells" / "capture.zsh"), str(COMPLETIONS), str(out), line],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return out.read_text().rstrip("\n")


def fish_complete(line: str) -> list[str]:
    needs("fish")
    script = f"source {COMPLETIONS / FILES['fish']}; complete -C {line!r}"
    result = subprocess.run(["fish", "-c", script], capture_output=True, text=True, check=True)
    return [row.split("\t")[0] for row in result.stdout.splitlines()]


def test_bash_completes_commands_frameworks_and_paddings():
    assert bash_complete(["deconv", "sh"]) == ["shape"]
    assert bash_complete(["deconv", "shape", "--framework", ""]) == ["tf", "torch", "keras", "onnx", "jax"]
    assert bash_complete(["deconv", "shape", "--padding", ""]) == ["valid", "same", "same_lower"]


def test_zsh_completes_commands_frameworks_and_paddings(tmp_path):
    assert zsh_complete("deconv sh", tmp_path) == "deconv shape "
    assert zsh_complete("deconv shape --framework to", tmp_path) == "deconv shape --framework torch "
    assert zsh_complete("deconv shape --padding same_l", tmp_path) == "deconv shape --padding same_lower "


def test_fish_completes_commands_frameworks_and_paddings():
    assert fish_complete("deconv sh") == ["shape"]
    assert fish_complete("deconv shape --framework ") == ["jax", "keras", "onnx", "tf", "torch"]
    assert fish_complete("deconv shape --padding ") == ["same", "same_lower", "valid"]


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
        (COMPLETIONS / name).write_text(render(shell))
