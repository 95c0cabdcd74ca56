"""Where deconv's time goes on one layer of the suite: GEMMs, the blocked scatter into the
interleaved output, the strategy's other numpy passes (im2col copies, tap sums), and the
Python around them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/passes.py grouped [sr ...]

The passes are the floor of the planned strategy in numpy: each already runs as one or a
few numpy calls at numpy's own speed, so without any Python between them the layer would
still take their sum.  Medians over back-to-back calls (see run_vs_frameworks.py for the
side-by-side protocol).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.run_vs_frameworks import LAYERS
from deconv_cli.arrays.engine import columns, parallel, phase

CALLS = 30


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("layers", nargs="+", help="name prefixes of run_vs_frameworks.py's layers")
    names = parser.parse_args().layers
    chosen = [lay for lay in LAYERS if any(lay.name.startswith(name) for name in names)]
    if not chosen:
        parser.error(f"no layer starts with {', '.join(names)}; see run_vs_frameworks.py's LAYERS")
    spent: dict[str, list[float]] = {}

    def timed(key: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[key][-1] += time.perf_counter() - start

        return call

    # the scatter is nested in the strategy's work, the GEMMs in either: each is taken out of
    # the one it is inside
    patches = [
        (np, "matmul", "gemm"),
        (phase, "blockwise", "scatter"),
        (columns, "blockwise", "scatter"),
        (parallel, "run_chunks", "work"),
    ]
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    rng = np.random.default_rng(0)
    print(
        f"{'layer':24} {'strategy':16} {'total':>7} {'gemm':>7} {'scatter':>7} {'other':>7} {'python':>7}  ms"
    )
    for lay in chosen:
        fn = lay.deconv(*lay.inputs(rng))
        kind = lay.choice().kind
        fn()
        for key in ("total", "gemm", "scatter", "work"):
            spent[key] = []
        for module, name, key in patches:
            setattr(module, name, timed(key, getattr(module, name)))
        try:
            for _ in range(CALLS):
                for values in spent.values():
                    values.append(0.0)
                start = time.perf_counter()
                fn()
                spent["total"][-1] = time.perf_counter() - start
        finally:
            for module, name, inner in originals:
                setattr(module, name, inner)
        total, gemm, scatter, work = (
            statistics.median(spent[k]) * 1e3 for k in ("total", "gemm", "scatter", "work")
        )
        times = (total, gemm, scatter, work - gemm - scatter, total - work)
        print(f"{lay.name:24} {kind:16} " + " ".join(f"{t:7.2f}" for t in times))
    print("other: the strategy's remaining numpy passes and the Python between all of them;")
    print("python: planning, weights and the output's allocation, outside the chunks' work")
    return 0


if __name__ == "__main__":
    sys.exit(main())
