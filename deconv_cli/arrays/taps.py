"""The transposed convolution tap by tap: for strides, dilations and crops too large for the engine.

The engine's plans enumerate the phases of the stride and the span of the dilated
kernel, so their work grows with those values. Here each kernel tap adds one strided
slice of the output, ``out[..., i*s + j*d - begin] += x[..., i] @ w[:, :, j]``: the work
is (kernel taps) x (inputs that land inside the output), bounded by the data whatever
the stride, dilation or crop.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from deconv_cli.core.geometry import Axis

if TYPE_CHECKING:
    import numpy.typing as npt


def conv_transpose(
    x: npt.NDArray[Any],
    w: npt.NDArray[Any],
    axes: Sequence[Axis],
    crop: Sequence[tuple[int, int]],
    groups: int,
    bias: npt.NDArray[Any] | None,
) -> npt.NDArray[Any]:
    """``x`` (N, C_in, *spatial) by ``w`` (C_in, C_out/groups, *k), cropped ``(begin, end)`` per axis.

    >>> x, w = np.array([[[1.0, 2.0]]]), np.ones((1, 1, 2))
    >>> conv_transpose(x, w, [Axis(2, 2, 10**9)], [(0, 10**9 - 2)], 1, None).tolist()
    [[[1.0, 1.0, 0.0, 0.0]]]
    """
    lengths = [a.full - begin - end for a, (begin, end) in zip(axes, crop, strict=True)]
    cig, cog = x.shape[1] // groups, w.shape[1]
    out = np.zeros((x.shape[0], cog * groups, *lengths), dtype=x.dtype)
    if bias is not None:
        out += bias.reshape(-1, *(1,) * len(lengths))
    for taps in itertools.product(*(range(a.kernel_size) for a in axes)):
        sources, targets = [], []
        for a, j, (begin, _), length in zip(axes, taps, crop, lengths, strict=True):
            offset = j * a.dilation - begin  # input i lands on output i*s + offset
            first = max(0, -(offset // a.stride))
            last = min(a.n, (length - 1 - offset) // a.stride + 1)
            if last <= first:
                break
            sources.append(slice(first, last))
            targets.append(slice(first * a.stride + offset, (last - 1) * a.stride + offset + 1, a.stride))
        else:
            for g in range(groups):
                xs = x[(slice(None), slice(g * cig, (g + 1) * cig), *sources)]
                tap: tuple[Any, ...] = (slice(g * cig, (g + 1) * cig), slice(None), *taps)
                part = np.moveaxis(np.tensordot(xs, w[tap], axes=([1], [0])), -1, 1)
                out[(slice(None), slice(g * cog, (g + 1) * cog), *targets)] += part
    return out
