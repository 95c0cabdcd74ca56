"""`pad`: complete (every `shape` answer is found), ranked, marked, `--factor`, bounded work."""

from __future__ import annotations

import contextlib
import json
import resource
import subprocess
import sys
import time

import pytest
from helpers import DECONV, on_terminal, plain
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deconv_cli.core import parse
from deconv_cli.core.frameworks import FRAMEWORKS, READING_ORDER, own_terms
from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.core.overlap import taps
from deconv_cli.core.pad import factor, pad
from deconv_cli.core.pad.marks import even, holes
from deconv_cli.core.shape import shape
from deconv_cli.errors import DeconvError, ExitCode

ALL = list(FRAMEWORKS)


def found(n, out, k, s, d, frameworks):
    report = pad(n, out, kernel_size=k, stride=s, dilation=d, frameworks=frameworks)
    return report.solutions


# (framework, n, out, k, s, d): documented layers each framework builds
DOCUMENTED = [
    ("torch", [13], [17], [4], [2], [2]),  # shape -f torch --padding 7 gives 17
    # torch's ConvTranspose2d / ConvTranspose3d documentation examples
    ("torch", [10, 12], [13, 12], [3, 5], [2, 1], [1, 1]),
    ("torch", [4, 10, 8], [9, 6, 5], [3, 5, 2], [2, 1, 1], [1, 1, 1]),
    ("torch", [8], [1], [2], [1], [1]),
    ("tf", [8], [1], [2], [1], [1]),
    ("onnx", [8], [1], [2], [1], [1]),
    ("jax", [8], [1], [2], [1], [1]),
    ("torch", [100], [800], [16], [8], [1]),  # HiFi-GAN
    ("keras", [3], [6], [3], [2], [1]),
    ("tf", [5, 5, 5], [9, 9, 9], [3, 3, 3], [2, 2, 2], [1, 1, 1]),
    ("tf", [4], [8], [3], [1], [2]),  # dilation: SAME and VALID only
    ("jax", [3], [60], [3], [2], [1]),  # edge padding appends any number of zeros
]


@pytest.mark.parametrize(("framework", "n", "out", "k", "s", "d"), DOCUMENTED)
def test_pad_finds_each_documented_layer_in_its_framework(framework, n, out, k, s, d):
    solutions = found(n, out, k, s, d, [framework])
    assert solutions
    assert all(s.framework == framework and list(s.output) == out for s in solutions)


def test_pad_finds_the_layer_torch_builds_with_padding_7():
    report = shape("torch", [Axis(13, 4, 2, 2)], [Options(Padding.explicit(7, 7))])
    assert report.output == (17,)
    solutions = found([13], [17], [4], [2], [2], ["torch"])
    assert [(s.crop, s.params, s.marks) for s in solutions] == [
        (((7, 7),), {"padding": [7], "output_padding": [0]}, ("discards", "holes"))
    ]


rank_axes = st.integers(1, 3).flatmap(
    lambda rank: st.lists(
        st.builds(
            Axis,
            n=st.integers(1, 9),
            kernel_size=st.integers(1, 6),
            stride=st.integers(1, 4),
            dilation=st.integers(1, 3),
        ),
        min_size=rank,
        max_size=rank,
    )
)
paddings = st.one_of(
    st.sampled_from([Padding("valid"), Padding("same"), Padding("same_lower")]),
    st.builds(Padding.explicit, st.integers(-2, 6), st.integers(-2, 6)),
)
options = st.builds(Options, paddings, st.one_of(st.none(), st.integers(0, 3)), st.none())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ALL), rank_axes, options, st.data())
def test_every_shape_answer_is_found_by_pad_with_that_frameworks_parameters(name, axes, option, data):
    rank = len(axes)
    chosen = [option] * rank
    if option.padding.mode == "explicit":  # one explicit padding per axis
        chosen = [Options(data.draw(paddings.filter(lambda p: p.mode == "explicit")), option.output_padding)]
        chosen += [Options(data.draw(paddings.filter(lambda p: p.mode == "explicit"))) for _ in axes[1:]]
    try:
        report = shape(name, axes, chosen)
    except DeconvError:
        assume(False)
        raise
    solutions = found(
        [a.n for a in axes],
        list(report.output),
        [a.kernel_size for a in axes],
        [a.stride for a in axes],
        [a.dilation for a in axes],
        [name],
    )
    mine = {s.crop for s in solutions if not s.recipe}
    assert mine  # every size
    # and in 1-D every crop that keeps all inputs and appends nothing (2-D and 3-D list the
    # most symmetric few per axis; the odd crops past them are unbounded families)
    plain = all(0 <= b < a.extent and 0 <= e < a.extent for (b, e), a in zip(report.crop, axes, strict=True))
    if plain and rank == 1:
        assert report.crop in mine, (report.crop, mine)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9), st.integers(1, 40), st.integers(1, 3))
