"""The core against golden vectors recorded from the real frameworks (tests/golden/make_shapes.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.core.pad import pad
from deconv_cli.errors import DeconvError

GOLDEN = Path(__file__).parent / "golden"


def records() -> list[dict[str, Any]]:
    plain, packed = GOLDEN / "shapes.jsonl", GOLDEN / "shapes.jsonl.gz"
    text = plain.read_text() if plain.exists() else gzip.decompress(packed.read_bytes()).decode()
    return [json.loads(line) for line in text.splitlines()]


def layer_of(record: dict[str, Any]) -> tuple[list[Axis], list[Options]]:
    axes = [Axis(*values) for values in zip(record["n"], record["k"], record["s"], record["d"], strict=True)]
    count = len(axes)
    padding = record["padding"]
    paddings = (
        [Padding(padding)] * count if isinstance(padding, str) else [Padding.explicit(*p) for p in padding]
    )
    extra = record["output_padding"] or [None] * count
    wanted = record["output_shape"] or [None] * count
    return axes, [Options(*values) for values in zip(paddings, extra, wanted, strict=True)]


def outcome(record: dict[str, Any]) -> object:
    axes, options = layer_of(record)
    try:
        layers = FRAMEWORKS[record["framework"]].layers(axes, options)
    except DeconvError:
        return "error"
    return {"output": [x.output for x in layers], "crop": [[x.begin, x.end] for x in layers]}


def expected(record: dict[str, Any]) -> object:
    result = record["result"]
    if "error" in result or min(result["output"]) < 1:
        return "error"  # deconv refuses empty outputs, which JAX and oneDNN return as empty arrays
    return result


def comparable(record: dict[str, Any], got: object) -> object:
    """The core's outcome with what the recording could not tell (an ambiguous crop) left out."""
    crop = record["result"].get("crop")
    if isinstance(got, dict) and (crop is None or None in crop):
        return {"output": got["output"], "crop": crop}
    return got


def decided_elsewhere(record: dict[str, Any]) -> bool:
    """Records whose framework answer deconv deliberately does not follow."""
    error = record["result"].get("error", "")
    return (
        # torch has no padding='valid'; deconv reads it as padding=0, its meaning everywhere else
        (record["framework"] == "torch" and record["padding"] == "valid")
        # without oneDNN TF's CPU kernels lack every dilation; deconv follows TF's default, oneDNN on
        or ("do not yet support dilation rates" in error and not record.get("onednn", False))
        # oneDNN's lenient division accepts more sizes for n == 1 with VALID; canonical TF does not
        or (record.get("onednn", False) and record["padding"] == "valid" and 1 in record["n"] and not error)
    )


RECORDS = records()


def test_golden_vectors_cover_every_framework_and_enough_cases():
    counts = {name: sum(r["framework"] == name for r in RECORDS) for name in FRAMEWORKS}
    assert len(RECORDS) >= 2000
    assert min(counts.values()) >= 200, counts


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_core_gives_each_frameworks_recorded_output_crop_or_error(framework):
    wrong = [
        (r, got)
        for r in RECORDS
        if r["framework"] == framework and not decided_elsewhere(r)
        if (got := comparable(r, outcome(r))) != expected(r)
    ]
    assert not wrong, "\n".join(f"{json.dumps(r)}\n  core: {got}" for r, got in wrong[:10])


# jax accepts no requested size, so its records carry no candidates
@pytest.mark.parametrize("framework", [name for name in FRAMEWORKS if name != "jax"])
def test_core_candidates_are_the_sizes_each_framework_accepted(framework):
    wrong = []
    checked = 0
    for record in RECORDS:
        if (
            record["framework"] != framework
            or "candidates" not in record
            or record.get("onednn", False)  # oneDNN accepts sizes canonical TF refuses
            # the recording gave Keras one output_padding for all axes; deconv gives one per axis
            or (framework == "keras" and len(record["n"]) > 1)
        ):
            continue
        axes, options = layer_of(record)
        rules = FRAMEWORKS[framework]
        try:
            rules.check(axes, options)
            got = [
                list(rules.candidates(a, Options(o.padding, o.output_padding)))
                for a, o in zip(axes, options, strict=True)
            ]
        except DeconvError:
            got = [[] for _ in axes]
        if not all(got):  # the recording varies one axis with the others valid: none is, if one isn't
            got = [[] for _ in axes]
        checked += 1
        if got != record["candidates"]:
            wrong.append((record, got))
    assert checked >= 50, checked
    assert not wrong, "\n".join(f"{json.dumps(r)}\n  core: {got}" for r, got in wrong[:10])


