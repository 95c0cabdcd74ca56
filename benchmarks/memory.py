"""Peak memory of `deconv run` and `deconv explain --values` against --max-memory.

Each run is a fresh process; its peak resident set (``wait4``'s ``ru_maxrss``) minus the
peak of the same command on a tiny input (the interpreter, numpy, OpenBLAS) is the extra
memory the run took. The promise checked: extra <= budget + CONSTANT_MIB, and a budget
too small is refused up front (exit 1) naming the smallest that works.

    python benchmarks/memory.py            # the table in README
    python benchmarks/memory.py --quick    # smaller sizes
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

DECONV = str(Path(sys.executable).with_name("deconv"))
CONSTANT_MIB = 64  # what README states beyond the budget: allocator slack, BLAS buffers, .npy chunks
MIB = 1 << 20


def peak(args: list[str], cwd: Path) -> tuple[int, float, str]:
    """(exit code, peak RSS in MiB, stderr) of ``deconv *args``."""
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([DECONV, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return process.returncode, usage.ru_maxrss / 1024, err.read().decode().strip()


def judged(args: list[str], budget: str, cwd: Path, base: float) -> tuple[float, str, float]:
    """(extra MiB, verdict, MiB over the budget) of ``deconv *args --max-memory budget``."""
    code, rss, stderr = peak([*args, "--max-memory", budget], cwd)
    extra = rss - base
    limit = int(budget[:-1]) * (1024 if budget.endswith("G") else 1)
    if code != 0:
        return extra, "refused: " + stderr.split("; ")[-1].removeprefix("deconv: error: "), -math.inf
    return extra, "ok" if extra <= limit + CONSTANT_MIB else "OVER", extra - limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller arrays")
    options = parser.parse_args()
    batch = 4 if options.quick else 16
    # (label, x shape NHWC, w shape (k, k, C_out, C_in), stride): tf layouts, float32
    layers = [
        (f"{batch}x64x64x64 k4 s2 -> 64", (batch, 64, 64, 64), (4, 4, 64, 64), 2),
        (f"{batch // 2}x128x128x32 k8 s4 -> 16", (batch // 2, 128, 128, 32), (8, 8, 16, 32), 4),
        (f"{batch // 4}x256x256x16 k3 s2 -> 16", (batch // 4, 256, 256, 16), (3, 3, 16, 16), 2),
    ]
    budgets = ["128M", "256M", "512M", "1G", "2G"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rng = np.random.default_rng(0)
        np.save(work / "tiny.npy", rng.standard_normal((1, 2, 2, 1)).astype(np.float32))
        np.save(work / "tinyw.npy", rng.standard_normal((1, 1, 1, 1)).astype(np.float32))
        _, base, _ = peak(["run", "tiny.npy", "-w", "tinyw.npy", "-o", "tiny_out.npy"], work)
        print(f"baseline (a tiny run): {base:.0f} MiB; allowed over the budget: {CONSTANT_MIB} MiB")
        print(f"{'layer':28} {'in MiB':>7} {'out MiB':>8} {'budget':>7} {'extra MiB':>10}  result")
        worst = 0.0
        for label, x_shape, w_shape, stride in layers:
            np.save(work / "x.npy", rng.standard_normal(x_shape).astype(np.float32))
            np.save(work / "w.npy", rng.standard_normal(w_shape).astype(np.float32))
            size_in = (work / "x.npy").stat().st_size / MIB
            n_out = [(n - 1) * stride + w_shape[0] for n in x_shape[1:3]]
            size_out = x_shape[0] * n_out[0] * n_out[1] * w_shape[2] * 4 / MIB
            for budget in budgets:
                args = ["run", "x.npy", "-w", "w.npy", "--s", str(stride), "-o", "y.npy"]
                extra, verdict, excess = judged(args, budget, work, base)
                worst = max(worst, excess)
                print(f"{label:28} {size_in:7.0f} {size_out:8.0f} {budget:>7} {extra:10.0f}  {verdict}")
        np.save(work / "v.npy", rng.standard_normal((1000, 1000)))
        np.save(work / "v22.npy", rng.standard_normal((2, 2)))
        drawings = [  # a large input, and a large kernel on a small one (the full result is k^2)
            ("explain 1000x1000 values", ["--in", "1000,1000", "--k", "3", "--values", "v.npy"], 8),
            ("explain 2x2 k=2000 values", ["--in", "2,2", "--k", "2000", "--values", "v22.npy"], 0),
        ]
        for label, arguments, size_in in drawings:
            for budget in ("256M", "1G"):
                args = ["explain", *arguments, "--s", "2", "--padding", "same", "--ones"]
                extra, verdict, excess = judged(args, budget, work, base)
                worst = max(worst, excess)
                print(f"{label:28} {size_in:7.0f} {'':>8} {budget:>7} {extra:10.0f}  {verdict}")
        print(f"largest excess over the budget: {worst:.0f} MiB (allowed {CONSTANT_MIB})")


if __name__ == "__main__":
    main()
