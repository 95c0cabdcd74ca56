"""Tests for the numpy execution engine (deconv_cli.arrays.engine)."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from helpers import load
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconv_cli.arrays.engine import axis, buffers, columns, conv_transpose, parallel, planner
from deconv_cli.core.geometry import Axis, Layer

Array = npt.NDArray[Any]


def out_len(n: int, k: int, s: int, d: int, crop: tuple[int, int]) -> int:
    return Layer.crop(Axis(n, k, s, d), *crop).output


def naive_conv_transpose(
    x: Array,
    w: Array,
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    crop: tuple[tuple[int, int], ...],
    groups: int = 1,
    bias: Array | None = None,
) -> Array:
    """Scalar loops straight from full[i*s + j*d] += x[i] * w[j], float64."""
    batch, c_in = x.shape[:2]
    cog = w.shape[1]
    cig = c_in // groups
    outs = [
        out_len(n, k, s, d, c)
        for n, k, s, d, c in zip(x.shape[2:], w.shape[2:], stride, dilation, crop, strict=True)
    ]
    out = np.zeros((batch, cog * groups, *outs))
    for b, g, ci, co in itertools.product(range(batch), range(groups), range(cig), range(cog)):
        for i in itertools.product(*(range(n) for n in x.shape[2:])):
            for j in itertools.product(*(range(k) for k in w.shape[2:])):
                t = tuple(
                    ii * s + jj * d - c[0]
                    for ii, jj, s, d, c in zip(i, j, stride, dilation, crop, strict=True)
                )
                if all(0 <= tt < o for tt, o in zip(t, outs, strict=True)):
                    out[(b, g * cog + co, *t)] += float(x[(b, g * cig + ci, *i)]) * float(
                        w[(g * cig + ci, co, *j)]
                    )
    if bias is not None:
        out += bias.reshape(-1, *[1] * len(outs))
    return out


def forward_correlation(
    z: Array,
    w: Array,
    in_shape: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    crop: tuple[tuple[int, int], ...],
    groups: int,
) -> Array:
    """Direct cross-correlation y[i] = sum_j w[j] z_ext[i*s + j*d - L].

    z_ext is z zero-extended, matching the engine's treatment of crops, so
    this is the exact adjoint of conv_transpose.
    """
    batch = z.shape[0]
    c_in, cog = w.shape[:2]
    cig = c_in // groups
    y = np.zeros((batch, c_in, *in_shape))
    for j in itertools.product(*(range(k) for k in w.shape[2:])):
        # For each input position, the output it reads through tap j.
        src = []
        valid = np.ones(in_shape, dtype=bool)
        for a, (n, s, d, c) in enumerate(zip(in_shape, stride, dilation, crop, strict=True)):
            t = np.arange(n) * s + j[a] * d - c[0]
            shape = [1] * len(in_shape)
            shape[a] = n
            ok = ((t >= 0) & (t < z.shape[2 + a])).reshape(shape)
            valid = valid & ok
            src.append(np.clip(t, 0, z.shape[2 + a] - 1).reshape(shape))
        for g in range(groups):
            zg = z[:, g * cog : (g + 1) * cog][(slice(None), slice(None), *src)]
            wg = w[(slice(g * cig, (g + 1) * cig), slice(None), *j)]
            y[:, g * cig : (g + 1) * cig] += np.einsum("bo...,io->bi...", zg * valid, wg)
    return y


STRATEGIES = [
    "auto",
    "columns",
    "columns-taps",
    "channels_last",
    "karatsuba",
    "karatsuba_first",
    "phase-shared",
    "phase-separate",
]


@contextlib.contextmanager
def threaded(on: bool = True) -> Iterator[None]:
    """Chunks on two worker threads however small the call (the engine keeps
    small calls on one thread, as the tests' arrays are)."""
    with pytest.MonkeyPatch.context() as patch:
        if on:
            patch.setattr(parallel, "MIN_ELEMENTS", 0)
            patch.setattr(parallel, "workers", lambda: 2)
        yield


@contextlib.contextmanager
def forcing(mode: str, strict: bool = False) -> Iterator[None]:
    """Force one code path of the engine (the cost model picks only one).

    channels_last exists only for ungrouped layers, karatsuba and karatsuba_first
    only for those whose kernels span at most two stride blocks, and latent
    vectors always run pointwise.  Elsewhere the cost model decides, or with
    ``strict`` the test is skipped: it would only repeat another path.  The
    engine caches its choice per shape, hence the clearing.
    """
    kind = mode.split("-")[0]
    cached = planner.strategy
    with pytest.MonkeyPatch.context() as patch:
        if mode != "auto":
            patch.setattr(
                planner, "pick", lambda costs: kind if kind in costs else min(costs, key=costs.__getitem__)
            )
            if strict:

                def chosen(*args: Any, **options: Any) -> Any:
                    result = cached(*args, **options)
                    if result.kind != kind:
                        pytest.skip(f"{kind} does not apply to this layer ({result.kind} runs)")
                    return result

                patch.setattr(planner, "strategy", chosen)
        if mode == "columns-taps":
            patch.setattr(columns, "by_phase", lambda axes: False)
        if mode.startswith("phase"):
            original = axis.options
            pick = 0 if mode == "phase-shared" else -1
            patch.setattr(axis, "options", lambda ax: [original(ax)[pick]])
        cached.cache_clear()
        try:
            yield
        finally:
            cached.cache_clear()


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> Iterator[str]:
    with forcing(request.param, strict=True):
        yield request.param


CASE_FIELDS = ("spatial", "kernel", "stride", "dilation", "crop", "groups", "with_bias")
CASES = [
    ((5,), (3,), (2,), (1,), ((0, 0),), 1, False),
    ((7,), (4,), (3,), (2,), ((1, 2),), 1, True),
    ((4,), (5,), (1,), (1,), ((-2, 3),), 2, True),
    ((3,), (2,), (5,), (1,), ((1, -4),), 1, False),
    ((1,), (4,), (3,), (1,), ((0, 0),), 1, True),
    ((4, 3), (3, 2), (2, 3), (1, 2), ((1, 0), (-1, 2)), 1, True),
    ((3, 3), (4, 4), (2, 2), (1, 1), ((1, 1), (1, 1)), 3, False),
    ((1, 1), (4, 4), (1, 1), (1, 1), ((0, 0), (0, 0)), 1, False),
    ((1, 1), (3, 2), (2, 1), (2, 1), ((1, -1), (0, 1)), 2, True),
    ((2, 3), (3, 3), (2, 2), (2, 2), ((0, 0), (0, 0)), 1, True),
    ((3, 2, 2), (2, 3, 2), (2, 1, 2), (1, 1, 2), ((0, 1), (1, -1), (0, 0)), 2, True),
    ((2, 2, 2), (2, 2, 2), (2, 2, 2), (1, 1, 1), ((0, 0), (0, 0), (0, 0)), 1, False),
    # kernels within two stride blocks (the Karatsuba paths), odd lengths, zero extensions
    ((5, 4), (4, 3), (2, 2), (1, 1), ((1, 2), (-1, 0)), 1, True),
    ((3, 2, 3), (4, 2, 3), (2, 1, 2), (1, 1, 1), ((1, 1), (0, -2), (2, 0)), 1, True),
    ((7,), (6,), (4,), (1,), ((3, -3),), 1, False),
    # whole output inside the zero extension: only the bias survives
    ((2,), (2,), (1,), (1,), ((-5, 3),), 1, True),
]


@pytest.mark.parametrize(CASE_FIELDS, CASES)
def test_matches_naive_reference(
    strategy: str,
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    crop: tuple[tuple[int, int], ...],
    groups: int,
    with_bias: bool,
) -> None:
    rng = np.random.default_rng(len(spatial) * 100 + sum(kernel))
    x = rng.standard_normal((2, 2 * groups, *spatial))
    w = rng.standard_normal((2 * groups, 3, *kernel))
    bias = rng.standard_normal(3 * groups) if with_bias else None
    expected = naive_conv_transpose(x, w, stride, dilation, crop, groups, bias)
    got = conv_transpose(x, w, stride=stride, dilation=dilation, crop=crop, groups=groups, bias=bias)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@st.composite
def problems(draw: st.DrawFn, max_dims: int = 3) -> dict[str, Any]:
    dims = draw(st.integers(1, max_dims))
    groups = draw(st.integers(1, 3))
    spatial, kernel, stride, dilation, crop = [], [], [], [], []
    for _ in range(dims):
        n, k = draw(st.integers(1, 5)), draw(st.integers(1, 4))
        s, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        full = Axis(n, k, s, d).full
        lo = draw(st.integers(-3, full - 1))
        hi = draw(st.integers(-3, full - lo - 1))
        spatial.append(n)
        kernel.append(k)
        stride.append(s)
        dilation.append(d)
        crop.append((lo, hi))
    return {
        "batch": draw(st.integers(1, 3)),
        "cig": draw(st.integers(1, 3)),
        "cog": draw(st.integers(1, 3)),
        "groups": groups,
        "spatial": tuple(spatial),
        "kernel": tuple(kernel),
        "stride": tuple(stride),
        "dilation": tuple(dilation),
        "crop": tuple(crop),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


@settings(max_examples=300, deadline=None)
@given(problems(), st.sampled_from(STRATEGIES), st.booleans())
def test_adjoint_of_forward_correlation(p: dict[str, Any], mode: str, threads: bool) -> None:
    rng = np.random.default_rng(p["seed"])
    groups = p["groups"]
    y = rng.standard_normal((p["batch"], p["cig"] * groups, *p["spatial"]))
    w = rng.standard_normal((p["cig"] * groups, p["cog"], *p["kernel"]))
    with forcing(mode), threaded(threads):
        ty = conv_transpose(y, w, stride=p["stride"], dilation=p["dilation"], crop=p["crop"], groups=groups)
    outs = tuple(
        out_len(n, k, s, d, c)
        for n, k, s, d, c in zip(
            p["spatial"], p["kernel"], p["stride"], p["dilation"], p["crop"], strict=True
        )
    )
    assert ty.shape == (p["batch"], p["cog"] * groups, *outs)
    z = rng.standard_normal(ty.shape)
    cz = forward_correlation(z, w, p["spatial"], p["stride"], p["dilation"], p["crop"], groups)
    lhs = float(np.vdot(cz, y))
    rhs = float(np.vdot(z, ty))
    scale = math.sqrt(float(np.vdot(cz, cz)) * float(np.vdot(y, y))) + 1.0
    assert abs(lhs - rhs) <= 1e-10 * scale


@settings(max_examples=200, deadline=None)
@given(problems(max_dims=2), st.booleans(), st.booleans())
def test_columns_summed_by_phase(p: dict[str, Any], with_bias: bool, threads: bool) -> None:
    """The flat per-phase sums, row-end corrections included, against the naive loops."""
    axes = axis.axes_of(p["spatial"], p["kernel"], p["stride"], p["dilation"], p["crop"])
    # some tap lands, and not a latent vector (always pointwise)
    assume(all(axis.phase_taps(ax) for ax in axes) and any(ax.n > 1 for ax in axes))
    assume(columns.by_phase(axes))
    rng = np.random.default_rng(p["seed"])
    groups = p["groups"]
    x = rng.standard_normal((p["batch"], p["cig"] * groups, *p["spatial"]))
    w = rng.standard_normal((p["cig"] * groups, p["cog"], *p["kernel"]))
    bias = rng.standard_normal(p["cog"] * groups) if with_bias else None
    args = (p["stride"], p["dilation"], p["crop"])
    with forcing("columns"), threaded(threads):
        assert (
            planner.strategy(axes, p["batch"], p["cig"] * groups, p["cog"] * groups, groups).kind == "columns"
        )
        got = conv_transpose(x, w, stride=args[0], dilation=args[1], crop=args[2], groups=groups, bias=bias)
    np.testing.assert_allclose(got, naive_conv_transpose(x, w, *args, groups, bias), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_infinite_input_reaches_only_the_outputs_it_feeds(strategy, monkeypatch):
    """The outputs an inf or NaN feeds are non-finite, exactly as in the naive sum, and no
    others: a strategy that mixes inputs (Karatsuba's differences, zero taps in a shared grid,
    where 0 x inf is NaN) gives way to an exact one, and only for non-finite arrays."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 5, 6))
    x[0, 1, 2, 5] = np.inf  # the end of a row: col2im's flat slices cross it
    x[1, 0, 3, 0] = np.nan  # the start of one
    w = rng.standard_normal((3, 2, 4, 3))
    args = ((2, 2), (1, 1), ((1, 1), (1, 0)))
    exact_plans = []
    with forcing(strategy), np.errstate(all="ignore"):  # the public API computes so too
        planned = planner.strategy
        monkeypatch.setattr(
            planner, "strategy", lambda *a, exact=False: exact_plans.append(exact) or planned(*a, exact=exact)
        )
        conv_transpose(np.where(np.isfinite(x), x, 0), w, stride=args[0], dilation=args[1], crop=args[2])
        assert exact_plans == [False]  # finite arrays keep the fastest strategy, exact or not
        got = conv_transpose(x, w, stride=args[0], dilation=args[1], crop=args[2])
        chosen = planned(axis.axes_of((5, 6), (4, 3), *args), 2, 3, 2, 1)
        expected = naive_conv_transpose(x, w, *args)
    assert exact_plans[1:] == ([False] if chosen.exact else [False, True])
    assert chosen.exact == (strategy in ("auto", "columns", "columns-taps", "phase-separate"))
    assert np.array_equal(np.isfinite(got), np.isfinite(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(CASE_FIELDS, CASES[:-1])  # the last is bias only
def test_chunking_is_exact(
    strategy: str,
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    crop: tuple[tuple[int, int], ...],
    groups: int,
    with_bias: bool,
) -> None:
    rng = np.random.default_rng(7)
    batch = 5
    x = rng.standard_normal((batch, 2 * groups, *spatial))
    w = rng.standard_normal((2 * groups, 3, *kernel))
    bias = rng.standard_normal(3 * groups) if with_bias else None
    kwargs: dict[str, Any] = dict(stride=stride, dilation=dilation, crop=crop, groups=groups, bias=bias)
    calls: list[tuple[int, int]] = []
    whole = conv_transpose(x, w, **kwargs)
    chunked = conv_transpose(x, w, max_memory=1, progress=lambda d, t: calls.append((d, t)), **kwargs)
    # BLAS may pick another kernel (gemv vs gemm) for a smaller chunk, so
    # equality is up to float64 rounding of the summation order.
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-13)
    # A one-byte budget still runs, one sample per chunk; a latent vector
    # without crop or dilation needs no intermediates, hence one chunk.
    needs_scratch = not (
        all(n == 1 for n in spatial) and set(dilation) == {1} and set(crop) == {(0, 0)} and groups == 1
    )
    assert calls == ([(i, batch) for i in range(1, batch + 1)] if needs_scratch else [(batch, batch)])


@pytest.mark.parametrize("budget", [None, 1])
def test_worker_threads_split_the_batch_exactly(strategy: str, budget: int | None) -> None:
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 4, 5, 4))
    w = rng.standard_normal((4, 3, 4, 3))
    axes = axis.axes_of((5, 4), (4, 3), (2, 2), (1, 1), ((1, 2), (-1, 1)))
    if planner.strategy(axes, 5, 4, 3, 1).blas_threaded:
        pytest.skip(f"{strategy} keeps the BLAS's own threads")
    bias = rng.standard_normal(3)
    crop = ((1, 2), (-1, 1))
    calls: list[tuple[int, int]] = []
    with threaded():
        got = conv_transpose(
            x,
            w,
            stride=(2, 2),
            dilation=(1, 1),
            crop=crop,
            bias=bias,
            max_memory=budget,
            progress=lambda d, t: calls.append((d, t)),
        )
    expected = naive_conv_transpose(x, w, (2, 2), (1, 1), crop, bias=bias)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # two chunks of three and two samples, reported as they finish; a one-byte
    # budget holds one sample at a time, so one thread runs them one by one
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {5}
    if budget is None:
        assert sorted([done[0], done[1] - done[0]]) == [2, 3]
        assert done[1] == 5
    else:
        assert done == [1, 2, 3, 4, 5]


def test_default_budget_is_one_chunk_for_small_input() -> None:
    x = np.ones((4, 2, 3, 3))
    w = np.ones((2, 2, 2, 2))
    calls: list[tuple[int, int]] = []
    conv_transpose(
        x,
        w,
        stride=(2, 2),
        dilation=(1, 1),
        crop=((0, 0), (0, 0)),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(4, 4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(strategy: str, dtype: type[np.floating[Any]]) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 6)).astype(dtype)
    # Weights and bias in the other precision are converted to x's dtype.
    other = np.float64 if dtype is np.float32 else np.float32
    w = rng.standard_normal((4, 3, 3, 2)).astype(other)
    bias = rng.standard_normal(3).astype(other)
    crop = ((1, 0), (0, -1))
    got = conv_transpose(x, w, stride=(2, 2), dilation=(1, 2), crop=crop, bias=bias)
    assert got.dtype == dtype
    expected = naive_conv_transpose(
        x.astype(np.float64),
        w.astype(dtype).astype(np.float64),
        (2, 2),
        (1, 2),
        crop,
        bias=bias.astype(dtype).astype(np.float64),
    )
    tol = 1e-5 if dtype is np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


TORCH_CASES = [
    # (batch, c_in, c_out, spatial, k, s, p, op, d, groups, bias)
    (3, 6, 4, (9,), 4, 2, 1, 0, 1, 1, True),
    (2, 8, 6, (5,), 16, 8, 4, 3, 1, 2, False),
    (2, 4, 6, (7, 6), 3, 2, 1, 1, 1, 2, True),
    (2, 16, 8, (4, 4), 4, 2, 1, 0, 1, 1, False),
    (4, 10, 12, (1, 1), 4, 1, 0, 0, 1, 1, True),
    (2, 6, 3, (5, 4), 3, 3, 2, 2, 2, 3, True),
    (1, 4, 4, (3, 4, 5), 2, 2, 0, 0, 1, 1, True),
    (2, 6, 6, (3, 3, 3), 3, 2, 1, 1, 2, 3, False),
    (2, 8, 8, (8, 8), 4, 2, 1, 0, 1, 8, True),
]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", TORCH_CASES)
def test_matches_torch(strategy: str, case: tuple[Any, ...], dtype: str) -> None:
    torch = pytest.importorskip("torch")
    batch, c_in, c_out, spatial, k, s, p, op, d, groups, with_bias = case
    dims = len(spatial)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((batch, c_in, *spatial)).astype(dtype)
    w = rng.standard_normal((c_in, c_out // groups, *[k] * dims)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if with_bias else None
    fn = getattr(torch.nn.functional, f"conv_transpose{dims}d")
    expected = fn(
        torch.from_numpy(x),
        torch.from_numpy(w),
        None if bias is None else torch.from_numpy(bias),
        stride=s,
        padding=p,
        output_padding=op,
        groups=groups,
        dilation=d,
    ).numpy()
    got = conv_transpose(
        x,
        w,
        stride=(s,) * dims,
        dilation=(d,) * dims,
        crop=((p, p - op),) * dims,
        groups=groups,
        bias=bias,
    )
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_per_sample_gemms_split_the_batch_finer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-sample phase GEMMs chunk at the smaller cache bound, exactly."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 64, 16, 16)).astype(np.float32)
    w = rng.standard_normal((64, 64, 2, 2)).astype(np.float32)
    kwargs: dict[str, Any] = dict(stride=(2, 2), dilation=(1, 1), crop=((0, 0), (0, 0)))
    monkeypatch.setattr(planner, "pick", lambda costs: "phase")
    planner.strategy.cache_clear()
    whole = conv_transpose(x, w, **kwargs)
    # One sample's GEMM result (4 phases x 64 channels x 256 pixels) fits
    # the per-sample bound once, the batch-wide bound three times.
    monkeypatch.setattr(planner, "SAMPLE_CHUNK_BYTES", 4 * 256 * 64 * 4)
    calls: list[tuple[int, int]] = []
    chunked = conv_transpose(x, w, progress=lambda d, t: calls.append((d, t)), **kwargs)
    planner.strategy.cache_clear()
    assert calls == [(1, 3), (2, 3), (3, 3)]
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)


def benchmark_layers() -> list[Any]:
    # frameworks are imported only when the benchmark runs
    return list(load(Path(__file__).resolve().parent.parent / "benchmarks" / "run_vs_frameworks.py").LAYERS)


@pytest.mark.parametrize("layer", benchmark_layers(), ids=lambda layer: layer.name)
def test_cost_model_picks_the_measured_fastest(layer: Any) -> None:
    assert layer.choice().kind == layer.fastest


@pytest.mark.parametrize("layer", benchmark_layers(), ids=lambda layer: layer.name)
def test_sample_by_sample_gemms_split_the_batch_finer(layer: Any) -> None:
    """col2im and per-sample phase GEMMs keep their chunk's results in cache;
    GEMMs over a whole chunk (Karatsuba, latent vectors) would get thinner."""
    choice = layer.choice()
    assert choice.per_sample == (layer.fastest in ("columns", "phase"))
    assert choice.blas_threaded == (layer.fastest in ("pointwise", "phase", "columns"))


def blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_arenas_are_kept_for_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    buffers.release()
    f32 = np.dtype(np.float32)
    with buffers.arenas(2, 100, f32) as first:
        pass
    with buffers.arenas(2, 50, f32) as smaller, buffers.arenas(1, 50, f32) as meanwhile:
        # a call reuses what fits; a call running meanwhile gets its own
        assert [id(a) for a in smaller] == [id(a) for a in first]
        assert meanwhile[0] not in first
    with buffers.arenas(1, 1000, f32) as larger:
        assert larger[0] not in first
    with buffers.arenas(1, 100, np.dtype(np.float64)) as other_dtype:
        assert other_dtype[0].buffer.dtype == np.float64
    with buffers.arenas(1, 100, f32) as again:
        # kept arenas a call cannot use are freed before it allocates
        assert again[0] not in first
    monkeypatch.setattr(buffers, "KEPT_BYTES", 400)
    buffers.release()
    with buffers.arenas(2, 100, f32) as kept_one:
        pass
    with buffers.arenas(2, 100, f32) as next_call:
        # 400 bytes hold one arena of 100 float32
        assert sum(a in kept_one for a in next_call) == 1
    buffers.release()


def test_the_memory_kept_for_the_next_call_is_released_from_the_package() -> None:
    import deconv_cli

    deconv_cli.conv_transpose(np.ones((1, 2, 8, 8), np.float32), np.ones((2, 3, 4, 4), np.float32), stride=2)
    assert buffers._kept
    deconv_cli.release()
    assert not buffers._kept


def test_overlapping_calls_restore_the_blas_threads() -> None:
    before = blas_threads()
    # two calls from two threads of the caller, the first ending first
    first, second = parallel._single_threaded_blas(), parallel._single_threaded_blas()
    first.__enter__()
    second.__enter__()
    assert set(blas_threads()) <= {1}
    first.__exit__(None, None, None)
    assert set(blas_threads()) <= {1}
    second.__exit__(None, None, None)
    assert blas_threads() == before
