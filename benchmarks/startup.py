"""Startup budget: median wall time of deconv's shape, pad, --help and a TAB completion
against a bare Typer app doing the same, measured in the same run (target ratio <= 1.15).

    python benchmarks/startup.py [--runs 31]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import typer

app = typer.Typer()


@app.command()
def shape(n: str = typer.Option(..., "--in"), k: str = typer.Option(..., "--k"),
          s: str = typer.Option("1", "--s"), padding: str = typer.Option("valid", "--padding")) -> None:
    print(int(n) * int(s))


@app.command()
def pad(n: str = typer.Option(..., "--in"), out: str = typer.Option(..., "--out")) -> None:
    print(n, out)


app()
"""

# (name, deconv arguments, bare arguments, extra environment for both)
CASES = [
    (
        "shape",
        ["shape", "--in", "16", "--k", "6", "--s", "2", "--padding", "same"],
        ["shape", "--in", "16", "--k", "6", "--s", "2", "--padding", "same"],
        {},
    ),
    (
        "pad",
        ["pad", "--in", "8", "--out", "16", "--k", "4", "--s", "2"],
        ["pad", "--in", "8", "--out", "16"],
        {},
    ),
    ("--help", ["--help"], ["--help"], {}),
    ("TAB", [], [], {"COMP_WORDS": "prog sh", "COMP_CWORD": "1"}),
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
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare.py"
        bare.write_text(BARE)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {runs} runs (ms)")
        print(f"{'command':8} {'deconv':>8} {'bare':>8} {'ratio':>6}")
        for name, ours, theirs, extra in CASES:
            env_ours = {**os.environ, **extra}
            env_theirs = {**os.environ, **extra}
            if name == "TAB":
                env_ours["_DECONV_COMPLETE"] = "complete_bash"
                env_theirs["_BARE_PY_COMPLETE"] = "complete_bash"
            a, b = [], []
            for _ in range(runs):  # interleaved, so drift on a noisy machine hits both alike
                a.append(timed([sys.executable, script, *ours], env_ours))
                b.append(timed([sys.executable, str(bare), *theirs], env_theirs))
            ms_a, ms_b = statistics.median(a) * 1e3, statistics.median(b) * 1e3
            print(f"{name:8} {ms_a:8.1f} {ms_b:8.1f} {ms_a / ms_b:6.2f}")


if __name__ == "__main__":
    main()
