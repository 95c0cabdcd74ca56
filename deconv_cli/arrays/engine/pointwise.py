"""Pointwise: every input spatial size is 1 (a latent vector), taps never
overlap and one GEMM writes the output."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deconv_cli.arrays.engine.axis import Axis
from deconv_cli.arrays.engine.buffers import Arena, Array


def run(
    x: Array, w: Array, out: Array, axes: Sequence[Axis], n_groups: int, direct: bool, arena: Arena
) -> None:
    """All input spatial sizes are 1: out[t = j*d - lo] = x . w[j], one GEMM.

    With ``direct`` the output is exactly the full kernel footprint and, for
    one group, the GEMM writes it in place; otherwise in-range taps are copied.
    """
    nb, c_in = x.shape[:2]
    cig = c_in // n_groups
    cog = out.shape[1] // n_groups
    w3 = w.reshape(n_groups, cig, -1)
    if n_groups == 1 and direct:
        np.matmul(x.reshape(nb, c_in), w3[0], out=out.reshape(nb, -1))
        return
    arena.used = 0
    full = arena.take(n_groups, nb, w3.shape[2])
    np.matmul(x.reshape(nb, n_groups, cig).transpose(1, 0, 2), w3, out=full)
    fullg = np.moveaxis(full.reshape(n_groups, nb, cog, *(ax.k for ax in axes)), 0, 1)
    src_idx, dst_idx = [], []
    for ax in axes:
        valid = [j for j in range(ax.k) if 0 <= j * ax.d - ax.lo < ax.o]
        if not valid:
            return
        t0 = valid[0] * ax.d - ax.lo
        src_idx.append(slice(valid[0], valid[-1] + 1))
        dst_idx.append(slice(t0, t0 + (len(valid) - 1) * ax.d + 1, ax.d))
    outg = out.reshape(nb, n_groups, cog, *out.shape[2:])
    dst = outg[(slice(None),) * 3 + tuple(dst_idx)]
    src = fullg[(slice(None),) * 3 + tuple(src_idx)]
    if direct:
        np.copyto(dst, src)
    else:
        dst += src
