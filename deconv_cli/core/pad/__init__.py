"""``deconv pad``: every setting each framework accepts that gives a wanted size, ranked.

``pad`` solves for one input size; ``factor`` for every input size at once (output
``F*n``). Both list each framework's own settings, plain ones first, odd ones marked
(``marks``) and last, and a conv-then-slice recipe in a framework's own terms where it
has no plain setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import product

from deconv_cli.core.frameworks import FRAMEWORKS, Params
from deconv_cli.core.geometry import Axis, Layer, Options
from deconv_cli.core.pad import nearest
from deconv_cli.core.pad.marks import marks, overlaps
from deconv_cli.core.pad.ranked import Ranked
from deconv_cli.core.pad.search import Found, recipe, settings
from deconv_cli.errors import DeconvError, ExitCode

#: the largest kernel searched by default: twice the largest stride, at least this
SMALLEST_MAX_K = 8
#: the largest kernel the search may be asked to reach
LARGEST_MAX_K = 64


@dataclass(frozen=True)
class Solution:
    """One framework's parameters that give the wanted output.

    ``recipe`` settings are the framework's plain conv (``params``, output ``native``)
    followed by the slice ``then`` per axis. ``marks`` name what is odd about it
    (see ``marks``).
    """

    framework: str
    k: tuple[int, ...]
    s: tuple[int, ...]
    d: tuple[int, ...]
    output: tuple[int, ...]
    crop: tuple[tuple[int, int], ...]
    params: Params
    marks: tuple[str, ...] = ()
    recipe: bool = False
    then: tuple[tuple[int, int], ...] | None = None
    native: tuple[int, ...] | None = None
    uses_output_padding: bool = False

    @property
    def symmetric(self) -> bool:
        return all(begin == end for begin, end in self.crop)

    @property
    def rank(self) -> tuple[int, bool, bool, int, bool, bool, int]:
        """Plain before marked; the framework's own settings before a recipe; overlapping
        taps (k*d > s) before none; the smallest kernel; symmetric crops; no output_padding."""
        axes = [Axis(1, k, s, d) for k, s, d in zip(self.k, self.s, self.d, strict=True)]
        return (
            len(self.marks),
            self.recipe,
            not all(overlaps(a) for a in axes),
            max(self.k),
            not self.symmetric,
            self.uses_output_padding,
            max(self.s),
        )


@dataclass(frozen=True)
class PadReport:
    """All solutions, best first (``pad``'s are found as far as they are read, see ``Ranked``);
    ``factor`` when they hold for every input size;
    ``unmarked``, when the search chose the kernel and stride and every solution is marked,
    a kernel and stride beyond its limits that give the size unmarked (``plain_setting``)."""

    solutions: Sequence[Solution]
    factor: tuple[int, ...] | None = None
    unmarked: tuple[tuple[int, ...], tuple[int, ...]] | None = None


def default_max_k(strides: Sequence[int] | None, max_s: int) -> int:
    """Kernels up to twice the largest stride (HiFi-GAN's k16 s8), at least ``SMALLEST_MAX_K``.

    >>> default_max_k([8], 4), default_max_k(None, 4)
    (16, 8)
    """
    largest = max(strides) if strides else max_s
    return min(LARGEST_MAX_K, max(SMALLEST_MAX_K, 2 * largest))


def pad(
    n: Sequence[int],
    out: Sequence[int],
    *,
    kernel_size: Sequence[int] | None,
    stride: Sequence[int] | None,
    dilation: Sequence[int],
    frameworks: Sequence[str],
    max_k: int | None = None,
    max_s: int = 4,
) -> PadReport:
    """Solve for padding (and kernel, stride when not given) so that ``n`` becomes ``out``.

    >>> best = pad([8], [16], kernel_size=[4], stride=[2], dilation=[1], frameworks=["torch"])
    >>> best.solutions[0].params
    {'padding': [1], 'output_padding': [0]}

    Raises ``DeconvError`` (exit 1) naming the nearest reachable sizes, and the search limit
    that would reach the size, when nothing works.

    >>> pad([3], [100], kernel_size=None, stride=None, dilation=[1], frameworks=["jax"]).unmarked
    ((50,), (25,))
    """
    max_k = max_k or default_max_k(stride, max_s)
    kernels = [tuple(kernel_size)] if kernel_size else [(k,) * len(n) for k in range(1, max_k + 1)]
    strides = [tuple(stride)] if stride else [(s,) * len(n) for s in range(1, max_s + 1)]
    # a search can find 10^5 settings: each kernel and stride is searched when read (see ranked)
    groups = [
        (_bound(axes, out), partial(_found, axes, out, frameworks))
        for k, s in product(kernels, strides)
        for axes in [[Axis(*v) for v in zip(n, k, s, dilation, strict=True)]]
    ]
    ranked = Ranked(groups, key=lambda s: s.rank)
    if not ranked:
        raise DeconvError(
            _nothing(n, out, kernel_size, stride, dilation, frameworks, max_k, max_s), ExitCode.FAILURE
        )
    searched = kernel_size is None and stride is None
    if searched and ranked[0].marks:  # marked ones rank last: the best is marked when all are
        return PadReport(ranked, unmarked=plain_setting(n, out, dilation, frameworks))
    return PadReport(ranked)


def _found(axes: Sequence[Axis], out: Sequence[int], frameworks: Sequence[str]) -> list[Solution]:
    return [solution for solution, _ in _solutions(axes, out, frameworks)]


def _bound(axes: Sequence[Axis], out: Sequence[int]) -> tuple[int, bool, bool, int, bool, bool, int]:
    """At most the ``rank`` of any solution on ``axes``, without searching: the marks of the
    kernel and stride, and those every crop ``begin + end = full - out`` must have (zeros
    when it is negative; discards when it exceeds ``2*(extent-1)``: one side reaches
    ``extent``); the rest of ``rank`` at its smallest where it depends on the crop."""
    totals = [(a.full - o, a.extent) for a, o in zip(axes, out, strict=True)]
    forced = any(total < 0 for total, _ in totals) + any(total > 2 * (e - 1) for total, e in totals)
    shape = [Axis(1, a.kernel_size, a.stride, a.dilation) for a in axes]
    fixed = len(marks(shape, [Layer(1, 0, 0)] * len(shape)))  # holes, uneven: no crop in them
    k, s = max(a.kernel_size for a in axes), max(a.stride for a in axes)
    return (forced + fixed, False, not all(overlaps(a) for a in shape), k, False, False, s)


def factor(
    factors: Sequence[int],
    *,
    kernel_size: Sequence[int] | None,
    stride: Sequence[int] | None,
    dilation: Sequence[int],
    frameworks: Sequence[str],
    max_k: int | None = None,
) -> PadReport:
    """The settings whose output is exactly ``factor * n`` for every input size ``n >= 1``.

    Each framework's output is affine in ``n`` for fixed parameters, ``s*n + c``, and its
    checks hold for every ``n`` once they hold for ``n = 1`` (sizes only grow with ``n``).
    So the stride is the factor, a setting qualifies when ``n = 1`` gives ``F`` and ``n = 2``
    gives ``2F``, and a requested size (output_shape) qualifies only written as ``F*n``.

    >>> best = factor([8], kernel_size=None, stride=None, dilation=[1], frameworks=["torch"])
    >>> s = best.solutions[0]
    >>> s.k, s.s, s.params
    ((16,), (8,), {'padding': [4], 'output_padding': [0]})
    """
    if stride is not None and tuple(stride) != tuple(factors):
        raise DeconvError(
            f"--factor {_fmt(factors, ',')} needs --s {_fmt(factors, ',')}: a transposed conv's "
            f"output grows by the stride per input element (got --s {_fmt(stride, ',')})"
        )
    max_k = max_k or default_max_k(factors, 1)
    kernels = [tuple(kernel_size)] if kernel_size else [(k,) * len(factors) for k in range(1, max_k + 1)]
    found = []
    for k in kernels:
        first = [Axis(1, *v) for v in zip(k, factors, dilation, strict=True)]
        second = [replace(a, n=2) for a in first]
        for solution, options in _solutions(first, factors, frameworks, generalize=True):
            try:
                layers = FRAMEWORKS[solution.framework].layers(second, options)
            except DeconvError:
                continue
            if all(t.output == 2 * f for t, f in zip(layers, factors, strict=True)):
                found.append(_per_n(solution, factors))
    if not found:
        given = f" with --k {_fmt(kernel_size, ',')}" if kernel_size else f" with kernels up to {max_k}"
        raise DeconvError(
            f"no setting of {', '.join(frameworks)} gives {_fmt(factors, 'x')} times every input size"
            f"{given}; output = s*n + (d*(k-1) + 1 - s) - crop, so the crop must be d*(k-1) + 1 - s",
            ExitCode.FAILURE,
        )
    return PadReport(tuple(sorted(found, key=lambda s: s.rank)), tuple(factors))


def _solutions(
    axes: Sequence[Axis], out: Sequence[int], frameworks: Sequence[str], *, generalize: bool = False
) -> list[tuple[Solution, tuple[Options, ...]]]:
    """Every framework's settings for these axes, and a recipe where it has no plain one."""
    k, s, d = (tuple(getattr(a, f) for a in axes) for f in ("kernel_size", "stride", "dilation"))
    result = []
    for name in frameworks:
        framework = FRAMEWORKS[name]
        own = settings(framework, axes, out)
        if generalize:  # a requested size holds for one n only
            own = [f for f in own if not any(o.output_shape is not None for o in f.options)]
        mine = [(_solution(name, k, s, d, axes, f), f.options) for f in own]
        result.extend(mine)
        if not generalize and not any(m.symmetric and not m.marks for m, _ in mine):
            plain = recipe(framework, axes, out)
            if plain is not None and plain.layers not in {f.layers for f in own}:
                result.append((_solution(name, k, s, d, axes, plain), plain.options))
    return result


def _solution(
    name: str, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...], axes: Sequence[Axis], found: Found
) -> Solution:
    return Solution(
        name,
        k,
        s,
        d,
        tuple(t.output for t in found.layers),
        tuple((t.begin, t.end) for t in found.layers),
        found.params,
        marks(axes, found.layers),
        recipe=found.then is not None,
        then=found.then,
        native=found.native,
        uses_output_padding=any(o.adjusted for o in found.options),
    )


def _per_n(solution: Solution, factors: Sequence[int]) -> Solution:
    """The solution for every n: a requested size written as ``F*n``."""
    params = dict(solution.params)
    if "output_shape" in params:
        params["output_shape"] = [f"{f}*n" for f in factors]
    return replace(solution, params=params, output=tuple(factors))


def plain_setting(
    n: Sequence[int], out: Sequence[int], dilation: Sequence[int], frameworks: Sequence[str]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """A kernel and a stride, beyond the search limits if need be, whose best setting turning
    ``n`` into ``out`` is unmarked: per axis a kernel of twice the stride ``s = ceil(out /
    (n+1))``, cropping ``(n+1)s - out``, or else ``k = s = out / n``. None when neither is.

    >>> plain_setting([3], [10000], [1], ["jax"])
    ((5000,), (2500,))
    >>> plain_setting([3], [100], [1], ["torch"])
    ((50,), (25,))
    """
    if any(o <= m for m, o in zip(n, out, strict=True)) or set(dilation) != {1}:
        return None
    wide = tuple(-(-o // (m + 1)) for m, o in zip(n, out, strict=True))
    candidates = [(tuple(2 * s for s in wide), wide)]
    if all(o % m == 0 for m, o in zip(n, out, strict=True)):
        candidates.append((tuple(o // m for m, o in zip(n, out, strict=True)),) * 2)
    for kernel_size, stride in candidates:
        try:
            best = pad(
                n, out, kernel_size=kernel_size, stride=stride, dilation=dilation, frameworks=frameworks
            )
        except DeconvError:
            continue
        if not best.solutions[0].marks:
            return kernel_size, stride
    return None


def _nothing(
    n: Sequence[int],
    out: Sequence[int],
    kernel_size: Sequence[int] | None,
    stride: Sequence[int] | None,
    dilation: Sequence[int],
    frameworks: Sequence[str],
    max_k: int,
    max_s: int,
) -> str:
    """Why nothing turns ``n`` into ``out``: the nearest reachable sizes, the limit to raise."""
    kernels = [kernel_size[0]] if kernel_size else range(1, max_k + 1)
    strides = [stride[0]] if stride else range(1, max_s + 1)
    shapes = []
    for k in [tuple(kernel_size)] if kernel_size else [(v,) * len(n) for v in kernels]:
        for s in [tuple(stride)] if stride else [(v,) * len(n) for v in strides]:
            axes = [Axis(*v) for v in zip(n, k, s, dilation, strict=True)]
            shapes.extend(nearest.reachable(frameworks, axes, out))
    closest = nearest.nearest(shapes, out)
    message = f"no setting of {', '.join(frameworks)} turns {_fmt(n, 'x')} into {_fmt(out, 'x')}"
    if closest:
        message += "; nearest reachable: " + " or ".join(_fmt(c, "x") for c in closest)
    raises = []
    if kernel_size is None:
        k_needed = nearest.smallest_kernel(frameworks, n, out, list(strides), dilation, max_k)
        if k_needed is not None:
            raises.append(f"--max-k {k_needed}" if k_needed <= LARGEST_MAX_K else f"--k {k_needed}")
    if stride is None:
        s_needed = nearest.smallest_stride(frameworks, n, out, list(kernels), dilation, max_s)
        if s_needed is not None:
            raises.append(f"--max-s {s_needed}" if s_needed <= LARGEST_MAX_K else f"--s {s_needed}")
    if raises:
        message += f"; {' or '.join(raises)} reaches {_fmt(out, 'x')}"
    return message


def _fmt(sizes: Sequence[int], joiner: str) -> str:
    return joiner.join(map(str, sizes))
