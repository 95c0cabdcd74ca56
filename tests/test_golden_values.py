"""`conv_transpose` against results recorded from torch, TensorFlow, Keras, ONNX Runtime and JAX."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from deconv_cli import conv_transpose

GOLDEN = Path(__file__).parent / "golden"
CASES: list[dict[str, Any]] = json.loads((GOLDEN / "values.json").read_text())
ARRAYS = np.load(GOLDEN / "values.npz", allow_pickle=False)
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def padding_of(case: dict[str, Any]) -> Any:
    """The recorded padding as the framework takes it; jax's values were recorded with
    use_consistent_padding=True (a crop), its default takes edge padding d*(k-1) - crop."""
    padding = case["padding"]
    if isinstance(padding, str):
        return padding
    if case["framework"] != "jax":
        return [tuple(pair) for pair in padding]
    kernel = ARRAYS[f"{case['id']}_w"].shape[: len(padding)]
    edges = [d * (k - 1) for k, d in zip(kernel, case["dilation"], strict=True)]
    return [(edge - begin, edge - end) for edge, (begin, end) in zip(edges, padding, strict=True)]


def test_golden_values_cover_every_framework_and_rank():
    covered = {(c["framework"], len(c["stride"])) for c in CASES}
    for framework in ("torch", "tf", "onnx", "jax"):
        assert {(framework, rank) for rank in (1, 2, 3)} <= covered
    assert {("keras", 1), ("keras", 2)} <= covered


@pytest.mark.parametrize("case", CASES, ids=[f"{c['id']}-{c['framework']}-{c['note']}" for c in CASES])
def test_conv_transpose_equals_the_frameworks_result(case):
    key = case["id"]
    y = conv_transpose(
        ARRAYS[f"{key}_x"],
        ARRAYS[f"{key}_w"],
        stride=case["stride"],
        dilation=case["dilation"],
        padding=padding_of(case),
        output_padding=case["output_padding"],
        output_shape=case["output_shape"],
        groups=case["groups"],
        bias=ARRAYS[f"{key}_b"] if case["bias"] else None,
        framework=case["framework"],
    )
    expected = ARRAYS[f"{key}_y"]
    rtol = TOLERANCE[case["dtype"]]
    # absolute slack for sums that cancel to ~0, scaled to the result's magnitude
    atol = rtol * float(np.abs(expected).max(initial=1.0))
    assert y.dtype == expected.dtype
    assert_allclose(y, expected, rtol=rtol, atol=atol, strict=True)
