"""NumPy execution engine for transposed convolution.

Semantics: ``full[i*s + j*d] += x[i] * w[j]`` (the gradient of
cross-correlation, no kernel flip), then ``out[t] = full_ext[t + L]`` where
``full_ext`` is ``full`` zero-extended on both sides, so negative crops add
zeros.

Every strategy is one or a few matmuls, one module each; ``planner`` picks
one per call with a cost model whose constants ``costs`` reads from a file
measured by ``benchmarks/measure_costs.py``:

* ``phase``: stride-phase GEMMs over im2col patches,
* ``columns``: col2im, one GEMM then the taps summed stride phase by
  stride phase in flat slices (1-D and 2-D), else one strided add per tap,
* ``channels_last``: col2im with pixels as GEMM rows,
* ``pointwise``: latent vectors (every input size 1), one GEMM,
* ``karatsuba`` and ``karatsuba_first``: three products per pair of inputs
  instead of four, when every kernel footprint spans two stride blocks.

``buffers`` holds what they share: reusable arenas, kept for the next call,
and the blocked scatter into the interleaved output.  ``transpose`` runs
the plan over the batch in chunks, which ``parallel`` spreads over worker
threads, each with a single-threaded BLAS, so that the copies and adds use
every core too (except for ``phase`` and col2im by phase, measured faster
on the BLAS's threads).
"""

from deconv_cli.arrays.engine.transpose import DEFAULT_MAX_MEMORY, conv_transpose, scratch

__all__ = ["DEFAULT_MAX_MEMORY", "conv_transpose", "scratch"]
