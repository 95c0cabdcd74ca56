"""Time deconv's numpy engine against every installed CPU framework, side by side.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run_vs_frameworks.py

PyTorch (``conv_transpose{1,2,3}d``), ONNX Runtime (a one-node ``ConvTranspose``
model), JAX (``lax.conv_general_dilated`` with ``lhs_dilation``, jitted, NHWC) and
TensorFlow (``conv{2,3}d_transpose``, NHWC, in a ``tf.function``) run in this
process on float32 with the same number of threads (``--threads``; JAX has no
such setting and runs XLA's default, one thread per CPU, which the header
shows); a framework that is not installed is left out.  Each gets its input in its own preferred
layout, prepared before timing.  Every output is first checked against deconv's
(float32 golden tolerance); the script exits 1 on any mismatch.

Timing alternates blocks of back-to-back calls of each library, in a rotating
order, with a pause before each block: OpenBLAS, OpenMP and the frameworks' pools
keep their threads spinning for a while after a call, and those would otherwise
steal a core from the next library.  Per library the median of each block is
taken and the best block is reported (interference only ever slows a block).

Also printed: the BLAS kernel numpy actually uses (threadpoolctl), the machine's
measured sgemm peak and copy bandwidth (on one thread and on all), and per layer deconv's GF/s (nominal
flops of a direct method) and its fraction of that peak, the bound of a direct
method (nominal flops at the sgemm peak or the input, weight and output bytes at
the better copy bandwidth, whichever is longer), the share of deconv's working time spent
in BLAS GEMMs (the rest is numpy copies and adds), deconv's peak
extra memory (beyond its output) and the share of the CPUs other processes used meanwhile.

The script sets no environment variable: the machine's OPENBLAS_CORETYPE (an old
AVX2 kernel pinned for compatibility) and OPENBLAS_L2_SIZE are removed by the
command above, so numpy runs the kernel it picks itself on this CPU.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.machine import (
    Interference,
    blas_info,
    copy_bandwidth_gbs,
    geomean,
    sgemm_peak_gflops,
)
from deconv_cli.arrays.engine import axis, buffers, conv_transpose, parallel, planner


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

    @property
    def dims(self) -> int:
        return len(self.size)

    @property
    def flops(self) -> int:
        """Multiply-adds x 2 of a direct method, cropped outputs included."""
        return (
            2
            * self.batch
            * self.c_in
            * (self.c_out // self.groups)
            * self.k**self.dims
            * math.prod(self.size)
        )

    def out_size(self) -> tuple[int, ...]:
        return tuple((n - 1) * self.s + self.k - 2 * self.p + self.op for n in self.size)

    @property
    def crop(self) -> tuple[tuple[int, int], ...]:
        """PyTorch's padding and output_padding as the engine's crop per axis."""
        return ((self.p, self.p - self.op),) * self.dims

    def inputs(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """x (N, C_in, *size) and w (C_in, C_out/groups, *k), float32 normals; w scaled by its
        fan-in, so outputs stay near 1."""
        x = rng.standard_normal((self.batch, self.c_in, *self.size), dtype=np.float32)
        w = rng.standard_normal(
            (self.c_in, self.c_out // self.groups, *[self.k] * self.dims), dtype=np.float32
        )
        w /= math.sqrt(self.c_in // self.groups * self.k**self.dims)
        return x, w

    def choice(self) -> planner.Choice:
        """The engine's plan for this layer, as its planner picks it."""
        ones = (1,) * self.dims
        axes = axis.axes_of(self.size, (self.k,) * self.dims, (self.s,) * self.dims, ones, self.crop)
        return planner.strategy(axes, self.batch, self.c_in, self.c_out, self.groups)

    def deconv(self, x: np.ndarray, w: np.ndarray) -> Callable[[], np.ndarray]:
        return lambda: conv_transpose(
            x, w, stride=(self.s,) * self.dims, dilation=(1,) * self.dims, crop=self.crop, groups=self.groups
        )


