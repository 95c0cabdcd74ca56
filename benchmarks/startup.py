"""Startup budget: median wall time of deconv's shape, pad, net, --help and a TAB completion
against a bare Typer app doing the same, measured in the same run (target ratio <= 1.15).

    python benchmarks/startup.py [--runs 31]
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The same command-line surface as deconv's shape, pad and net (Typer's per-option cost grows
# with the options), with bodies that do nothing: the ratio is what deconv itself adds.
BARE = """
from enum import Enum
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)
Framework = Enum("Framework", {name: name for name in ("tf", "torch", "keras", "onnx", "jax")}, type=str)
Text = Annotated[str, typer.Option()]
Maybe = Annotated[str | None, typer.Option()]


@app.command()
def shape(
    n: Annotated[str, typer.Option("--in")], k: Text, s: Text = "1", d: Text = "1", padding: Text = "valid",
    op: Maybe = None, output_shape: Maybe = None, framework: Annotated[Framework, typer.Option()] = "tf",
    json: bool = False, emit: Annotated[Framework | None, typer.Option()] = None,
    in_channels: Maybe = None, out_channels: Maybe = None, groups: int = 1,
) -> None:
    print(n)


@app.command()
def pad(
    n: Annotated[str, typer.Option("--in")], out: Maybe = None, factor: Maybe = None, k: Maybe = None,
    s: Maybe = None, d: Text = "1", framework: Annotated[list[Framework] | None, typer.Option()] = None,
    max_k: int = 8, max_s: int = 4, limit: Annotated[int | None, typer.Option()] = None, json: bool = False,
    emit: Annotated[Framework | None, typer.Option()] = None, in_channels: Maybe = None,
    out_channels: Maybe = None, groups: int = 1,
) -> None:
    print(n, out)


@app.command()
def net(
    source: str, n: Annotated[str | None, typer.Option("--in")] = None,
    framework: Annotated[Framework | None, typer.Option()] = None, json: bool = False,
) -> None:
    print(open(source).read()[:1])


app(prog_name="bare")
"""

# (name, arguments, extra environment), the same for deconv and the bare app; NET is README's
# 5-level U-Net (tests/helpers.py reads it), written to a temporary file
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import README_FILES  # noqa: E402

CASES = [
    ("shape", ["shape", "--in", "16", "--k", "6", "--s", "2", "--padding", "same"], {}),
    ("pad", ["pad", "--in", "8", "--out", "16", "--k", "4", "--s", "2"], {}),
    ("net", ["net", "NET", "--in", "572"], {}),
    ("--help", ["--help"], {}),
    ("TAB", [], {"COMP_WORDS": "prog shape --f", "COMP_CWORD": "2"}),
]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=31)
    runs = parser.parse_args().runs
    script = shutil.which("deconv")
    if script is None:
        sys.exit("deconv is not installed: pip install . first")
    # pip byte-compiles an installed package; an editable install run with
    # PYTHONDONTWRITEBYTECODE would measure the compiler instead of deconv
    package = importlib.util.find_spec("deconv_cli")
    if package is not None and package.submodule_search_locations:
        compileall.compile_dir(package.submodule_search_locations[0], quiet=1)
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare.py"
        bare.write_text(BARE)
        unet = Path(folder) / "unet.txt"
        unet.write_text(README_FILES["unet.txt"])
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {runs} runs (ms)")
        print(f"{'command':8} {'deconv':>8} {'bare':>8} {'ratio':>6}")
        for name, arguments, extra in CASES:
            env_ours = {**os.environ, **extra}
            env_theirs = {**os.environ, **extra}
            if name == "TAB":
                env_ours["_DECONV_COMPLETE"] = "complete_bash"
                env_theirs["_BARE_COMPLETE"] = "complete_bash"
            arguments = [str(unet) if word == "NET" else word for word in arguments]
            a, b = [], []
            for _ in range(runs):  # interleaved, so drift on a noisy machine hits both alike
                a.append(timed([sys.executable, script, *arguments], env_ours))
                b.append(timed([sys.executable, str(bare), *arguments], env_theirs))
            ms_a, ms_b = statistics.median(a) * 1e3, statistics.median(b) * 1e3
            print(f"{name:8} {ms_a:8.1f} {ms_b:8.1f} {ms_a / ms_b:6.2f}")


if __name__ == "__main__":
    main()
