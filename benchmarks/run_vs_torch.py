"""Time deconv's numpy engine against torch.nn.functional.conv_transpose*d.

Run with the interpreter that has torch (e.g. /work/oracles/bin/python):

    python benchmarks/run_vs_torch.py [--repeats 7] [--layers dcgan,unet]

Both run in this process, float32, with torch's thread count set to the BLAS
thread count numpy uses.  Every layer's output is checked against torch first
so a fast but wrong engine cannot pass.  Exits 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deconv_cli.engine import conv_transpose  # noqa: E402

try:
    import torch
    import torch.nn.functional as F  # noqa: N812
except ImportError:
    sys.exit("torch is required: run with the oracle venv's python")


@dataclass(frozen=True)
class Layer:
    name: str
    c_in: int
    c_out: int
    size: tuple[int, ...]
    k: int
    s: int
    p: int
    batch: int
    op: int = 0
    groups: int = 1


LAYERS = [
    Layer("dcgan 100->512 1->4", 100, 512, (1, 1), 4, 1, 0, 64),
    Layer("512->256 8->16", 512, 256, (8, 8), 4, 2, 1, 64),
    Layer("128->3 32->64", 128, 3, (32, 32), 4, 2, 1, 64),
    Layer("unet 256->128 32->64", 256, 128, (32, 32), 2, 2, 0, 8),
    Layer("sr 64->64 64->128", 64, 64, (64, 64), 3, 2, 1, 4, op=1),
    Layer("audio1d 512->256 1024", 512, 256, (1024,), 16, 8, 4, 8),
    Layer("3d 64->32 16^3", 64, 32, (16, 16, 16), 2, 2, 0, 2),
    Layer("grouped 128->128 g32", 128, 128, (32, 32), 4, 2, 1, 8, groups=32),
]


def blas_threads() -> tuple[int, str]:
    """numpy's BLAS thread count and library name, via threadpoolctl if any."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                core = info.get("architecture", "?")
                return int(info["num_threads"]), f"{info['internal_api']} ({core})"
    # OpenBLAS defaults to one thread per CPU unless told otherwise.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var]), f"env {var}"
    return len(os.sched_getaffinity(0)), "BLAS default (all CPUs)"


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: page faults, BLAS buffers, torch kernel selection
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def peak_extra_mb(fn: Callable[[], np.ndarray]) -> float:
    """Peak traced allocation during fn minus its output, in MiB."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - result.nbytes) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--layers", help="comma-separated name prefixes")
    args = parser.parse_args()
    layers = LAYERS
    if args.layers:
        wanted = args.layers.split(",")
        layers = [lay for lay in LAYERS if any(lay.name.startswith(w) for w in wanted)]

    threads, blas = blas_threads()
    torch.set_num_threads(threads)
    print(f"numpy {np.__version__} BLAS: {blas}, {threads} threads; "
          f"torch {torch.__version__} threads={torch.get_num_threads()}; float32")
    header = (f"{'layer':<24}{'torch ms':>10}{'deconv ms':>11}{'ratio':>8}"
              f"{'GF/s':>8}{'extra MiB':>11}")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    ratios = []
    failed = False
    for lay in layers:
        dims = len(lay.size)
        x = rng.standard_normal((lay.batch, lay.c_in, *lay.size), dtype=np.float32)
        w = rng.standard_normal(
            (lay.c_in, lay.c_out // lay.groups, *[lay.k] * dims), dtype=np.float32
        ) / math.sqrt(lay.c_in // lay.groups * lay.k**dims)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        tfn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[dims - 1]

        def run_torch() -> torch.Tensor:
            with torch.no_grad():
                return tfn(xt, wt, stride=lay.s, padding=lay.p,
                           output_padding=lay.op, groups=lay.groups)

        def run_deconv() -> np.ndarray:
            return conv_transpose(
                x, w, stride=(lay.s,) * dims, dilation=(1,) * dims,
                crop=((lay.p, lay.p - lay.op),) * dims, groups=lay.groups,
            )

        expected = run_torch().numpy()
        got = run_deconv()
        scale = float(np.abs(expected).max())
        ok = got.shape == expected.shape and np.allclose(
            got, expected, rtol=1e-5, atol=1e-5 * scale)
        if not ok:
            failed = True
            print(f"{lay.name:<24} MISMATCH vs torch")
            continue
        t_torch = median_ms(run_torch, args.repeats)
        t_ours = median_ms(run_deconv, args.repeats)
        flops = 2 * lay.batch * lay.c_in * (lay.c_out // lay.groups) \
            * lay.k**dims * math.prod(lay.size)
        ratio = t_ours / t_torch
        ratios.append(ratio)
        print(f"{lay.name:<24}{t_torch:>10.2f}{t_ours:>11.2f}{ratio:>8.2f}"
              f"{flops / t_ours / 1e6:>8.1f}{peak_extra_mb(run_deconv):>11.1f}")
    if ratios:
        geo = math.exp(statistics.fmean(math.log(r) for r in ratios))
        print(f"geometric-mean ratio {geo:.3f}, max {max(ratios):.2f} "
              "(target <= 0.8, none > 1.5)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