LAYERS = [
    Layer("dcgan-z 100->512 1->4", 100, 512, (1, 1), 4, 1, 0, 64, fastest="pointwise"),
    Layer("512->256 8->16", 512, 256, (8, 8), 4, 2, 1, 64, fastest="karatsuba"),
    Layer("128->3 32->64", 128, 3, (32, 32), 4, 2, 1, 64, fastest="columns"),
    Layer("unet k2s2 256->128 32", 256, 128, (32, 32), 2, 2, 0, 8, fastest="phase"),
    Layer("sr k3s2 64->64 64", 64, 64, (64, 64), 3, 2, 1, 4, op=1, fastest="columns"),
    Layer("audio k16s8 512->256", 512, 256, (1024,), 16, 8, 4, 8, fastest="karatsuba_first"),
    Layer("3d k2s2 64->32 16^3", 64, 32, (16, 16, 16), 2, 2, 0, 2, fastest="phase"),
    Layer("grouped g32 128 32", 128, 128, (32, 32), 4, 2, 1, 8, groups=32, fastest="phase"),
]

# A framework's runner: (time this call, its result as deconv's NC... numpy array),
# or None where the framework has no such layer.
Runner = tuple[Callable[[], object], Callable[[object], np.ndarray]] | None
Maker = Callable[[Layer, np.ndarray, np.ndarray, int], Runner]


def torch_runner(lay: Layer, x: np.ndarray, w: np.ndarray, threads: int) -> Runner:
    import torch
    import torch.nn.functional as F  # noqa: N812

    torch.set_num_threads(threads)
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[lay.dims - 1]
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)

    def call() -> object:
        with torch.no_grad():
            return fn(xt, wt, stride=lay.s, padding=lay.p, output_padding=lay.op, groups=lay.groups)

    return call, lambda y: y.numpy()


def onnx_model(lay: Layer, w: np.ndarray) -> bytes:
    """A one-node ConvTranspose model with w as its initializer, serialized."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node(
        "ConvTranspose",
        ["x", "w"],
        ["y"],
        kernel_shape=[lay.k] * lay.dims,
        strides=[lay.s] * lay.dims,
        pads=[lay.p] * (2 * lay.dims),
        output_padding=[lay.op] * lay.dims,
        group=lay.groups,
    )
    graph = helper.make_graph(
        [node],
        "deconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, (lay.batch, lay.c_in, *lay.size))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, (lay.batch, lay.c_out, *lay.out_size()))],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_runner(lay: Layer, x: np.ndarray, w: np.ndarray, threads: int) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_model(lay, w), options, providers=["CPUExecutionProvider"])
    return (lambda: session.run(None, {"x": x})[0]), np.asarray


def jax_kernel(lay: Layer, w: np.ndarray) -> np.ndarray:
    """w as lax.conv_general_dilated's (k..., cig, groups x cog) kernel, flipped:
    a transposed convolution is the gradient of a convolution."""
    cig, cog = lay.c_in // lay.groups, lay.c_out // lay.groups
    wg = w.reshape(lay.groups, cig, cog, *w.shape[2:])
    hwio = np.moveaxis(wg, (0, 1, 2), (-2, -3, -1)).reshape(*w.shape[2:], cig, lay.c_out)
    return np.ascontiguousarray(hwio[(slice(None, None, -1),) * lay.dims])


def jax_numbers(lay: Layer) -> tuple[str, str, str]:
    spatial = "DHW"[3 - lay.dims :]
    return f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"


def tf_kernel(lay: Layer, w: np.ndarray) -> np.ndarray:
    """w as tf.nn.conv*_transpose's (k..., C_out, C_in) kernel."""
    return np.ascontiguousarray(np.moveaxis(w, (0, 1), (-1, -2)))


def jax_runner(lay: Layer, x: np.ndarray, w: np.ndarray, threads: int) -> Runner:
    import jax
    from jax import lax

    edge = [(lay.k - 1 - lay.p, lay.k - 1 - lay.p + lay.op)] * lay.dims
    xj = jax.device_put(np.ascontiguousarray(np.moveaxis(x, 1, -1)))
    wj = jax.device_put(jax_kernel(lay, w))
    fn = jax.jit(
        lambda a: lax.conv_general_dilated(
            a,
            wj,
            (1,) * lay.dims,
            edge,
            lhs_dilation=(lay.s,) * lay.dims,
            feature_group_count=lay.groups,
            dimension_numbers=jax_numbers(lay),
        )
    )
    return (lambda: fn(xj).block_until_ready()), lambda y: np.moveaxis(np.asarray(y), -1, 1)


