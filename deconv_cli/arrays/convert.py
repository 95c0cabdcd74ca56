"""``convert``: a weight or data array from one framework's layout to another's.

Every weight passes through torch's ``(C_in, C_out/groups, *k)``, the gradient form
that torch, ONNX, TensorFlow and Keras all apply without a flip. JAX's
``lax.conv_transpose`` applies its ``(*k, C_in, C_out)`` kernel as a direct
convolution (``transpose_kernel=False``, its default), so that kernel is torch's
spatially flipped; with ``transpose_kernel=True`` it takes TensorFlow's
``(*k, C_out, C_in)`` unflipped. Keras and JAX have no groups: a grouped weight
becomes the dense block-diagonal one, and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np

from deconv_cli.arrays.layouts import from_channels_first, to_channels_first, to_torch_weight
from deconv_cli.core.frameworks import DATA_SHAPES, FRAMEWORKS, WEIGHT_SHAPES, Framework
from deconv_cli.errors import DeconvError

if TYPE_CHECKING:
    import numpy.typing as npt

    Array = npt.NDArray[np.generic]

Kind = Literal["weight", "input", "output"]
KINDS: tuple[Kind, ...] = ("weight", "input", "output")
#: the layouts ``convert`` knows: the five frameworks, and JAX with ``transpose_kernel=True``
TRANSPOSE_KERNEL = "jax_transpose_kernel"
LAYOUTS = (*FRAMEWORKS, TRANSPOSE_KERNEL)
API_NAMES = {name: name for name in ("source", "target", "kind", "groups", "array")}


def convert(
    array: npt.ArrayLike, *, source: str, target: str, kind: Kind = "weight", groups: int = 1
) -> Array:
    """``array`` (a weight, or an input or output batch) from ``source``'s layout to ``target``'s.

    ``source`` and ``target`` are ``torch``, ``tf``, ``keras``, ``onnx``, ``jax`` (the kernel
    as ``lax.conv_transpose`` applies it by default) or ``jax_transpose_kernel``. Data keeps
    its batch axis: ``(N, C, *spatial)`` for torch and onnx, ``(N, *spatial, C)`` otherwise.
    ``groups`` is the layer's; a grouped weight becomes block-diagonal for Keras and JAX.

    >>> w = np.arange(12.0).reshape(2, 3, 2)  # torch: C_in 2, C_out 3, k 2
    >>> convert(w, source="torch", target="tf").shape
    (2, 3, 2)
    >>> convert(w, source="torch", target="jax")[:, 0, 0].tolist()  # flipped: w[0, 0, ::-1]
    [1.0, 0.0]
    """
    return rearrange(array, source, target, kind, groups, API_NAMES)


def rearrange(
    array: npt.ArrayLike, source: str, target: str, kind: str, groups: int, names: Mapping[str, str]
) -> Array:
    """``convert``, with messages that call its parameters ``names`` (the CLI's options)."""
    for role, value, allowed in (
        ("source", source, LAYOUTS),
        ("target", target, LAYOUTS),
        ("kind", kind, KINDS),
    ):
        if value not in allowed:
            raise DeconvError(f"{names[role]} must be one of {', '.join(allowed)} (got {value!r})")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise DeconvError(f"{names['groups']} must be an int >= 1 (got {groups!r})")
    values = np.asarray(array)
    if values.ndim not in (3, 4, 5):
        if kind == "weight":
            what = f"a {source} weight {WEIGHT_SHAPES[_rules(source).weight_layout]} with 1-3 kernel axes"
        else:
            what = f"{source} data {DATA_SHAPES[_rules(source).channels_last]} with 1-3 spatial axes"
        raise DeconvError(
            f"{names['array']} must have 3, 4 or 5 dimensions: {what} (got shape {values.shape})"
        )
    if kind != "weight":
        first = to_channels_first(values, _rules(source).channels_last)
        moved = from_channels_first(first, _rules(target).channels_last)
    else:
        moved = _from_torch(_to_torch(values, source, groups, names), target, groups)
    return np.ascontiguousarray(moved)


def _rules(layout: str) -> Framework:
    """The framework whose layouts ``layout`` uses: JAX with transpose_kernel takes TensorFlow's kernel."""
    return FRAMEWORKS["tf" if layout == TRANSPOSE_KERNEL else layout]


def _grouped(layout: str) -> bool:
    return layout in FRAMEWORKS and FRAMEWORKS[layout].has_groups


def _to_torch(w: Array, layout: str, groups: int, names: Mapping[str, str]) -> Array:
    """The weight as torch's (C_in, C_out/groups, *k), as ``conv_transpose`` reads it."""
    torch = to_torch_weight(w, _rules(layout))
    if groups > 1 and not _grouped(layout):
        torch = _blocks(torch, groups, layout, names)
    elif torch.shape[0] % groups:
        raise DeconvError(
            f"C_in = {torch.shape[0]} must be divisible by {names['groups']} (got {groups}; "
            f"{layout} weight {WEIGHT_SHAPES[_rules(layout).weight_layout]}, shape {w.shape})"
        )
    return torch


def _from_torch(w: Array, layout: str, groups: int) -> Array:
    """Torch's (C_in, C_out/groups, *k) weight in ``layout``: the inverse of ``_to_torch_weight``."""
    rank = w.ndim - 2
    if groups > 1 and not _grouped(layout):
        w = _dense(w, groups)
    weight_layout = _rules(layout).weight_layout
    if weight_layout == "in_out":
        return w
    if weight_layout == "k_in_out_flipped":
        return np.flip(np.transpose(w, (*range(2, rank + 2), 0, 1)), axis=tuple(range(rank)))
    return np.transpose(w, (*range(2, rank + 2), 1, 0))


def _dense(w: Array, groups: int) -> Array:
    """The block-diagonal (C_in, C_out, *k) weight of a grouped (C_in, C_out/groups, *k) one."""
    c_in, per_group = w.shape[:2]
    size = c_in // groups
    dense = np.zeros((c_in, per_group * groups, *w.shape[2:]), dtype=w.dtype)
    for g in range(groups):
        dense[g * size : (g + 1) * size, g * per_group : (g + 1) * per_group] = w[g * size : (g + 1) * size]
    return dense


def _blocks(w: Array, groups: int, layout: str, names: Mapping[str, str]) -> Array:
    """The grouped weight of a dense block-diagonal (C_in, C_out, *k) one; refused unless block-diagonal."""
    c_in, c_out = w.shape[:2]
    if c_in % groups or c_out % groups:
        raise DeconvError(
            f"C_in = {c_in} and C_out = {c_out} must be divisible by {names['groups']} (got {groups}; "
            f"{layout} weight {WEIGHT_SHAPES[_rules(layout).weight_layout]})"
        )
    size, per_group = c_in // groups, c_out // groups
    grouped = np.stack(
        [w[g * size : (g + 1) * size, g * per_group : (g + 1) * per_group] for g in range(groups)]
    ).reshape(c_in, per_group, *w.shape[2:])
    if not np.array_equal(_dense(grouped, groups), w):
        raise DeconvError(
            f"the {layout} weight is not block-diagonal for {names['groups']} {groups}: {layout} "
            "has no groups, so a grouped layer's weight is zero between the groups; check the groups"
        )
    return grouped
