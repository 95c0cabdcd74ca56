"""Every setting of one framework that gives the wanted output, for one kernel and stride.

Per axis, the padding modes (with the output_padding or output_shape that reaches the
size), then every crop ``begin:end`` written in the framework's own terms, the most
symmetric first: ``Framework.resolve`` says what each proposal gives, and a setting is
kept exactly when it gives the wanted size. The crops are bounded by the data: those
that keep every input (``0 <= begin, end < extent``) all, then a few odd ones past them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from deconv_cli.core.frameworks import Framework, Params
from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding, split
from deconv_cli.core.translate import attempt, explicit, modes
from deconv_cli.errors import DeconvError

#: odd crops tried past the plain ones, per side
ODD_CROPS = 2
#: the most crops tried per axis (a kernel of 10^9 has that many plain crops)
MOST_CROPS = 64
#: settings per axis combined across axes, the most symmetric first: every axis multiplies them
PER_AXIS = {1: 64, 2: 8, 3: 4}


@dataclass(frozen=True)
class Found:
    """One setting: the options per axis, the layers they give, the framework's parameters.

    ``then`` is the slice per axis a conv-then-slice recipe takes from ``native``.
    """

    options: tuple[Options, ...]
    layers: tuple[Layer, ...]
    params: Params
    then: tuple[tuple[int, int], ...] | None = None
    native: tuple[int, ...] | None = None


def begins(axis: Axis, output: int) -> Iterator[int]:
    """Crop begins to try, the most symmetric first: every crop that keeps all inputs, then
    ``ODD_CROPS`` past them on each side; never more than ``MOST_CROPS``. Where zeros must
    be appended, also the begins nearest the centre that crop nothing at the start (all but
    jax pad only at the end, by output_padding or output_shape within a stride).

    >>> list(begins(Axis(8, 4, 2), 16))
    [1, 2, 0, 3, -1, 4, -2]
    >>> list(begins(Axis(100, 1, 8), 800))
    [-4, -3, -5, -2, 0, 1]
    """
    total = axis.full - output
    plain = max(0, min(axis.extent - 1, total) - max(0, total - axis.extent + 1) + 1)
    count = min(plain + 2 * ODD_CROPS, MOST_CROPS)
    centre = split(total, "end")[0]
    tried = [centre + (step + 1) // 2 if step % 2 else centre - step // 2 for step in range(count)]
    yield from tried
    start = min(max(centre, 0), max(0, total + axis.output_padding_limit - 1))
    yield from (b for b in (start, start + 1) if b not in tried)


def _plainness(options: Options) -> tuple[bool, bool, bool]:
    """No output_padding or output_shape first; an omitted output_padding before 0 (Keras)."""
    return options.adjusted, options.output_shape is not None, options.output_padding is not None


def axis_settings(framework: Framework, axis: Axis, output: int) -> dict[Mode, dict[Layer, Options]]:
    """Per padding kind, every distinct layer of size ``output`` and its plainest options."""
    found: dict[Mode, dict[Layer, Options]] = {}

    def keep(options: Options) -> None:
        layer = attempt(framework, axis, options)
        if layer is None or layer.output != output:
            return
        of_kind = found.setdefault(options.padding.mode, {})
        current = of_kind.get(layer)
        if current is None or _plainness(options) < _plainness(current):
            of_kind[layer] = options

    for options in modes(framework, axis, output):
        keep(options)
    for begin in begins(axis, output):
        for options in explicit(framework, axis, output, begin):
            keep(options)
    return found


def _oddness(setting: tuple[Layer, Options]) -> tuple[bool, int, bool]:
    """Crops that keep every input and append nothing first, then the most symmetric."""
    layer, options = setting
    return min(layer.begin, layer.end) < 0, abs(layer.begin - layer.end), options.adjusted


def settings(framework: Framework, axes: Sequence[Axis], outputs: Sequence[int]) -> list[Found]:
    """Every setting of ``framework`` that gives ``outputs``: one per distinct crop, plainest."""
    rank = len(axes)
    # identical axes (a cube) are searched once
    searched = {(a, o): axis_settings(framework, a, o) for a, o in zip(axes, outputs, strict=True)}
    per_axis = [searched[a, o] for a, o in zip(axes, outputs, strict=True)]
    results: dict[tuple[Layer, ...], tuple[Options, ...]] = {}
    for kind in framework.kinds_for(rank):
        try:  # the rules across axes (TF's ranks and dilation, Keras's strides with dilation)
            framework.check(axes, [Options(Padding(kind))] * rank)
        except DeconvError:
            continue
        choices = [sorted(found.get(kind, {}).items(), key=_oddness)[: PER_AXIS[rank]] for found in per_axis]
        combos = sorted(product(*choices), key=lambda combo: any(o.adjusted for _, o in combo))
        for combo in combos:
            results.setdefault(tuple(layer for layer, _ in combo), tuple(o for _, o in combo))
    return [Found(options, layers, framework.params(axes, options)) for layers, options in results.items()]


def recipe(framework: Framework, axes: Sequence[Axis], outputs: Sequence[int]) -> Found | None:
    """The framework's plain conv (VALID, padding 0) then a slice: the centred crop, the odd
    element at the end; None where the plain output does not hold that window."""
    plain = [Options()] * len(axes)
    try:
        natives = framework.layers(axes, plain)
    except DeconvError:
        return None
    layers = tuple(Layer.centred(a, o) for a, o in zip(axes, outputs, strict=True))
    if any(t.begin < n.begin or t.end < n.end for t, n in zip(layers, natives, strict=True)):
        return None
    return Found(
        tuple(plain),
        layers,
        framework.params(axes, plain),
        then=tuple(
            (t.begin - n.begin, t.begin - n.begin + t.output) for t, n in zip(layers, natives, strict=True)
        ),
        native=tuple(n.output for n in natives),
    )