def tensorflow_runner(lay: Layer, x: np.ndarray, w: np.ndarray, threads: int) -> Runner:
    import tensorflow as tf

    if lay.groups != 1:
        return None  # tf.nn.conv*_transpose has no groups
    if not getattr(tensorflow_runner, "configured", False):
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tensorflow_runner.configured = True
    # NHWC input, kernel (k..., C_out, C_in); 1-D runs as 2-D with a unit height,
    # as tf.nn.conv1d_transpose does, so that the crop can be explicit.
    dims = max(lay.dims, 2)
    unit = (1,) * (dims - lay.dims)
    xn = np.moveaxis(x, 1, -1).reshape(lay.batch, *unit, *lay.size, lay.c_in)
    kern = tf_kernel(lay, w).reshape(*unit, *w.shape[2:], lay.c_out, lay.c_in)
    out_shape = [lay.batch, *unit, *lay.out_size(), lay.c_out]
    xt, kt = tf.constant(np.ascontiguousarray(xn)), tf.constant(np.ascontiguousarray(kern))
    strides = [1, *unit, *[lay.s] * lay.dims, 1]
    if dims == 2:
        crops = [[0, 0], *[[0, 0]] * len(unit), *[[lay.p, lay.p - lay.op]] * lay.dims, [0, 0]]
        fn = tf.function(lambda a: tf.nn.conv2d_transpose(a, kt, out_shape, strides, padding=crops))
    elif lay.p == 0 and lay.op == 0:
        fn = tf.function(lambda a: tf.nn.conv3d_transpose(a, kt, out_shape, strides, padding="VALID"))
    else:
        return None  # conv3d_transpose takes SAME or VALID only
    return (lambda: fn(xt)), lambda y: np.moveaxis(
        y.numpy().reshape(out_shape[0], *out_shape[-1 - lay.dims :]), -1, 1
    )


FRAMEWORKS: dict[str, tuple[str, Maker]] = {
    "torch": ("torch", torch_runner),
    "onnxrt": ("onnxruntime", onnxruntime_runner),
    "jax": ("jax", jax_runner),
    "tf": ("tensorflow", tensorflow_runner),
}


def installed(names: list[str]) -> dict[str, Maker]:
    import importlib.util

    return {name: FRAMEWORKS[name][1] for name in names if importlib.util.find_spec(FRAMEWORKS[name][0])}


def versions(names: list[str]) -> str:
    import importlib.metadata

    dists = {"torch": "torch", "onnxrt": "onnxruntime", "jax": "jax", "tf": "tensorflow-cpu"}
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(dists[name])}")
        except importlib.metadata.PackageNotFoundError:
            found.append(name)
    return ", ".join(found)


def peak_extra_mib(fn: Callable[[], np.ndarray]) -> float:
    """Peak memory traced during fn beyond its output (numpy reports to tracemalloc),
    the arenas an earlier call kept freed first so that they count."""
    buffers.release()
    gc.collect()
    tracemalloc.start()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - result.nbytes) / 2**20


