"""The net solver: exact valid sets against brute force, sizes at one H, hostile networks."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconv_cli.core.net import fix, mirror, sizes, solve, text
from deconv_cli.core.net import valid as valid_set
from deconv_cli.core.net.graph import Network, Node, SizeMap, Term
from deconv_cli.errors import DeconvError

# hand-built maps (the framework rules themselves live in core/net/layers.py)


def conv(k: int, s: int = 1, d: int = 1, pad: int = 0) -> SizeMap:
    extent = d * (k - 1) + 1
    return SizeMap((Term(1, pad - extent + s, s),), max(1, extent - pad))


def ceil_pool(k: int, s: int, p: int = 0) -> SizeMap:
    # torch: ceil((n + 2p - k)/s) + 1, minus one when the last window starts in the right padding
    return SizeMap((Term(1, 2 * p - k + 2 * s - 1, s), Term(1, p - 1 + s, s)), max(1, k - 2 * p))


def conv_transpose(k: int, s: int, d: int = 1, pad: int = 0, op: int = 0) -> SizeMap:
    return SizeMap((Term(s, -s + d * (k - 1) + 1 - pad + op),))


def upsample(scale: Fraction) -> SizeMap:
    return SizeMap((Term(scale.numerator, 0, scale.denominator),))


def shift(amount: int) -> SizeMap:
    return SizeMap((Term(1, amount),))


def chain(*maps: SizeMap, skips: tuple[tuple[int, int], ...] = ()) -> Network:
    """``x`` then one layer per map; ``skips`` joins (after layer i) the output of layer j < i."""
    nodes = [Node("x", "input", (), ())]
    for index, size_map in enumerate(maps):
        nodes.append(Node(f"l{index}", "conv", (nodes[-1].name,), (size_map,)))
        for after, other in skips:
            if after == index:
                nodes.append(Node(f"j{index}_{other}", "concat", (nodes[-1].name, f"l{other}"), ()))
    return Network(tuple(nodes), 1)


def unet(depth: int, down: SizeMap, up: SizeMap, extra: SizeMap | None = None) -> Network:
    maps, skips = [], []
    for _ in range(depth):
        maps.append(down)
    for level in range(depth):
        maps.append(up)
        if extra is not None:
            maps.append(extra)
        skips.append((len(maps) - 1, depth - 2 - level) if level < depth - 1 else (len(maps) - 1, -1))
    net = chain(*maps, skips=tuple((a, b) for a, b in skips if b >= 0))
    if skips[-1][1] == -1:  # the last join meets the input itself
        nodes = (*net.nodes, Node("top", "add", (net.nodes[-1].name, "x"), ()))
        return Network(nodes, 1)
    return net


def brute(network: Network, high: int) -> list[int]:
    return [n for n in range(1, high + 1) if solve.works(network, 0, n)]


def members(valid: valid_set.Valid, high: int) -> list[int]:
    return [n for n in range(1, high + 1) if n in valid]


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        (unet(4, conv(2, 2), conv_transpose(2, 2)), "H = 16m for m >= 1 (16, 32, 48, ...)"),
        (unet(2, ceil_pool(2, 2), conv_transpose(2, 2)), "H = 4m for m >= 1 (4, 8, 12, ...)"),
        (
            unet(2, conv(3, 2, pad=2), conv_transpose(3, 2, pad=2, op=1)),
            "H = 4m for m >= 1 (4, 8, 12, ...)",
        ),
        (chain(conv(5), conv(5)), "every H >= 9 (9, 10, 11, ...)"),
        (chain(shift(-3), conv(1, 2), skips=((1, 0),)), "only H = 4"),
        (chain(conv(3, 2), conv(3, 2), skips=((1, 0),)), "no H works"),
        (chain(conv(10**9)), "every H >= 1000000000 (1000000000, 1000000001, 1000000002, ...)"),
    ],
)
def test_valid_sets_of_known_networks(network, expected):
    valid = solve.valid(network, 0)
    assert valid_set.sentence(valid) == expected
    assert members(valid, 200) == brute(network, 200)


def test_json_has_the_documented_keys():
    valid = solve.valid(unet(3, conv(2, 2), conv_transpose(2, 2)), 0)
    assert valid.json() == {"modulus": 8, "residues": [0], "from": 8, "also": []}


def test_a_period_beyond_the_bound_is_refused_not_looped():
    with pytest.raises(DeconvError, match="period above 100000"):
        solve.valid(chain(*(conv(1, 7) for _ in range(8))), 0)


def test_huge_strides_are_refused_at_once():
    with pytest.raises(DeconvError, match="period above 100000"):
        solve.valid(chain(conv(3, 10**9), conv_transpose(3, 10**9)), 0)


def test_evaluate_reports_each_layer_and_join():
    net = unet(2, conv(2, 2), conv_transpose(2, 2))
    result = sizes.evaluate(net, (10,))
    assert [layer.sizes for layer in result.layers] == [(10,), (5,), (2,), (4,), (None,), (None,), (None,)]
    assert [(join.name, join.sizes, join.match) for join in result.joins] == [
        ("j2_0", ((4,), (5,)), False),
        ("top", ((None,), (10,)), False),
    ]
    assert not result.ok


def test_evaluate_marks_the_layer_that_refuses_its_input():
    result = sizes.evaluate(chain(conv(5), conv(5)), (7,))
    assert [(layer.sizes, layer.refused) for layer in result.layers] == [
        ((7,), False),
        ((3,), False),
        ((None,), True),
    ]


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ((), "starts with its input"),
        ((Node("x", "input", (), ()), Node("a", "conv", ("y",), (conv(3),))), "reads 'y'"),
        ((Node("x", "input", (), ()), Node("x", "conv", ("x",), (conv(3),))), "used twice"),
        ((Node("x", "input", (), ()), Node("a", "concat", ("x",), ())), "two or more inputs"),
        ((Node("x", "input", (), ()), Node("a", "conv", ("a",), (conv(3),))), "reads 'a'"),
        ((Node("x", "input", (), ()), Node("a", "conv", ("x",), (conv(3), conv(3)))), "2 spatial axes"),
    ],
)
def test_networks_the_solver_cannot_read_are_refused(nodes, message):
    with pytest.raises(DeconvError, match=message):
        solve.valid(Network(nodes, 1), 0)


# ---- random networks against brute force -------------------------------------------------

small = st.integers(1, 4)
downs = st.one_of(
    st.builds(conv, small, small, st.integers(1, 2), st.integers(0, 3)),
    st.builds(ceil_pool, st.integers(1, 3), small, st.integers(0, 1)),
)
ups = st.one_of(
    st.builds(
        lambda k, s, p, op: conv_transpose(k, s, pad=p, op=op % s), small, small, st.integers(0, 2), small
    ),
    st.builds(upsample, st.sampled_from([Fraction(2), Fraction(3), Fraction(3, 2), Fraction(1, 2)])),
)
extras = st.one_of(st.none(), st.builds(shift, st.integers(-2, 2)), downs)


@st.composite
def mirrored(draw: st.DrawFn) -> tuple[SizeMap, SizeMap]:
    """A down layer and an up layer of the same stride: joins hold on some residue classes."""
    k, s, pad = draw(small), draw(small), draw(st.integers(0, 3))
    down = draw(st.sampled_from([conv(k, s, pad=pad), ceil_pool(k, s, pad // 2)]))
    up = draw(
        st.sampled_from(
            [conv_transpose(k, s, pad=pad, op=draw(st.integers(0, s - 1))), upsample(Fraction(s))]
        )
    )
    return down, up


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), mirrored(), st.sampled_from([None, shift(1), shift(-1), conv(3, pad=2)]))
def test_random_unets_valid_set_equals_brute_force(depth, pair, extra):
    net = unet(depth, *pair, extra)
    valid = solve.valid(net, 0)
    high = 3 * valid.modulus + max([valid.start, *valid.also]) + 60
    assert members(valid, high) == brute(net, high)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(downs, ups, st.builds(shift, st.integers(-3, 3))), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=2),
)
def test_random_stacks_with_skips_valid_set_equals_brute_force(maps, pairs):
    skips = tuple({(a, b): None for a, b in pairs if b < a < len(maps)})
    net = chain(*maps, skips=skips)
    valid = solve.valid(net, 0)
    high = 3 * valid.modulus + max([valid.start, *valid.also]) + 60
    assert members(valid, high) == brute(net, high)
    for n in (1, valid.start, high):
        assert sizes.evaluate(net, (n,)).ok == (n in valid)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), mirrored(), st.integers(1, 300))
def test_nearest_sizes_are_the_nearest_valid_ones(depth, pair, n):
    net = unet(depth, *pair)
    valid = solve.valid(net, 0)
    works = brute(net, n + 3 * valid.modulus + valid.start + 5)
    assert valid.below(n) == max((w for w in works if w <= n), default=None)
    assert valid.above(n) == min((w for w in works if w >= n), default=None)


# ---- networks written as text, through the framework rules, against brute force -------------

LEVEL = st.sampled_from(
    [
        ("max_pool k=2", "convT k=2 s=2"),
        ("max_pool k=2 ceil", "convT k=2 s=2"),
        ("max_pool k=3 s=2 p=1", "convT k=3 s=2 p=1 op=1"),
        ("conv k=3 s=2 p=1", "convT k=4 s=2 p=1"),
        ("conv k=4 s=2 p=1", "upsample 2"),
        ("avg_pool k=2", "convT k=3 s=2 p=1"),
        ("conv k=3 s=3", "convT k=3 s=3"),
    ]
)
BODY = st.sampled_from(["conv k=3 p=1", "conv k=3", "conv k=5 p=2 d=1", "pad 1", "crop 1"])


@st.composite
def torch_unets(draw: st.DrawFn) -> str:
    levels = draw(st.lists(LEVEL, min_size=1, max_size=3))
    lines = ["framework torch"]
    for index, (down, _) in enumerate(levels):
        lines += [f"e{index} = {draw(BODY)}", down]
    lines.append(draw(BODY))
    for index, (_, up) in reversed(list(enumerate(levels))):
        lines += [up, f"concat e{index}", draw(BODY)]
    return "\n".join(lines)


@settings(max_examples=60, deadline=None)
@given(torch_unets())
def test_text_unets_valid_set_equals_brute_force(source):
    net = text.read(source)
    valid = solve.valid(net, 0)
    high = 2 * valid.modulus + max([valid.start, *valid.also]) + 40
    assert members(valid, high) == brute(net, high)
    assert valid_set.Valid.from_json(valid.json()) == valid


@settings(max_examples=40, deadline=None)
@given(torch_unets())
def test_the_mirror_settings_make_the_first_join_match_exactly_where_they_say(source):
    # the deepest conv_transpose meets its skip first: nothing before it needs repairing
    net = text.read(source)
    first = next((m for m in mirror.mirrors(net, 0) if m.join == "concat1"), None)
    if first is None:  # an upsample, not a conv_transpose
        return
    for way in first.ways:
        if way.setting is None:
            continue
        value = int(way.setting.partition("=")[2])
        fixed = source.replace("\nconcat e", f" op={value}\nconcat e", 1)
        fixed = fixed.replace(" op=1 op=", " op=", 1)
        changed = text.read(fixed)
        expected = valid_set.Valid.from_json(way.valid)
        for n in range(1, 3 * expected.modulus + expected.start + 20):
            result = sizes.evaluate(changed, (n,))
            join = next(j for j in result.joins if j.name == "concat1")
            # the mirror's sizes assume the later joins repaired: they cover every size that builds
            assert n not in expected or join.match, (n, way)
            assert not result.ok or n in expected, (n, way)


@settings(max_examples=150, deadline=None)
@given(torch_unets(), st.integers(1, 80))
def test_the_output_padding_a_break_proposes_repairs_that_join(source, n):
    net = text.read(source)
    result = sizes.evaluate(net, (n,))
    found = [
        b
        for b in fix.breaks(net, result)
        if b.at == "concat1" and b.fixes[0].startswith("set output_padding=")
    ]
    if not found:
        return
    value = found[0].fixes[0].split("=")[1].split()[0]
    repaired = text.read(
        source.replace("\nconcat e", f" op={value}\nconcat e", 1).replace(" op=1 op=", " op=")
    )
    join = next(j for j in sizes.evaluate(repaired, (n,)).joins if j.name == "concat1")
    assert join.match


# ---- deep networks: the work follows the steps of the sizes, not the period ------------------


def deep(lines: list[str]) -> Network:
    return text.read("\n".join(["framework torch", "rank 2", *lines]))


DEEP_UNET = deep(
    [line for i in range(1, 17) for line in (f"e{i} = conv k=3 p=1", "max_pool k=2")]
    + [line for i in range(16, 0, -1) for line in ("convT k=2 s=2", f"concat e{i}")]
)
DEEP_CHAIN = deep(["max_pool k=2"] * 16 + ["convT k=2 s=2"] * 16)


def test_a_sixteen_level_unet_is_solved_exactly_within_a_cpu_budget():
    began = time.process_time()
    found = [solve.valid(DEEP_UNET, axis) for axis in range(2)]
    mirrors = [m for axis in range(2) for m in mirror.mirrors(DEEP_UNET, axis)]
    breaks = fix.breaks(DEEP_UNET, sizes.evaluate(DEEP_UNET, (1000, 1000)))
    assert time.process_time() - began < 2  # one period is 65536 sizes: it took 34 s per size
    assert [v.json() for v in found] == [{"modulus": 65536, "residues": [0], "from": 65536, "also": []}] * 2
    assert [m.advice for m in mirrors] == [
        f"output_padding = e{i} mod 2: use forward(x, output_size=e{i}.shape[2:])" for i in range(16, 0, -1)
    ] * 2
    deepest = [(way.setting, way.valid) for way in mirrors[0].ways]
    assert deepest == [
        ("output_padding=0", {"modulus": 65536, "residues": list(range(32768)), "from": 65536, "also": []}),
        (
            "output_padding=1",
            {"modulus": 65536, "residues": list(range(32768, 65536)), "from": 98304, "also": []},
        ),
    ]
    assert [(way.setting, way.valid) for way in mirrors[15].ways] == [
        ("output_padding=0", {"modulus": 2, "residues": [0], "from": 65536, "also": []}),
        ("output_padding=1", {"modulus": 2, "residues": [1], "from": 65537, "also": []}),
    ]
    assert [(b.problem, b.fixes) for b in breaks] == [
        (
            "max_pool10 (max_pool) refuses its input: H 1, W 1 is too small",
            ("pad the input up to 65536 x 65536",),
        )
    ]


def test_a_chain_of_sixteen_poolings_and_upsamplings_is_solved_within_a_cpu_budget():
    began = time.process_time()
    found = [solve.valid(DEEP_CHAIN, axis) for axis in range(2)]
    breaks = fix.breaks(DEEP_CHAIN, sizes.evaluate(DEEP_CHAIN, (1000, 1000)))
    assert time.process_time() - began < 1
    assert [valid_set.sentence(v, name) for v, name in zip(found, "HW", strict=True)] == [
        "every H >= 65536 (65536, 65537, 65538, ...)",
        "every W >= 65536 (65536, 65537, 65538, ...)",
    ]
    assert [b.fixes for b in breaks] == [("pad the input up to 65536 x 65536",)]


def test_a_join_is_cut_in_its_own_period_not_the_networks():
    # the deep chain makes the period 2**16, while the join needs only H even: 32768 residues
    wide = chain(conv(1), conv(2, 2), conv_transpose(2, 2), *[conv(2, 2)] * 15, skips=((2, 0),))
    began = time.process_time()
    found = solve.valid(wide, 0)
    assert time.process_time() - began < 0.5
    assert found.json() == {"modulus": 2, "residues": [0], "from": 2**15, "also": []}
    assert [n for n in range(2**15 - 40, 2**15 + 40) if n in found] == [
        n for n in range(2**15 - 40, 2**15 + 40) if solve.works(wide, 0, n)
    ]


@pytest.mark.parametrize(
    ("residues", "threshold", "expected"),
    [
        ([(0, 1), (4, 5)], 3, valid_set.Valid(4, (0,), 4, ())),
        ([(0, 8)], 5, valid_set.Valid(1, (0,), 5, ())),
        ([(1, 2), (3, 4), (5, 6), (7, 8)], 1, valid_set.Valid(2, (1,), 1, ())),
        ([(2, 3), (6, 8)], 20, valid_set.Valid(8, (2, 6, 7), 22, ())),
        ([], 1, valid_set.Valid(1, (), 1, ())),
    ],
)
def test_rays_are_said_in_their_shortest_period(residues, threshold, expected):
    assert solve.rays(8, residues, threshold) == expected


SQUEEZE_EXCITE = "framework torch\nf = conv k=3 s=2 p=1\nresize 1\nconv k=1\n{join} f\n"


@pytest.mark.parametrize(
    ("join", "sentence", "at_32"),
    [
        # torch, Keras and ONNX Runtime broadcast a size of 1 in Add and Mul (checked on an exported
        # squeeze-and-excitation block: every size runs), never in a concat
        ("add", "every H >= 1 (1, 2, 3, ...)", True),
        ("concat", "only H = 1, 2", False),
    ],
)
def test_an_elementwise_join_broadcasts_a_size_of_1_at_every_h(join, sentence, at_32):
    network = text.read(SQUEEZE_EXCITE.format(join=join))
    valid = solve.valid(network, 0)
    assert valid_set.sentence(valid) == sentence
    assert members(valid, 100) == brute(network, 100)
    evaluation = sizes.evaluate(network, (32,))
    assert evaluation.ok is at_32
    assert evaluation.layers[-1].sizes == ((16,) if at_32 else (None,))