def test_the_records_cover_every_framework_padding_kind_dilation_and_rank():
    def kind(record: dict[str, Any]) -> str:
        if record["output_shape"] is not None and record["framework"] != "tf":
            return "output_shape"
        if record["output_padding"] is not None:
            return "output_padding"
        padding = record["padding"]
        return padding if isinstance(padding, str) else "explicit"

    # a framework's answer, output or error: the grid's random layers do not all build
    covered = {(r["framework"], kind(r), r["d"][0], len(r["n"])) for r in RECORDS}
    built = {(r["framework"], r["d"][0], len(r["n"])) for r in RECORDS if "output" in r["result"]}
    assert {(name, d, rank) for name in FRAMEWORKS for d in (1, 2, 3) for rank in (1, 2, 3)} <= built
    wanted = {
        (name, k, d, rank)
        for name, kinds in {
            "torch": ("explicit", "output_padding", "output_shape"),
            "tf": ("valid", "same"),
            "keras": ("valid", "same", "output_padding"),
            "onnx": ("valid", "same", "same_lower", "explicit", "output_padding", "output_shape"),
            "jax": ("valid", "same", "explicit"),
        }.items()
        for k in kinds
        for d in (1, 2, 3)
        for rank in (1, 2, 3)
    }
    wanted |= {("tf", "explicit", 1, 2)}  # tf.nn's explicit padding: 2-D, no dilation
    assert wanted <= covered, sorted(wanted - covered)
    # the rule deconv encodes: TF's CPU kernel refuses explicit padding with any dilation > 1
    dilated = [r for r in RECORDS if r["framework"] == "tf" and kind(r) == "explicit" and max(r["d"]) > 1]
    assert {(max(r["d"]), len(r["n"])) for r in dilated} >= {(2, 2), (3, 2)}
    assert all("dilation rates" in r["result"].get("error", "") for r in dilated if len(r["n"]) == 2)


def extents(record: dict[str, Any]) -> list[int]:
    return [d * (k - 1) + 1 for k, d in zip(record["k"], record["d"], strict=True)]


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_pad_finds_every_size_and_crop_each_framework_reached(framework):
    missing = []
    checked = 0
    for record in RECORDS:
        result = record["result"]
        if record["framework"] != framework or ("output" in result and min(result["output"]) < 1):
            continue
        if (
            "error" in result
            or decided_elsewhere(record)
            or (record.get("onednn", False) and 1 in record["n"])
        ):
            continue
        checked += 1
        solutions = pad(
            record["n"],
            result["output"],
            kernel_size=record["k"],
            stride=record["s"],
            dilation=record["d"],
            frameworks=[framework],
        ).solutions
        crops = {s.crop for s in solutions if not s.recipe}
        crop = result["crop"]
        # every size; in 1-D every crop that keeps all inputs and appends nothing (pad lists a
        # few odd crops past them, not their unbounded families; in 2-D and 3-D, where the
        # settings multiply, the most symmetric few per axis)
        known = crop is not None and None not in crop and len(crop) == 1
        plain = known and all(
            0 <= b < a and 0 <= e < a for (b, e), a in zip(crop, extents(record), strict=True)
        )
        if not crops or (plain and tuple(map(tuple, crop)) not in crops):
            missing.append((record, sorted(crops)))
    assert checked >= 300, checked
    assert not missing, "\n".join(f"{json.dumps(r)}\n  pad: {c}" for r, c in missing[:10])