def test_closed_form_marks_agree_with_the_tap_counts(k, s, d):
    counts = taps(k, s, d)
    axis = Axis(1, k, s, d)
    assert holes(axis) == (min(counts) == 0)
    assert even(axis) == (len(set(counts)) == 1)


def test_marks_name_what_is_odd_and_rank_it_last():
    solutions = found([100], [800], None, [8], [1], ["torch"])
    plain = [s for s in solutions if not s.marks]
    assert list(solutions[: len(plain)]) == plain
    assert {m for s in solutions for m in s.marks} == {"zeros", "holes", "uneven"}
    one = next(s for s in solutions if s.k == (1,))
    assert "holes" in one.marks
    assert found([8], [1], [2], [1], [1], ["torch"])[0].marks == ("discards",)


def test_framework_settings_come_before_its_conv_then_slice_recipe():
    solutions = found([3], [6], [3], [2], [1], ["torch"])
    assert [s.recipe for s in solutions] == [False, True]
    assert solutions[1].then == ((0, 6),)
    assert solutions[1].native == (7,)


def test_default_search_reaches_kernels_twice_the_stride():
    best = found([100], [800], None, [8], [1], ["torch"])[0]
    assert (best.k, best.crop, best.params) == ((16,), ((4, 4),), {"padding": [4], "output_padding": [0]})


# factor -> (k, torch's padding, output_padding): the upsampling layers of audio vocoders and codecs
AUDIO = [
    (8, 16, 4, 0),  # HiFi-GAN V1 (k=2s, padding (k-s)//2), MelGAN (padding s//2 + s%2)
    (2, 4, 1, 0),  # HiFi-GAN V1 and MelGAN
    (4, 8, 2, 0),  # EnCodec (k=2s, crop (k-s) split)
    (5, 10, 3, 1),  # EnCodec's 3:2 crop; MelGAN's padding s//2 + s%2, output_padding s%2
]


@pytest.mark.parametrize(("times", "k", "padding", "output_padding"), AUDIO)
def test_audio_models_upsampling_settings_are_the_top_factor_answers(times, k, padding, output_padding):
    best = factor([times], kernel_size=None, stride=None, dilation=[1], frameworks=["torch"]).solutions[0]
    assert (best.k, best.s, best.params) == (
        (k,),
        (times,),
        {"padding": [padding], "output_padding": [output_padding]},
    )


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=2), st.sampled_from(ALL))
def test_every_factor_answer_gives_exactly_factor_times_n_for_every_n(times, name):
    rank = len(times)
    try:
        report = factor(times, kernel_size=None, stride=None, dilation=[1] * rank, frameworks=[name])
    except DeconvError as error:
        failure = error.exit_code
    else:
        failure = None
    if failure is not None:  # nothing gives this factor in that framework: a runtime failure
        assert failure == ExitCode.FAILURE
        return
    for solution in report.solutions[:3]:
        for n in (1, 2, 3, 7, 16, 31):
            axes = [Axis(n, k, s, d) for k, s, d in zip(solution.k, solution.s, solution.d, strict=True)]
            wanted = [f * n for f in times]
            again = pad(
                [n] * rank,
                wanted,
                kernel_size=solution.k,
                stride=solution.s,
                dilation=solution.d,
                frameworks=[name],
            )
            params = {**solution.params}
            if "output_shape" in params:
                params["output_shape"] = wanted
            assert params in [s.params for s in again.solutions], (n, solution)
            assert all(a.stride * n == w for a, w in zip(axes, wanted, strict=True))


def test_factor_checks_a_given_layer():
    report = factor([8], kernel_size=[16], stride=[8], dilation=[1], frameworks=["torch"])
    assert report.solutions[0].params == {"padding": [4], "output_padding": [0]}
    with pytest.raises(DeconvError, match=r"--factor 8 needs --s 8"):
        factor([8], kernel_size=[16], stride=[4], dilation=[1], frameworks=["torch"])


def test_factor_of_tf_writes_the_requested_size_for_every_n():
    report = factor([4], kernel_size=[8], stride=None, dilation=[1], frameworks=["tf"])
    assert report.solutions[0].params == {"padding": "SAME", "output_shape": ["4*n"]}


def test_nothing_found_names_the_nearest_sizes_never_none():
    with pytest.raises(DeconvError, match=r"nearest reachable: 8$") as caught:
        found([3], [60], [3], [2], [1], ["torch"])
    assert caught.value.exit_code == ExitCode.FAILURE


