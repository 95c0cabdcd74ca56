"""Whole networks against the frameworks: tests/golden/nets/records.json, from make_nets.py.

For every golden net, framework and swept axis, and every input size h recorded: deconv's model
(built through core.net.layers from the one description in netspec.py) reaches the same layers
with the same sizes, fails at the layer where the framework failed, and its solver's valid set is
exactly the set of sizes the framework ran.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from helpers import GOLDEN, load

from deconv_cli.core.net import solve

netspec = load(GOLDEN / "netspec.py")
RECORDS = json.loads((GOLDEN / "nets" / "records.json").read_text())
NETS = {net.name: net for net in netspec.NETS}
CASES = [
    (name, framework, int(axis))
    for name, frameworks in RECORDS.items()
    for framework, axes in frameworks.items()
    if framework != "onnx"  # read from the exported model by test_net_readers.py
    for axis in axes
]


def expected(record: dict[str, Any], layers: list[str]) -> list[tuple[dict[str, int], str | None]]:
    """Per h: the size of every layer the framework reached, and the layer it failed at."""
    hmax = record["hmax"]
    columns = {name: netspec.decode(record["sizes"][name], hmax) for name in layers}
    out = []
    for h, label in enumerate(netspec.decode_labels(record["outcome"]), start=1):
        sizes = {name: column[h - 1] for name, column in columns.items() if column[h - 1] is not None}
        out.append((sizes, label.split(":")[0] if label else None))
    return out


def test_the_records_cover_at_least_thirty_nets_in_two_frameworks():
    both = [name for name, frameworks in RECORDS.items() if {"torch", "keras"} <= set(frameworks)]
    assert len(RECORDS) >= 30
    assert len(both) >= 20
    assert set(RECORDS) == set(NETS)


@pytest.mark.parametrize(("name", "framework", "axis"), CASES)
def test_layer_sizes_and_failures_match_the_framework(name, framework, axis):
    net = NETS[name]
    record = RECORDS[name][framework][str(axis)]
    network = netspec.network(net, framework)
    layers = [layer[0] for layer in net.layers]
    for h, (sizes, failed) in enumerate(expected(record, layers), start=1):
        got, got_failed = netspec.run(network, axis, h)
        got.pop(network.nodes[0].name)
        if sizes or failed is None:  # a worker crash leaves the sizes unknown, not the layer
            assert got == sizes, (h, failed)
        assert got_failed == failed, h


@pytest.mark.parametrize(("name", "framework", "axis"), CASES)
def test_the_valid_set_is_exactly_the_sizes_the_framework_runs(name, framework, axis):
    record = RECORDS[name][framework][str(axis)]
    valid = solve.valid(netspec.network(NETS[name], framework), axis)
    ran = [h for h, label in enumerate(netspec.decode_labels(record["outcome"]), start=1) if not label]
    assert [h for h in range(1, record["hmax"] + 1) if h in valid] == ran


# ---- live: the frameworks themselves, on a few nets ----------------------------------------------

LIVE = ["unet3_pool_convT", "unet3_ceil_mode", "unet3_pool3_s2_p1_ceil", "audio_hifigan_odd", "unet2_2d_rect"]


def _make_nets() -> Any:
    sys.path.insert(0, str(GOLDEN))  # make_nets imports its sibling modules by name
    try:
        import make_nets  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(GOLDEN))
    return make_nets


def _live(framework: str, handler: Any, names: list[str]) -> None:
    for name in names:
        net = NETS[name]
        if framework not in net.frameworks:
            continue
        network = netspec.network(net, framework)
        for axis in net.axes:
            held = _make_nets().fixed_size(net, framework, 1 - axis if net.rank == 2 else 0)
            for h in range(1, 70):
                result = handler(0, {"net": name, "axis": axis, "h": h, "fixed": held})
                got, failed = netspec.run(network, axis, h)
                assert failed == (result["fail"] or [None])[0], (name, axis, h)
                assert list(got.values())[1:] == result["sizes"], (name, axis, h)


@pytest.mark.torch
def test_live_torch_nets_match_the_layer_maps():
    pytest.importorskip("torch")
    _live("torch", _make_nets().torch_handler(), LIVE)


@pytest.mark.tf
def test_live_keras_nets_match_the_layer_maps():
    pytest.importorskip("keras")
    _live("keras", _make_nets().keras_handler(), ["unet3_pool_convT", "unet2_2d_rect", "unet3_pool3_s2_same"])


@pytest.mark.onnx
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter and its helpers
def test_live_onnx_exports_read_back_as_onnx_runtime_runs_them():
    pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    import io

    import numpy as np
    import onnxruntime as ort

    from deconv_cli.core.net import onnx as onnx_reader

    make_nets = _make_nets()
    for name in ("unet3_pool3_s2_p1_ceil", "unet2_valid_crop", "audio_hifigan_odd"):
        net = NETS[name]
        buffer = io.BytesIO()
        example = torch.zeros(1, 1, make_nets.fixed_size(net, "torch", 0))
        torch.onnx.export(
            make_nets.torch_module(net), (example,), buffer, dynamo=False, input_names=["x"],
            dynamic_axes={"x": {2: "n"}}, opset_version=17,
        )  # fmt: skip
        session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
        network = onnx_reader.network(buffer.getvalue())
        for h in range(1, 70):
            sizes, failed = netspec.run(network, 0, h)
            try:
                output = session.run(None, {"x": np.zeros((1, 1, h), np.float32)})[0].shape[2]
            except Exception:  # ONNX Runtime's refusal
                output = None
            assert (sizes.get(network.nodes[-1].name) if failed is None else None) == (output or None), (
                name,
                h,
            )
