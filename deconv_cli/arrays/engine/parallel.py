"""Batch chunks on several threads, each with a single-threaded BLAS.

OpenBLAS's own threads parallelize only the GEMMs: the copies and adds
around them run on the calling thread while the BLAS threads spin idle,
waiting for the next GEMM (which is why a separate pool of copy threads
measured no faster: it competes with the spinning).  Holding the BLAS to one
thread and giving each worker whole chunks (GEMMs, copies and adds) keeps
every core on all of the work.  numpy releases the GIL in both.

The BLAS is held through threadpoolctl, for the duration of a call; where it
is absent or cannot control numpy's BLAS, chunks run one after the other.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from contextlib import contextmanager
from typing import Any

from deconv_cli.arrays.engine.buffers import Arena

# Calls with fewer intermediate elements than this run on one thread: starting
# the workers costs about as much as a pass over them.
MIN_ELEMENTS = 1 << 18


@functools.cache
def _blas() -> Any:
    """threadpoolctl's controller of numpy's BLAS, or None."""
    try:
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
    except ImportError:
        return None
    blas = ThreadpoolController().select(user_api="blas")
    return blas if blas.lib_controllers else None


def workers() -> int:
    """Threads numpy's BLAS would use: as many workers, or 1 without control."""
    blas = _blas()
    if blas is None:
        return 1
    return max(1, min(int(lib.num_threads) for lib in blas.lib_controllers))


_lock = threading.Lock()
_holders = 0
_restore: Any = None


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """The BLAS held to one thread, from the first of overlapping calls (from
    several threads of the caller) until the last one ends."""
    global _holders, _restore
    blas = _blas()
    if blas is None:
        yield
        return
    with _lock:
        if _holders == 0:
            _restore = blas.limit(limits=1)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _restore.restore_original_limits()


def run_chunks(
    chunks: Sequence[tuple[int, int]],
    work: Callable[[int, int, Arena], None],
    arenas: Sequence[Arena],
    done: Callable[[int], None],
) -> None:
    """``work(start, stop, arena)`` for every chunk, on one thread per arena;
    ``done(samples)`` on this thread after each chunk, in completion order."""
    if len(arenas) == 1:
        for start, stop in chunks:
            work(start, stop, arenas[0])
            done(stop - start)
        return
    free: queue.SimpleQueue[Arena] = queue.SimpleQueue()
    for arena in arenas:
        free.put(arena)

    def job(start: int, stop: int) -> int:
        arena = free.get()
        try:
            work(start, stop, arena)
        finally:
            free.put(arena)
        return stop - start

    with _single_threaded_blas():
        futures = [_pool(len(arenas)).submit(job, *chunk) for chunk in chunks]
        try:
            for future in as_completed(futures):
                done(future.result())
        finally:
            # on an error or an interrupt, chunks not yet started are dropped
            # and the running ones finish before the arenas go
            for future in futures:
                future.cancel()
            wait(futures)


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """Worker threads kept for the next call: starting them costs more than a
    small layer's chunk.  Idle, they wait without using a core."""
    return ThreadPoolExecutor(threads, thread_name_prefix="deconv")