HUGE = [
    ["shape", "--in", "999999999", "--k", "999999999", "--s", "999999999"],
    ["shape", "--in", "999999999", "--k", "999999999", "--s", "999999999", "--d", "999999999", "--json"],
    ["shape", "--in", "5", "--k", "3", "--s", "999999999", "--padding", "same", "-f", "onnx", "--json"],
    ["shape", "--in", "5", "--k", "3", "--s", "999999999", "--op", "999999998", "-f", "torch"],
    ["pad", "--in", "3", "--out", "10000"],
    ["pad", "--in", "3", "--out", "10000", "-f", "torch"],
    ["pad", "--in", "999999999", "--out", "1", "--k", "999999999", "--s", "999999999"],
    ["pad", "--in", "7", "--out", "999999999", "-f", "torch", "--max-k", "64", "--max-s", "64"],
    ["pad", "--in", "9,9,9", "--out", "999999999,5,999999999", "--d", "999999999"],
    ["pad", "--factor", "999999999", "--k", "999999999"],
    ["pad", "--factor", "64,64,64", "--max-k", "64"],
    ["pad", "--in", "3", "--out", "999999999", "--s", "999", "-f", "torch"],
    ["pad", "--in", "3,4", "--out", "999999999,7", "--s", "999999", "--d", "3", "-f", "tf"],
]


@pytest.mark.parametrize("args", HUGE, ids=[" ".join(a) for a in HUGE])
def test_work_is_bounded_by_the_data_not_by_a_parameters_value(args):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "deconv_cli", *args], capture_output=True, text=True, timeout=60, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode in (0, 1, 2), result.stderr
    assert "Traceback" not in result.stderr
    # CPU time, so a busy machine does not count: an interpreter start and well under a second of work
    assert after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime < 1.5


@settings(max_examples=100, deadline=None)
@given(rank_axes, options)
def test_without_a_framework_a_layer_any_framework_builds_is_read_not_refused(axes, option):
    chosen = [option] * len(axes)
    readers = []
    for name in READING_ORDER:
        try:
            layers = FRAMEWORKS[name].layers(axes, own_terms(FRAMEWORKS[name], axes, chosen))
        except DeconvError:
            continue
        readers.append((name, layers))
    if not readers:
        with pytest.raises(DeconvError):
            shape(None, axes, chosen)
        return
    report = shape(None, axes, chosen)
    name, layers = readers[0]
    assert report.framework == name
    assert report.crop == tuple((t.begin, t.end) for t in layers)
    assert name in report.reading


def test_without_a_framework_an_int_padding_is_pytorchs_in_every_rank(cli_run):
    for sizes in ("7", "7,7,7"):
        code, stdout, _ = cli_run(
            "shape", "--in", sizes, "--k", "3", "--s", "2", "--padding", "1", "--emit", "torch"
        )
        assert code == 0
        assert "padding=(1" in stdout
    assert cli_run("shape", "--in", "16", "--k", "6", "--s", "2", "--padding", "same")[:2] == (0, "32\n")


big = st.integers(1, 999_999_999)
huge_axes = st.lists(
    st.builds(Axis, n=big, kernel_size=big, stride=big, dilation=big), min_size=1, max_size=3
)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([*ALL, None]), huge_axes, options, st.lists(big, min_size=3, max_size=3))
def test_shape_and_pad_take_well_under_a_second_for_any_values(name, axes, option, wanted):
    start = time.process_time()
    with contextlib.suppress(DeconvError):
        shape(name, axes, [option] * len(axes))
    with contextlib.suppress(DeconvError):
        pad(
            [a.n for a in axes],
            wanted[: len(axes)],
            kernel_size=[a.kernel_size for a in axes],
            stride=[a.stride for a in axes],
            dilation=[a.dilation for a in axes],
            frameworks=ALL,
        )
    assert time.process_time() - start < 1


def test_without_a_framework_a_crop_only_jax_builds_is_shown_in_jaxs_own_terms():
    report = shape(None, [Axis(3, 3, 2)], [Options(Padding.explicit(0, -1))])
    assert (report.framework, report.output, report.crop, report.padding) == ("jax", (8,), ((0, -1),), "2:3")
    assert report.reading.endswith("(torch, tf, onnx, keras refuse it); the crop 0:-1 is its padding=2:3")


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("--in", "3", "--out", "100"), "--k 50 --s 25 reaches 100 unmarked"),
        (("--in", "3", "--out", "10000", "-f", "jax"), "--k 5000 --s 2500 reaches 10000 unmarked"),
        (("--in", "3,4", "--out", "100,40"), "--k 50,16 --s 25,8 reaches 100,40 unmarked"),
    ],
)
def test_when_every_setting_found_is_marked_pad_names_an_unmarked_one_beyond_its_limits(cli_run, args, hint):
    code, stdout, stderr = cli_run("pad", *args)
    assert code == 0
    assert all("marks=" in line for line in stdout.splitlines())
    assert stderr == f"every setting found is marked; {hint}\n"
    k, s = hint.split()[1], hint.split()[3]
    code, stdout, _ = cli_run("pad", *args, "--json")
    unmarked = {"k": list(parse.ints(k, "--k")), "s": list(parse.ints(s, "--s"))}
    assert json.loads(stdout)["unmarked"] == unmarked
    code, stdout, _ = cli_run("pad", *args, "--k", k, "--s", s)
    assert code == 0
    assert "marks=" not in stdout.splitlines()[0]


