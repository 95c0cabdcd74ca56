"""Measure the engine's cost-model constants on this machine and write them to
deconv_cli/arrays/engine/costs.json, which the planner reads.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/measure_costs.py

Each constant is the fastest of several timings (interference only slows a
run down) of the operation the planner prices, on arrays of the size one batch
chunk has (a few MiB, as the engine's chunking keeps them):

* flop: a (1024 x 512) by (512 x 1024) float32 GEMM, ns per flop, and flop_k64 the
  same with an inner dimension of 64, where BLAS starts to slow down per flop;
* flat_copy and contiguous_add: a contiguous copy and an in-place add, ns per element;
* transpose: moving the channel axis across the pixels, (n, C, P) to (n, P, C), for
  the small images (P = 64) where the channels-last strategies compete;
* strided_copy and strided_add: into rows of ``run`` contiguous elements with gaps,
  fitted as ``a + b / run`` over several run lengths (numpy's cost per inner loop);
* plan: the whole engine on a tiny layer, a single im2col and GEMM pass: the fixed
  cost of one more pass.

Each constant is the least over ``--rounds`` passes, with a pause before each.
``--dry-run`` prints without writing.  Run it on a quiet machine: the tests hold
the planner to the strategies the suite measured fastest (``fastest`` in
benchmarks/run_vs_frameworks.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.machine import best_seconds, blas_info
from deconv_cli.arrays.engine import conv_transpose
from deconv_cli.arrays.engine.costs import COSTS_FILE

ELEMENTS = 1 << 20  # 4 MiB of float32 per operand
RUNS = (2, 4, 8, 16, 32, 64, 128, 256)


def per_element(fn: Callable[[], object], elements: int) -> float:
    return 1e9 * best_seconds(fn, repeats=9) / elements


def fit(runs: tuple[int, ...], ns: list[float]) -> tuple[float, float]:
    """Least squares ``ns = a + b / run``."""
    inverse = np.array([1.0 / r for r in runs])
    b, a = np.polyfit(inverse, np.array(ns), 1)
    return float(max(a, 0.0)), float(max(b, 0.0))


def strided(run: int, add: bool) -> float:
    rows = ELEMENTS // run
    src = np.ones((rows, run), dtype=np.float32)
    dst = np.zeros((rows, run + 3), dtype=np.float32)
    view = dst[:, 1 : run + 1]
    if add:
        return per_element(lambda: np.add(view, src, out=view), src.size)
    return per_element(lambda: np.copyto(view, src), src.size)


def measure() -> dict[str, float]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 512), dtype=np.float32)
    b = rng.standard_normal((512, 1024), dtype=np.float32)
    c = np.empty((1024, 1024), dtype=np.float32)
    flop = 1e9 * best_seconds(lambda: np.matmul(a, b, out=c), repeats=25) / (2 * 1024 * 512 * 1024)
    thin_a, thin_b = a[:, :64].copy(), b[:64].copy()
    flop_k64 = (
        1e9 * best_seconds(lambda: np.matmul(thin_a, thin_b, out=c), repeats=25) / (2 * 1024 * 64 * 1024)
    )
    src = np.ones(ELEMENTS, dtype=np.float32)
    dst = np.zeros(ELEMENTS, dtype=np.float32)
    channels = rng.standard_normal((ELEMENTS // (256 * 64), 256, 64), dtype=np.float32)
    moved = np.empty((ELEMENTS // (256 * 64), 64, 256), dtype=np.float32)
    copy_runs = [strided(run, add=False) for run in RUNS]
    add_runs = [strided(run, add=True) for run in RUNS]
    x = rng.standard_normal((1, 8, 8, 8), dtype=np.float32)
    w = rng.standard_normal((8, 8, 2, 2), dtype=np.float32)
    tiny = best_seconds(
        lambda: conv_transpose(x, w, stride=(2, 2), dilation=(1, 1), crop=((0, 0), (0, 0))), repeats=50
    )
    strided_copy, strided_copy_per_run = fit(RUNS, copy_runs)
    strided_add, strided_add_per_run = fit(RUNS, add_runs)
    return {
        "flat_copy": per_element(lambda: np.copyto(dst, src), ELEMENTS),
        "contiguous_add": per_element(lambda: np.add(dst, src, out=dst), ELEMENTS),
        "transpose": per_element(lambda: np.copyto(moved, channels.transpose(0, 2, 1)), channels.size),
        "flop": flop,
        "flop_k64": flop_k64,
        "plan": 1e9 * tiny,
        "strided_copy": strided_copy,
        "strided_copy_per_run": strided_copy_per_run,
        "strided_add": strided_add,
        "strided_add_per_run": strided_add_per_run,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print, do not write costs.json")
    parser.add_argument("--rounds", type=int, default=3, help="passes; each constant is their least")
    args = parser.parse_args()
    threads, blas = blas_info()
    passes = []
    for _ in range(args.rounds):
        time.sleep(1.0)
        passes.append(measure())
    ns = {name: float(f"{min(p[name] for p in passes):.4g}") for name in passes[0]}
    source = (
        f"benchmarks/measure_costs.py, {time.strftime('%Y-%m-%d')}: numpy {np.__version__} with {blas}, "
        f"{threads} threads, {platform.processor() or platform.machine()}"
    )
    text = json.dumps({"source": source, "ns": ns}, indent=2) + "\n"
    print(text, end="")
    if not args.dry_run:
        COSTS_FILE.write_text(text)
        print(f"written to {COSTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
