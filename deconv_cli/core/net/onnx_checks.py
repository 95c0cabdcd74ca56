"""Checks for the ONNX reader (``core.net.onnx``): the values of a malformed graph, the bound on
constant folding."""

from __future__ import annotations

import math
from typing import Any

from deconv_cli.errors import DeconvError, ExitCode

DYNAMIC = "dynamic"  # a value computed at run time (from Shape, ...), not a constant
UNFOLDED = "unfolded"  # a constant deconv did not compute (see _fold), or external data
# the operators _fold computes: the shape arithmetic exporters build pads, scales and sizes with,
# whose work and result are bounded by their inputs' sizes (ConstantOfShape and Expand by their
# shape's values too); anything else, like a Conv or a Loop on constants, could run for ever
FOLDS = {
    "Abs", "Add", "And", "Cast", "CastLike", "Ceil", "Concat", "Constant", "ConstantOfShape",
    "Div", "Equal", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "Greater",
    "GreaterOrEqual", "Identity", "Less", "LessOrEqual", "Max", "Min", "Mod", "Mul", "Neg", "Not",
    "Or", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSum", "Reshape", "Round", "Shape", "Sign",
    "Size", "Slice", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Transpose", "Unsqueeze", "Where",
    "Xor",
}  # fmt: skip
# the most elements a folded constant may have: pads and scales have a few, and this bounds the
# memory a small file can claim (a ConstantOfShape of 30000 x 30000 is 266 bytes on disk)
FOLD_LIMIT = 1 << 20


def foldable(node: Any, inputs: list[Any]) -> bool:
    """Whether ``_fold`` computes ``node`` on the arrays ``inputs``: an operator of FOLDS whose
    result stays within FOLD_LIMIT elements (at most the product of its inputs' sizes, times
    the shape ConstantOfShape and Expand read)."""
    if node.op_type not in FOLDS or any(a.name == "sparse_value" for a in node.attribute):
        return False  # a sparse Constant's dims, not its data, size its dense value
    sizes = [max(1, value.size) for value in inputs]
    if node.op_type in ("ConstantOfShape", "Expand") and inputs:
        if inputs[-1].dtype.kind not in "iu":
            return False
        sizes += [max(1, abs(d)) for d in inputs[-1].reshape(-1).tolist()]
    total = 1
    for size in sizes:
        total *= size
        if total > FOLD_LIMIT:  # stops before the product grows with the values
            return False
    return True


def int_list(values: Any, what: str) -> list[int]:
    """``values`` checked to be a list of integers."""
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise DeconvError(f"{what} must be a list of integers (got {cut(values)})", ExitCode.FAILURE)
    return values


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def cut(value: Any) -> str:
    """A value shown in a message, cut to one short line."""
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else f"{text[:57]}..."