def test_no_hint_when_an_unmarked_setting_is_found(cli_run):
    code, stdout, stderr = cli_run("pad", "--in", "8", "--out", "16")
    assert (code, stderr) == (0, "")
    assert "marks=" not in stdout.splitlines()[0]
    assert "unmarked" not in json.loads(cli_run("pad", "--in", "8", "--out", "16", "--json")[1])


# the audit's searches (n, out, d, max_k, max_s) -> the best setting; each finds 10^5 to 6*10^5
SEARCHES = [
    (([3], [100], [1], None, 64), ("tf", (50,), (25,), ((0, 0),), ())),
    (
        ([3, 4, 5], [100, 200, 300], [1] * 3, 64, 64),
        ("torch", (60,) * 3, (60,) * 3, ((40, 40), (20, 20), (0, 0)), ()),
    ),
    (([3, 4], [100, 200], [1, 1], 64, 64), ("tf", (50, 50), (50, 50), ((25, 25), (0, 0)), ())),
    (([5], [10], [1000], 64, 64), ("onnx", (2,), (1,), ((496, 499),), ())),
    (([5], [10], [10], 64, 64), ("onnx", (2,), (1,), ((1, 4),), ())),
    (
        ([999_999_999] * 3, [1] * 3, [1] * 3, 64, 64),
        (
            "onnx",
            (2,) * 3,
            (1,) * 3,
            ((499_999_999, 500_000_000),) * 2 + ((500_000_000, 499_999_999),),
            ("discards",),
        ),
    ),
]


@pytest.mark.parametrize(("search", "best"), SEARCHES)
def test_the_best_setting_of_a_wide_search_takes_well_under_a_second(search, best):
    n, out, d, max_k, max_s = search
    start = time.process_time()
    report = pad(n, out, kernel_size=None, stride=None, dilation=d, frameworks=ALL, max_k=max_k, max_s=max_s)
    first = report.solutions[0]
    assert time.process_time() - start < 1
    assert (first.framework, first.k, first.s, first.crop, first.marks) == best
    assert first.output == tuple(out)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 2).flatmap(
        lambda rank: st.tuples(
            st.lists(st.integers(1, 9), min_size=rank, max_size=rank),
            st.lists(st.integers(1, 40), min_size=rank, max_size=rank),
            st.lists(st.integers(1, 3), min_size=rank, max_size=rank),
        )
    ),
    st.integers(1, 8),
    st.integers(1, 4),
    st.lists(st.sampled_from(ALL), min_size=1, max_size=3, unique=True),
)
def test_a_search_ranks_exactly_as_sorting_every_kernel_and_strides_settings(sizes, max_k, max_s, frameworks):
    n, out, d = sizes
    every = []
    for k in range(1, max_k + 1):
        for s in range(1, max_s + 1):
            with contextlib.suppress(DeconvError):
                every += found(n, out, [k] * len(n), [s] * len(n), d, frameworks)
    try:
        report = pad(
            n, out, kernel_size=None, stride=None, dilation=d, frameworks=frameworks, max_k=max_k, max_s=max_s
        )
    except DeconvError:
        assert not every
        return
    # read a prefix first, then everything: both in the order of one stable sort
    ranked = sorted(every, key=lambda s: s.rank)
    assert report.solutions[:3] == tuple(ranked[:3])
    assert list(report.solutions) == ranked
    assert len(report.solutions) == len(ranked)
    assert report.solutions[-1] == ranked[-1]


def test_a_terminal_shows_the_first_settings_of_a_wide_search_without_counting_them_all():
    start = time.perf_counter()
    code, shown, stderr = on_terminal(
        [DECONV, "pad", "--in", "3", "--out", "100", "--max-s", "64", "--max-k", "64"], stderr_too=False
    )
    # counting the 142,000 settings took 6 s; the first 20 need the few kernels that can beat them
    assert time.perf_counter() - start < 4
    assert (code, stderr) == (0, b"more settings follow; --limit 0 shows all\n")
    assert "k=50" in plain(shown)  # the best: a stride of 25, no crop
