"""The cost model's constants: ns per element moved or per flop.

They are measured on the target machine by ``benchmarks/measure_costs.py``,
which writes ``costs.json`` next to this module; only their ratios matter.
"""

from __future__ import annotations

import json
from pathlib import Path

COSTS_FILE = Path(__file__).with_name("costs.json")

_measured: dict[str, float] = json.loads(COSTS_FILE.read_text())["ns"]

NS_FLAT = _measured["flat_copy"]  # contiguous slice copy
NS_CONTIG_ADD = _measured["contiguous_add"]  # in-place add over long contiguous rows
NS_TRANSPOSE = _measured["transpose"]  # copy that moves the channel axis across the pixels
NS_FLOP = _measured["flop"]  # BLAS sgemm, all threads, inner dimension 512
NS_PLAN = _measured["plan"]  # fixed cost of one more im2col + GEMM pass


def flop_ns(depth: int, rows: int) -> float:
    """BLAS sgemm per flop, for weights of ``rows`` rows summed over ``depth``:
    below about 128 of either, every output element's store and the packing
    of the wide operand weigh on fewer flops.  Linear in 1 / min(depth, rows)
    through the two measured points."""
    thin = min(depth, rows)
    slope = (_measured["flop_k64"] - NS_FLOP) / (1 / 64 - 1 / 128)
    return NS_FLOP + max(0.0, 1 / thin - 1 / 128) * max(0.0, slope)


def strided_ns(run: int) -> float:
    """Strided copy with contiguous inner runs of ``run`` elements: numpy
    pays a fixed overhead per inner loop on top of the per-element cost."""
    return _measured["strided_copy"] + _measured["strided_copy_per_run"] / run


def add_ns(run: int) -> float:
    """Strided in-place add with inner runs of ``run`` elements."""
    return _measured["strided_add"] + _measured["strided_add_per_run"] / run
