"""What the benchmarks measure about the machine itself: the BLAS in use, its
sgemm peak, the memory bandwidth, and how much CPU other processes take.

Imported by the benchmark scripts next to it; numpy only.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable

import numpy as np


def blas_info() -> tuple[int, str]:
    """numpy's BLAS thread count and a description of the library and kernel."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return len(os.sched_getaffinity(0)), "BLAS (install threadpoolctl to see which)"
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            kernel = info.get("architecture") or "?"
            return int(info["num_threads"]), f"{info['internal_api']} {info.get('version')} kernel {kernel}"
    return 1, "no threaded BLAS found"


def best_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Fastest of ``repeats`` calls after a warm one: a machine's capability,
    not a typical time, so interference only ever makes it slower."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def sgemm_peak_gflops(size: int = 2048) -> float:
    """float32 GEMM throughput of numpy's BLAS on square matrices, GF/s: the
    better of one GEMM on all BLAS threads and one single-threaded GEMM per
    thread at once (how the engine's workers run them)."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    threads, _ = blas_info()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    outs = [np.empty_like(a) for _ in range(threads)]
    together = best_seconds(lambda: np.matmul(a, b, out=outs[0]))
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        apart = best_seconds(lambda: list(pool.map(lambda c: np.matmul(a, b, out=c), outs))) / threads
    return 2 * size**3 / min(together, apart) / 1e9


def copy_bandwidth_gbs(mib: int = 256, threads: int = 1) -> float:
    """Memory bandwidth of a large contiguous copy (bytes read + written), GB/s,
    the copy split over ``threads`` threads (numpy releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    src = np.ones(mib << 18, dtype=np.float32)
    dst = np.empty_like(src)
    parts = [(d, s) for d, s in zip(np.array_split(dst, threads), np.array_split(src, threads), strict=True)]
    if threads == 1:
        return 2 * src.nbytes / best_seconds(lambda: np.copyto(dst, src)) / 1e9
    with ThreadPoolExecutor(threads) as pool:
        seconds = best_seconds(lambda: list(pool.map(lambda part: np.copyto(*part), parts)))
    return 2 * src.nbytes / seconds / 1e9


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:  # not Linux
        return math.nan, 0.0
    busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system + own.children_user + own.children_system


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


def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else math.nan
