"""The engine's entry point: plan once per shape, then run the chosen
strategy over the batch in chunks that fit the memory budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from deconv_cli.arrays.engine import (
    axis,
    buffers,
    channels_last,
    columns,
    karatsuba,
    karatsuba_first,
    parallel,
    phase,
    planner,
    pointwise,
)
from deconv_cli.arrays.engine.buffers import Arena, Array

DEFAULT_MAX_MEMORY = 1 << 30

Progress = Callable[[int, int], None]


def scratch(
    spatial: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    crop: Sequence[tuple[int, int]],
    batch: int,
    c_in: int,
    c_out: int,
    groups: int,
) -> tuple[int, int]:
    """(elements per sample, fixed elements) of the intermediates the engine holds for a call:
    what its chunking counts against ``max_memory``."""
    axes = axis.axes_of(spatial, kernel, stride, dilation, crop)
    choice = planner.strategy(axes, batch, c_in, c_out, groups)
    return choice.scratch, _tail(choice.plans)


def _tail(plans: Sequence[phase.Plan]) -> int:
    """How far the phase plans read past their padded planes (``phase.Plan.tail``)."""
    return max((plan.tail for plan in plans), default=0)


def conv_transpose(
    x: Array,
    w: Array,
    *,
    stride: Sequence[int],
    dilation: Sequence[int],
    crop: Sequence[tuple[int, int]],
    groups: int = 1,
    bias: Array | None = None,
    max_memory: int | None = None,
    progress: Progress | None = None,
) -> Array:
    """Transposed convolution of ``x`` (N, C_in, *spatial) with ``w``
    (C_in, C_out // groups, *k) in PyTorch's layout; 1 to 3 spatial axes.

    Per axis, ``stride``, ``dilation`` and ``crop`` = (L, R) give an output
    of length (n - 1)*s + d*(k - 1) + 1 - L - R; negative crops add zeros.
    Arguments are assumed valid.  Computes in and returns ``x.dtype``; ``w``
    and ``bias`` (C_out,) are cast to it.

    ``max_memory`` (bytes, default 1 GiB) bounds the intermediates by
    splitting the batch; one sample always runs, even over budget.  Not
    counted: x, the output and kernel-sized rearrangements of w.  Chunks
    run on as many threads as numpy's BLAS has, each holding the BLAS to
    one thread meanwhile (see ``parallel``), within the same budget.
    ``progress(done, total)`` is called from this thread with the number of
    samples done after each chunk.  Up to ``buffers.KEPT_BYTES`` of
    intermediates stay allocated for the next call (``buffers.release()``
    frees them).
    """
    dtype = x.dtype
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w, dtype=dtype)
    batch, c_in = x.shape[:2]
    c_out = w.shape[1] * groups
    axes = axis.axes_of(x.shape[2:], w.shape[2:], stride, dilation, crop)
    dims = len(axes)
    out_shape = (batch, c_out, *(ax.o for ax in axes))
    bias_b = None if bias is None else np.asarray(bias, dtype=dtype).reshape(c_out, *[1] * dims)
    budget = DEFAULT_MAX_MEMORY if max_memory is None else max_memory

    choice = planner.strategy(axes, batch, c_in, c_out, groups)
    # A NaN or inf reaches exactly the outputs it feeds, as in the frameworks.  One BLAS
    # pass per array checks them (an overflow, past 1e19 in float32, only costs the
    # faster strategy).
    if not choice.exact and not all(np.isfinite(np.dot(a.ravel(), a.ravel())) for a in (x, w)):
        choice = planner.strategy(axes, batch, c_in, c_out, groups, exact=True)
    kind, scratch, plans, shared = choice.kind, choice.scratch, choice.plans, choice.shared
    # Outputs the strategy never writes must hold zero (or the bias) first.
    if choice.covered:
        out = np.empty(out_shape, dtype=dtype)
    else:
        out = np.zeros(out_shape, dtype=dtype)
        if bias_b is not None:
            out += bias_b
    cache = planner.SAMPLE_CHUNK_BYTES if choice.per_sample else planner.CACHE_CHUNK_BYTES
    # small work would not pay for the handover to the workers
    own = choice.blas_threaded or batch * scratch < parallel.MIN_ELEMENTS
    threads = 1 if own else min(parallel.workers(), batch)
    if scratch == 0:
        chunk = max(1, batch)
    else:
        sample = scratch * dtype.itemsize
        if budget // threads < sample:
            threads = 1  # the budget holds one sample at a time
        fits = max(1, min(budget // threads, cache) // sample)
        # chunks of equal size, as many for each thread
        rounds = -(-batch // (fits * threads))
        chunk = -(-batch // (rounds * threads))
    chunks = [(start, min(start + chunk, batch)) for start in range(0, batch, chunk)]
    threads = min(threads, len(chunks))
    size = chunk * scratch + _tail(plans)
    if kind == "phase":
        per_tap = phase.tap_blocks(w, groups)
        weighted = [(plan, phase.weights(per_tap, plan.groups)) for plan in plans]
    elif kind == "channels_last":
        wc = channels_last.weights(w, shared)
    elif kind.startswith("karatsuba"):
        blocks = [karatsuba.Blocks.of(ax) for ax in axes]
        v = karatsuba.weights(w, axes, blocks)

    def work(start: int, stop: int, arena: Arena) -> None:
        xs, outs = x[start:stop], out[start:stop]
        if kind == "pointwise":
            pointwise.run(xs, w, outs, axes, groups, choice.covered, arena)
        elif kind == "columns":
            columns.run(xs, w, outs, axes, groups, bias_b, arena)
        elif kind == "phase":
            phase.run(xs, outs, axes, weighted, groups, bias_b, arena)
        elif kind == "channels_last":
            channels_last.run(xs, outs, axes, shared, wc, bias_b, arena)
        elif kind == "karatsuba":
            karatsuba.run(xs, outs, axes, blocks, v, bias_b, arena)
        elif kind == "karatsuba_first":
            karatsuba_first.run(xs, outs, axes, blocks, v, bias_b, arena)

    finished = 0

    def done(samples: int) -> None:
        nonlocal finished
        finished += samples
        if progress is not None:
            progress(finished, batch)

    with buffers.arenas(threads, size, dtype) as arenas:
        parallel.run_chunks(chunks, work, arenas, done)
    if kind == "pointwise" and choice.covered and bias_b is not None:
        out += bias_b
    return out
