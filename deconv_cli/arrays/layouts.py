"""Axes moved between a framework's layouts and the engine's: data ``(N, C, *spatial)``,
weights ``(C_in, C_out/groups, *k)`` applied without a flip."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from deconv_cli.core.frameworks import Framework

if TYPE_CHECKING:
    import numpy.typing as npt


def torch_weight_shape(shape: tuple[int, ...], rules: Framework) -> tuple[int, int, tuple[int, ...]]:
    """(C_in, C_out/groups, kernel) of a weight in ``rules``' layout."""
    rank = len(shape) - 2
    if rules.weight_layout == "k_out_in":  # (*k, C_out/groups, C_in)
        return shape[rank + 1], shape[rank], shape[:rank]
    if rules.weight_layout == "k_in_out_flipped":  # (*k, C_in, C_out)
        return shape[rank], shape[rank + 1], shape[:rank]
    return shape[0], shape[1], shape[2:]


def to_channels_first(x: npt.NDArray[np.generic], channels_last: bool) -> npt.NDArray[np.generic]:
    return np.moveaxis(x, -1, 1) if channels_last else x


def from_channels_first(x: npt.NDArray[np.generic], channels_last: bool) -> npt.NDArray[np.generic]:
    return np.moveaxis(x, 1, -1) if channels_last else x


def to_torch_weight(w: npt.NDArray[np.generic], rules: Framework) -> npt.NDArray[np.generic]:
    """The weight as (C_in, C_out/groups, *k), applied without a flip."""
    rank = w.ndim - 2
    spatial = tuple(range(rank))
    if rules.weight_layout == "k_out_in":  # (*k, C_out/groups, C_in)
        return np.transpose(w, (rank + 1, rank, *spatial))
    if rules.weight_layout == "k_in_out_flipped":  # (*k, C_in, C_out), a direct-conv kernel
        return np.flip(np.transpose(w, (rank, rank + 1, *spatial)), axis=tuple(range(2, rank + 2)))
    return w
