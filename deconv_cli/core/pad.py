"""``deconv pad``: every way to get a wanted output size, in each framework's own terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

from deconv_cli.core.frameworks import FRAMEWORKS, Params
from deconv_cli.core.geometry import Axis, Layer
from deconv_cli.core.overlap import even
from deconv_cli.core.translate import solutions
from deconv_cli.errors import DeconvError, ExitCode

#: the pseudo-framework of the plain crop, for sizes no symmetric padding reaches
CROP = "crop"


@dataclass(frozen=True)
class Solution:
    """One framework's parameters that turn ``n`` into the wanted output."""

    framework: str
    k: tuple[int, ...]
    s: tuple[int, ...]
    d: tuple[int, ...]
    output: tuple[int, ...]
    crop: tuple[tuple[int, int], ...]
    params: Params
    uses_output_padding: bool = False

    @property
    def symmetric(self) -> bool:
        return all(begin == end for begin, end in self.crop)

    @property
    def rank(self) -> tuple[bool, bool, bool, int, int]:
        """Even overlap (no checkerboard) first, then symmetric, no output_padding, small k."""
        uneven = not all(even(k, s, d) for k, s, d in zip(self.k, self.s, self.d, strict=True))
        return uneven, not self.symmetric, self.uses_output_padding, max(self.k), max(self.s)


@dataclass(frozen=True)
class PadReport:
    """All solutions, best first."""

    solutions: tuple[Solution, ...]


def pad(
    n: Sequence[int],
    out: Sequence[int],
    *,
    kernel_size: Sequence[int] | None,
    stride: Sequence[int] | None,
    dilation: Sequence[int],
    frameworks: Sequence[str],
    max_k: int = 8,
    max_s: int = 4,
) -> PadReport:
    """Solve for padding (and kernel, stride when not given) so that ``n`` becomes ``out``.

    >>> best = pad([8], [16], kernel_size=[4], stride=[2], dilation=[1], frameworks=["torch"])
    >>> best.solutions[0].params
    {'padding': [1], 'output_padding': [0]}

    Raises ``DeconvError`` (exit 1) naming the nearest reachable sizes when nothing works.
    """
    found = _search(n, out, kernel_size, stride, dilation, frameworks, max_k, max_s)
    if not found:
        raise DeconvError(
            f"no setting turns {_fmt(n)} into {_fmt(out)}; nearest reachable: "
            f"{_nearest(n, out, kernel_size, stride, dilation, frameworks, max_k, max_s)}",
            ExitCode.FAILURE,
        )
    return PadReport(tuple(sorted(found, key=lambda s: s.rank)))


def _search(
    n: Sequence[int],
    out: Sequence[int],
    kernel_size: Sequence[int] | None,
    stride: Sequence[int] | None,
    dilation: Sequence[int],
    frameworks: Sequence[str],
    max_k: int,
    max_s: int,
) -> list[Solution]:
    kernels = [tuple(kernel_size)] if kernel_size else [(k,) * len(n) for k in range(1, max_k + 1)]
    strides = [tuple(stride)] if stride else [(s,) * len(n) for s in range(1, max_s + 1)]
    found: list[Solution] = []
    for k, s in product(kernels, strides):
        axes = [Axis(*values) for values in zip(n, k, s, dilation, strict=True)]
        here = [
            Solution(
                name,
                k,
                s,
                tuple(dilation),
                tuple(out),
                crop=tuple((layer.begin, layer.end) for layer in layers),
                params=FRAMEWORKS[name].params(axes, options),
                uses_output_padding=any(o.adjusted for o in options),
            )
            for name in frameworks
            for options, layers in solutions(FRAMEWORKS[name], axes, out)
        ]
        if (
            here
            and not any(s.symmetric for s in here)
            and all(a.full >= o for a, o in zip(axes, out, strict=True))
        ):
            here.append(_plain_crop(axes, out, k, s, dilation))
        found.extend(here)
    return found


def _plain_crop(
    axes: Sequence[Axis], out: Sequence[int], k: tuple[int, ...], s: tuple[int, ...], d: Sequence[int]
) -> Solution:
    """padding=0, then the slice a framework-neutral SAME would take (odd crop at the end)."""
    layers = [Layer.centred(a, o) for a, o in zip(axes, out, strict=True)]
    return Solution(
        CROP,
        k,
        s,
        tuple(d),
        tuple(out),
        tuple((L.begin, L.end) for L in layers),
        {"padding": 0, "slice": [[L.begin, L.begin + L.output] for L in layers]},
    )


def _nearest(
    n: Sequence[int],
    out: Sequence[int],
    kernel_size: Sequence[int] | None,
    stride: Sequence[int] | None,
    dilation: Sequence[int],
    frameworks: Sequence[str],
    max_k: int,
    max_s: int,
) -> str:
    """The closest reachable sizes below and above ``out`` (all axes moved together)."""
    sizes = []
    for direction in (-1, 1):
        for step in range(1, 4 * max(out) + 1):
            other = [o + direction * step for o in out]
            if min(other) < 1:
                break
            if _search(n, other, kernel_size, stride, dilation, frameworks, max_k, max_s):
                sizes.append(_fmt(other))
                break
    return " or ".join(sizes) or "none"


def _fmt(sizes: Sequence[int]) -> str:
    return "x".join(map(str, sizes))