def gemm_share(fn: Callable[[], np.ndarray]) -> float:
    """Share of the engine's working time (summed over its worker threads) spent
    in np.matmul, its BLAS GEMMs; the rest is numpy copies and adds."""
    inner_matmul, inner_run = np.matmul, parallel.run_chunks
    lock = threading.Lock()
    spent = {"gemm": 0.0, "work": 0.0}

    def add(key: str, start: float) -> None:
        with lock:
            spent[key] += time.perf_counter() - start

    def timed_matmul(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = inner_matmul(*args, **kwargs)
        add("gemm", start)
        return result

    def timed_run(chunks: Any, work: Callable[[int, int, Any], None], arenas: Any, done: Any) -> None:
        def timed_work(begin: int, end: int, arena: Any) -> None:
            start = time.perf_counter()
            work(begin, end, arena)
            add("work", start)

        inner_run(chunks, timed_work, arenas, done)

    fn()
    np.matmul, parallel.run_chunks = timed_matmul, timed_run
    try:
        fn()
    finally:
        np.matmul, parallel.run_chunks = inner_matmul, inner_run
    return spent["gemm"] / spent["work"] if spent["work"] else math.nan


def time_blocks(
    runs: dict[str, Callable[[], object]], rounds: int, repeats: int, pause: float
) -> dict[str, float]:
    """Best block median per library, in seconds; libraries alternate in a rotating order."""
    names = list(runs)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = runs[name]
            time.sleep(pause)
            fn()  # wakes the library's threads after the pause
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            medians[name].append(statistics.median(times))
    return {name: min(values) for name, values in medians.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for every library")
    parser.add_argument("--rounds", type=int, default=3, help="alternating blocks per library and layer")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per block")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds of idle before each block")
    parser.add_argument("--layers", help="comma-separated name prefixes")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated, of the default")
    args = parser.parse_args()
    unknown = set(args.frameworks.split(",")) - set(FRAMEWORKS)
    if unknown:
        parser.error(f"unknown framework {', '.join(sorted(unknown))}: use some of {', '.join(FRAMEWORKS)}")

    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads, user_api="blas")
    makers = installed(args.frameworks.split(","))
    layers = [
        lay
        for lay in LAYERS
        if not args.layers or any(lay.name.startswith(w) for w in args.layers.split(","))
    ]
    threads, blas = blas_info()
    # on one thread and on all: how much more cores add to memory-bound passes
    one, shared = copy_bandwidth_gbs(), copy_bandwidth_gbs(threads=args.threads)
    peak, bandwidth = sgemm_peak_gflops(), max(one, shared)
    print(f"numpy {np.__version__} with {blas}, {threads} threads; {versions(list(makers))}")
    print(
        f"{args.threads} threads each (jax: {len(os.sched_getaffinity(0))} CPUs), float32; "
        f"best of {args.rounds} blocks, median of {args.repeats}; "
        f"measured sgemm peak {peak:.0f} GF/s, copy bandwidth {one:.1f} GB/s on 1 thread, "
        f"{shared:.1f} on {args.threads}"
    )
    header = (
        f"{'layer':<22}"
        + "".join(f"{name:>8}" for name in makers)
        + f"{'deconv':>8}{'/best':>7}{'GF/s':>6}{'peak':>5}{'bound':>7}{'/bound':>7}"
        + f"{'BLAS':>5}{'MiB':>6}{'others':>7}"
    )
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(0)
    ratios, bounds = [], []
    failed = False
    for lay in layers:
        x, w = lay.inputs(rng)
        ours = lay.deconv(x, w)
        expected = ours()
        scale = float(np.abs(expected).max())
        runs: dict[str, Callable[[], object]] = {}
        for name, make in makers.items():
            runner = make(lay, x, w, args.threads)
            if runner is None:
                continue
            call, as_numpy = runner
            got = as_numpy(call())
            if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-5, atol=1e-5 * scale):
                failed = True
                print(f"{lay.name:<22} {name} differs from deconv: not timed")
                continue
            runs[name] = call
        runs["deconv"] = ours
        interference = Interference()
        best = time_blocks(runs, args.rounds, args.repeats, args.pause)
        others = interference.share()
        t_ours = best.pop("deconv")
        ratio = t_ours / min(best.values()) if best else math.nan
        out_elems = lay.batch * lay.c_out * math.prod(lay.out_size())
        traffic = 4 * (x.size + w.size + out_elems)
        bound = max(lay.flops / peak / 1e9, traffic / bandwidth / 1e9)
        if best:
            ratios.append(ratio)
        bounds.append(t_ours / bound)
        gflops = lay.flops / t_ours / 1e9
        cells = "".join(f"{1e3 * best[name]:>8.2f}" if name in best else f"{'-':>8}" for name in makers)
        print(
            f"{lay.name:<22}{cells}{1e3 * t_ours:>8.2f}{ratio:>7.2f}{gflops:>6.0f}{gflops / peak:>5.0%}"
            f"{1e3 * bound:>7.2f}{t_ours / bound:>7.2f}"
            f"{gemm_share(ours):>5.0%}{peak_extra_mib(ours):>6.1f}{others:>7.0%}",
            flush=True,
        )
    print(
        "ms per call; /best: deconv over the fastest framework; peak: deconv's GF/s over the sgemm peak;\n"
        "bound: a direct method's floor (flops at the sgemm peak or bytes at the copy bandwidth);\n"
        "BLAS: share of deconv's working time in GEMMs (the rest: numpy copies and adds);\n"
        "MiB: deconv's peak extra memory; others: CPU share other processes used meanwhile"
    )
    if ratios:
        print(
            f"geometric mean deconv/best {geomean(ratios):.2f}, worst {max(ratios):.2f} "
            f"(target <= 1.0, none above 1.25); deconv/bound {geomean(bounds):.2f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
