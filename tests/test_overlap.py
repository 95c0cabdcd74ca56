"""`deconv overlap`: taps per output position, verdicts, alternatives, the heat tile, startup imports."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconv_cli.cli import draw
from deconv_cli.core.geometry import Axis
from deconv_cli.core.overlap import Coverage, alternatives, overlap, taps
from deconv_cli.errors import DeconvError


@pytest.mark.parametrize(
    ("k", "s", "d", "counts", "nearest"),
    [
        (3, 2, 1, (2, 1), (2, 4)),
        (4, 2, 1, (2, 2), (2, 6)),
        (2, 2, 1, (1, 1), (4,)),
        (5, 3, 1, (2, 2, 1), (3, 6)),
        (1, 3, 1, (1, 0, 0), (3,)),
        (4, 1, 1, (4,), (3, 5)),
        (3, 2, 2, (3, 0), ()),
        (4, 3, 2, (2, 1, 1), (3, 6)),
    ],
)
def test_taps_per_phase_and_the_nearest_even_kernels(k, s, d, counts, nearest):
    assert (taps(k, s, d), alternatives(k, s, d)) == (counts, nearest)


def test_taps_count_the_scatter_of_a_long_input_in_its_interior():
    n, k, s, d = 40, 5, 3, 2
    hits = np.zeros(Axis(n, k, s, d).full, dtype=int)
    for i in range(n):
        hits[i * s + d * np.arange(k)] += 1
    interior = range(d * (k - 1), (n - 1) * s + 1)  # every tap there comes from some input
    assert [hits[t] for t in interior] == [taps(k, s, d)[t % s] for t in interior]


@given(st.integers(1, 24), st.integers(1, 8), st.integers(1, 4))
def test_every_tap_lands_once_and_alternatives_are_the_nearest_even_sizes(k, s, d):
    assert sum(taps(k, s, d)) == k

    def even(size: int) -> bool:
        return len(set(taps(size, s, d))) == 1

    below = [c for c in range(1, k) if even(c)]
    above = [c for c in range(k + 1, k + 4 * s + 1) if even(c)]
    assert alternatives(k, s, d) == tuple(below[-1:] + above[:1])
    if math.gcd(d, s) == 1:
        assert even(k) == (k % s == 0)


def test_coverage_has_no_ratio_when_a_position_gets_no_tap():
    assert Coverage.of([1, 0, 0]) == Coverage(max=1, min=0, ratio=None, holes=2, verdict="uneven")


def test_the_2d_tile_is_the_outer_product_of_the_axes():
    report = overlap([3, 5], [2, 3], [1, 1])
    assert report.tile == ((4, 4, 2), (2, 2, 1))
    assert report.coverage == Coverage(max=4, min=1, ratio=4.0, holes=0, verdict="uneven")


def test_an_even_axis_times_an_uneven_one_is_uneven():
    assert overlap([4, 3], [2, 2], [1, 1]).coverage.verdict == "uneven"


def test_three_axes_are_refused():
    with pytest.raises(DeconvError, match=r"overlap covers 1-D and 2-D kernels \(got 3 axes\)"):
        overlap([3, 3, 3], [2, 2, 2], [1, 1, 1])


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        ("--k 3 --s 2", "uneven: taps per position 2 1 (max/min 2.0); even alternatives: k=2, k=4\n"),
        ("--k 4 --s 2", "even: taps per position 2 2 (max/min 1.0); even alternatives: k=2, k=6\n"),
        (
            "--k 5 --s 3",
            "uneven: taps per position 2 2 1 (max/min 2.0); even alternatives: k=3, k=6\n",
        ),
        (
            "--k 3 --s 2 --d 2",
            "uneven: taps per position 3 0 (holes: 1 of 2 positions get no tap); "
            "no kernel size is even with s=2 d=2 (gcd(s, d) > 1)\n",
        ),
        (
            "--k 3,4 --s 2",
            "uneven: taps per position 4 4 / 2 2 (max/min 2.0)\n"
            "axis 0: uneven: taps per position 2 1 (max/min 2.0); even alternatives: k=2, k=4\n"
            "axis 1: even: taps per position 2 2 (max/min 1.0); even alternatives: k=2, k=6\n",
        ),
    ],
)
def test_piped_overlap_prints_the_verdicts(args, stdout, cli_run):
    assert cli_run("overlap", *args.split()) == (0, stdout, "")


def test_overlap_json_is_the_report(cli_run):
    code, stdout, _ = cli_run("overlap", "--k", "3", "--s", "2", "--json")
    coverage = {"max": 2, "min": 1, "ratio": 2.0, "holes": 0, "verdict": "uneven"}
    assert code == 0
    assert json.loads(stdout) == {
        "axes": [
            {
                "kernel_size": 3,
                "stride": 2,
                "dilation": 1,
                "counts": [2, 1],
                "coverage": coverage,
                "alternatives": [2, 4],
            }
        ],
        "tile": [[2, 1]],
        "coverage": coverage,
    }


def test_overlap_json_ratio_is_null_with_holes(cli_run):
    _, stdout, _ = cli_run("overlap", "--k", "1", "--s", "3", "--json")
    assert json.loads(stdout)["coverage"] == {
        "max": 1,
        "min": 0,
        "ratio": None,
        "holes": 2,
        "verdict": "uneven",
    }


def heat(k: list[int], s: list[int], d: list[int]) -> str:
    out = io.StringIO()
    draw.heat(overlap(k, s, d), out, width=100)
    return out.getvalue()


def test_heat_strip_of_a_1d_kernel():
    assert heat([3], [2], [1]) == (
        "taps per output position, by t mod 2, k=3 s=2 d=1: uneven (checkerboard risk)\n"
        "┌──────┬───┬───┐\n"
        "│ t    │ 0 │ 1 │\n"
        "├──────┼───┼───┤\n"
        "│ taps │ 2 │ 1 │\n"
        "└──────┴───┴───┘\n"
        "uneven: taps per position 2 1 (max/min 2.0); even alternatives: k=2, k=4\n"
    )


def test_heat_tile_of_a_2d_kernel():
    assert heat([4, 4], [2, 2], [1, 1]) == (
        "taps per output position, by t0 mod 2 and t1 mod 2, k=4 s=2 d=1: even\n"
        "┌─────────┬───┬───┐\n"
        "│ t0 \\ t1 │ 0 │ 1 │\n"
        "├─────────┼───┼───┤\n"
        "│ 0       │ 4 │ 4 │\n"
        "│ 1       │ 4 │ 4 │\n"
        "└─────────┴───┴───┘\n"
        "even: taps per position 4 4 / 4 4 (max/min 1.0)\n"
        "axis 0: even: taps per position 2 2 (max/min 1.0); even alternatives: k=2, k=6\n"
        "axis 1: even: taps per position 2 2 (max/min 1.0); even alternatives: k=2, k=6\n"
    )


def test_heat_strip_of_a_large_stride_is_condensed():
    lines = heat([3], [40], [1]).splitlines()
    assert lines[2] == (
        "│ t    │ 0  │ 1  │ 2  │ 3  │ 4  │ 5  │ 6  │ 7  │…│ 33 │ 34 │ 35 │ 36 │ 37 │ 38 │ 39 │"
    )
    assert lines[4].startswith("│ taps │ 1  │ 1  │ 1  │ 0  │")
    assert max(map(len, lines[:6])) <= 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("overlap --k 3,3,3 --s 2", "overlap covers 1-D and 2-D kernels (got 3 axes)"),
        ("overlap --k 0 --s 2", "--k must be >= 1 (got 0)"),
        ("overlap --k 3,4 --s 2,2,2", "--k has 2 values but --s has 3; give one value or one per axis"),
        ("overlap --k 3", "Missing option '--s' / '--stride'. (see 'deconv overlap --help')"),
    ],
)
def test_bad_overlap_input_exits_2_with_one_line(args, message, cli_run):
    assert cli_run(*args.split()) == (2, "", f"deconv: error: {message}\n")


@pytest.mark.parametrize("args", [["--k", "3", "--s", "2"], ["--k", "3,4", "--s", "2", "--json"]])
def test_piped_overlap_imports_neither_numpy_nor_rich(args, heavy_imports):
    assert heavy_imports("overlap", *args) == []


@pytest.mark.parametrize(
    "args",
    [["overlap", "--help"], ["explain", "--help"], ["explain", "--in", "2", "--k", "3", "--s", "2"]],
)
def test_overlap_and_explain_without_values_do_not_import_numpy(args, heavy_imports):
    assert "numpy" not in heavy_imports(*args)
