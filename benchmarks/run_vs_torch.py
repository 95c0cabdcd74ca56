"""Time deconv's numpy engine against torch.nn.functional.conv_transpose{1,2,3}d.

Run with an interpreter that has torch, e.g.

    /work/oracles/bin/python benchmarks/run_vs_torch.py [--layers dcgan,unet] [--openblas-coretype SkylakeX]

Both run in this process on float32, torch with as many threads as numpy's
BLAS uses.  Each layer's output is first checked against torch (allclose), so a
fast but wrong engine cannot pass; the script exits 1 on any mismatch.

Timing alternates blocks of back-to-back calls (after one untimed call) of
torch and deconv, with a pause before each block: both OpenBLAS and OpenMP
keep their worker threads spinning for a while after a call, and those would
otherwise steal a core from the other library.  The median over all blocks
is reported.

The header prints the OpenBLAS kernel in use: an OPENBLAS_CORETYPE in the
environment decides it (these machines export Haswell, AVX2, although the CPU
has AVX-512). ``--openblas-coretype NAME`` re-runs the script with
OPENBLAS_CORETYPE=NAME (it must be set before numpy loads).
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
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from deconv_cli.arrays.engine import conv_transpose


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
    # the engine strategy measured fastest here; tests/test_engine.py holds
    # the cost model to it, so a change of choice comes with a new measurement
    fastest: str = field(kw_only=True)


LAYERS = [
    Layer("dcgan 100->512 1->4", 100, 512, (1, 1), 4, 1, 0, 64, fastest="pointwise"),
    Layer("512->256 8->16", 512, 256, (8, 8), 4, 2, 1, 64, fastest="karatsuba"),
    Layer("128->3 32->64", 128, 3, (32, 32), 4, 2, 1, 64, fastest="columns"),
    Layer("unet 256->128 32->64", 256, 128, (32, 32), 2, 2, 0, 8, fastest="phase"),
    Layer("sr 64->64 64->128", 64, 64, (64, 64), 3, 2, 1, 4, op=1, fastest="phase"),
    Layer("audio 512->256 L1024", 512, 256, (1024,), 16, 8, 4, 8, fastest="karatsuba_first"),
    Layer("3d 64->32 16^3", 64, 32, (16, 16, 16), 2, 2, 0, 2, fastest="phase"),
    Layer("grouped 128->128 g32", 128, 128, (32, 32), 4, 2, 1, 8, groups=32, fastest="phase"),
]


def blas_info() -> tuple[int, str]:
    """numpy's BLAS thread count and a description of the library."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        # OpenBLAS starts one thread per CPU unless an env variable says otherwise.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(var):
                return int(os.environ[var]), f"BLAS (threads from {var}; install threadpoolctl for details)"
        return len(os.sched_getaffinity(0)), "BLAS (assumed one thread per CPU; install threadpoolctl)"
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return int(
                info["num_threads"]
            ), f"{info['internal_api']} {info.get('version')} kernel {info.get('architecture')}"
    return 1, "no threaded BLAS found"


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:  # not Linux
        return math.nan, 0.0
    busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


class Interference:
    """Share of the CPUs used by other processes since creation: timings
    taken while it is high are not trustworthy."""

    def __init__(self) -> None:
        self.machine, self.own = cpu_seconds()
        self.wall = time.perf_counter()

    def share(self) -> float:
        machine, own = cpu_seconds()
        others = (machine - self.machine) - (own - self.own)
        return max(0.0, others) / (time.perf_counter() - self.wall) / len(os.sched_getaffinity(0))


def median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def peak_extra_mib(fn: Callable[[], np.ndarray]) -> float:
    """Peak memory traced during fn beyond its output (numpy reports to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - result.nbytes) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating blocks per library and layer")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per block")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds of idle before each block")
    parser.add_argument("--layers", help="comma-separated name prefixes")
    parser.add_argument("--openblas-coretype", help="re-run with OPENBLAS_CORETYPE set, e.g. SkylakeX")
    args = parser.parse_args()
    if args.openblas_coretype and os.environ.get("OPENBLAS_CORETYPE") != args.openblas_coretype:
        env = {**os.environ, "OPENBLAS_CORETYPE": args.openblas_coretype}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
    except ImportError:
        sys.exit("torch is required: run with the oracle venv's python")

    layers = LAYERS
    if args.layers:
        wanted = args.layers.split(",")
        layers = [lay for lay in LAYERS if any(lay.name.startswith(w) for w in wanted)]
    threads, blas = blas_info()
    torch.set_num_threads(threads)
    print(
        f"numpy {np.__version__} with {blas}, {threads} threads; torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads; float32; median of {args.rounds}x{args.repeats}"
    )
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    header = (
        f"{'layer':<22}{'torch ms':>10}{'deconv ms':>11}{'ratio':>7}{'GF/s':>8}{'extra MiB':>11}{'others':>8}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    ratios = []
    failed = False
    for lay in layers:
        dims = len(lay.size)
        x = rng.standard_normal((lay.batch, lay.c_in, *lay.size), dtype=np.float32)
        w = rng.standard_normal((lay.c_in, lay.c_out // lay.groups, *[lay.k] * dims), dtype=np.float32)
        w /= math.sqrt(lay.c_in // lay.groups * lay.k**dims)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        tfn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[dims - 1]

        def run_torch(
            lay: Layer = lay, xt: torch.Tensor = xt, wt: torch.Tensor = wt, tfn: Callable = tfn
        ) -> object:
            with torch.no_grad():
                return tfn(xt, wt, stride=lay.s, padding=lay.p, output_padding=lay.op, groups=lay.groups)

        def run_deconv(
            lay: Layer = lay, x: np.ndarray = x, w: np.ndarray = w, dims: int = dims
        ) -> np.ndarray:
            return conv_transpose(
                x,
                w,
                stride=(lay.s,) * dims,
                dilation=(1,) * dims,
                crop=((lay.p, lay.p - lay.op),) * dims,
                groups=lay.groups,
            )

        expected = run_torch().numpy()
        got = run_deconv()
        scale = float(np.abs(expected).max())
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-5, atol=1e-5 * scale):
            failed = True
            print(f"{lay.name:<22} MISMATCH against torch")
            continue
        times: dict[str, list[float]] = {"torch": [], "deconv": []}
        interference = Interference()
        for _ in range(args.rounds):
            for name, fn in (("torch", run_torch), ("deconv", run_deconv)):
                time.sleep(args.pause)
                fn()  # wakes the library's threads after the pause
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
        t_torch, t_ours = median_ms(times["torch"]), median_ms(times["deconv"])
        flops = 2 * lay.batch * lay.c_in * (lay.c_out // lay.groups) * lay.k**dims * math.prod(lay.size)
        ratio = t_ours / t_torch
        ratios.append(ratio)
        print(
            f"{lay.name:<22}{t_torch:>10.2f}{t_ours:>11.2f}{ratio:>7.2f}"
            f"{flops / t_ours / 1e6:>8.1f}{peak_extra_mib(run_deconv):>11.1f}{interference.share():>8.0%}"
        )
    print("others: share of the CPUs that other processes used while the layer was timed")
    if ratios:
        geo = math.exp(statistics.fmean(math.log(r) for r in ratios))
        print(f"geometric-mean ratio {geo:.3f}, worst {max(ratios):.2f} (target: <= 0.8, none above 1.5)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
