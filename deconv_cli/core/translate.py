"""Write a layer in a framework's own terms, by search through that framework's rules.

Nothing here knows a framework: it proposes options, lets ``Framework.resolve``
say what each one does, and keeps those that give the wanted result. So a
translation is right exactly when the framework's rules are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from deconv_cli.core.frameworks import Framework, Params
from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding, split
from deconv_cli.errors import DeconvError

MODES: tuple[Mode, ...] = ("same", "valid", "same_lower")


@dataclass(frozen=True)
class Expression:
    """A framework's parameters for a layer, and what they produce natively.

    ``then`` is ``None`` when the parameters give the layer exactly; otherwise the
    slice ``[start, stop)`` per axis to take from the native output (positions
    past its end read as zeros).
    """

    output: tuple[int, ...]
    crop: tuple[tuple[int, int], ...]
    params: Params
    then: tuple[tuple[int, int], ...] | None = None
    #: a setting with the same output size but another crop, when ``then`` is needed
    lookalike: Params | None = None
    lookalike_crop: tuple[tuple[int, int], ...] | None = None


def proposals(axis: Axis, output: int, begin: int | None = None) -> Iterator[Options]:
    """Options that may give ``output`` (starting ``begin`` into the full result), best first.

    Every padding mode with and without output_padding / output_shape, then the
    explicit crops ``b:e`` with ``b + e = F + op - output``.
    """
    limit = axis.output_padding_limit
    for mode in MODES:
        yield Options(Padding(mode))
        for output_padding in range(limit):
            yield Options(Padding(mode), output_padding=output_padding)
        yield Options(Padding(mode), output_shape=output)
    for output_padding in range(limit):
        total = axis.full - output + output_padding
        pairs = [split(total, "end"), split(total, "begin")] if begin is None else [(begin, total - begin)]
        for crop_begin, crop_end in dict.fromkeys(pairs):
            yield Options(Padding.explicit(crop_begin, crop_end), output_padding or None)


def attempt(framework: Framework, axis: Axis, options: Options) -> Layer | None:
    """The layer ``options`` give, or None where the framework raises."""
    try:
        return framework.resolve(axis, options)
    except DeconvError:
        return None


def _kind(options: Options) -> Mode:
    return options.padding.mode


def _combine(
    framework: Framework, axes: Sequence[Axis], per_axis: Sequence[Sequence[Options]]
) -> tuple[Options, ...] | None:
    """One choice per axis sharing a padding kind: the plainest, then the preferred kind."""
    best: tuple[tuple[bool, int], tuple[Options, ...]] | None = None
    for preference, kind in enumerate(framework.kinds_for(len(axes))):
        of_kind = [[o for o in choices if _kind(o) == kind] for choices in per_axis]
        if all(of_kind):
            chosen = tuple(min(choices, key=lambda o: o.adjusted) for choices in of_kind)
            key = (any(o.adjusted for o in chosen), preference)
            if best is None or key < best[0]:
                best = (key, chosen)
    return None if best is None else best[1]


def express(framework: Framework, axes: Sequence[Axis], layers: Sequence[Layer]) -> Expression:
    """How ``framework`` writes ``layers``, with a crop step when it cannot directly.

    Raises the framework's own error when it cannot build the convolution at all.
    """
    exact = [
        [o for o in proposals(a, t.output, t.begin) if attempt(framework, a, o) == t]
        for a, t in zip(axes, layers, strict=True)
    ]
    chosen = _combine(framework, axes, exact)
    if chosen is not None:
        return _expression(framework, axes, chosen)
    covering = [_covering(framework, a, t) for a, t in zip(axes, layers, strict=True)]
    chosen = _combine(framework, axes, covering)
    if chosen is None:
        for axis in axes:  # let the framework say why nothing works
            framework.resolve(axis, Options())
        raise framework.fail("cannot express this layer")
    native = _expression(framework, axes, chosen)
    then = tuple(
        (t.begin - begin, t.begin - begin + t.output)
        for t, (begin, _) in zip(layers, native.crop, strict=True)
    )
    same_size = [
        [o for o in proposals(a, t.output) if (got := attempt(framework, a, o)) and got.output == t.output]
        for a, t in zip(axes, layers, strict=True)
    ]
    lookalike = _combine(framework, axes, same_size)
    if lookalike is None:
        return Expression(native.output, native.crop, native.params, then)
    look = _expression(framework, axes, lookalike)
    return Expression(native.output, native.crop, native.params, then, look.params, look.crop)


def _covering(framework: Framework, axis: Axis, target: Layer) -> list[Options]:
    """Options whose output contains the target window, least extra work first."""
    inner = min(max(target.begin, 0), max(target.end, 0))
    found: list[tuple[int, Options]] = []
    for options in (
        *(Options(Padding(mode)) for mode in MODES),
        *(
            Options(Padding.explicit(p, p), op or None)
            for p in dict.fromkeys((inner, 0))
            for op in range(axis.output_padding_limit)
        ),
    ):
        layer = attempt(framework, axis, options)
        if layer and layer.begin <= max(target.begin, 0) and layer.end <= max(target.end, 0):
            waste = max(target.begin, 0) - layer.begin + max(target.end, 0) - layer.end
            found.append((waste, options))
    return [o for _, o in sorted(found, key=lambda pair: pair[0])]


def _expression(framework: Framework, axes: Sequence[Axis], options: Sequence[Options]) -> Expression:
    layers = framework.layers(axes, options)
    return Expression(
        output=tuple(layer.output for layer in layers),
        crop=tuple((layer.begin, layer.end) for layer in layers),
        params=framework.params(axes, options),
    )


def solutions(
    framework: Framework, axes: Sequence[Axis], outputs: Sequence[int]
) -> list[tuple[tuple[Options, ...], tuple[Layer, ...]]]:
    """One setting of ``framework`` per distinct crop that gives ``outputs``, best first.

    Only plausible crops count (see ``_plausible``).
    """
    per_axis = []
    for axis, output in zip(axes, outputs, strict=True):
        found: dict[Layer, list[Options]] = {}
        for options in proposals(axis, output):
            layer = attempt(framework, axis, options)
            if layer and layer.output == output and _plausible(axis, layer):
                found.setdefault(layer, []).append(options)
        per_axis.append([(o, layer) for layer, opts in found.items() for o in opts])
    combos = [
        combo
        for kind in framework.kinds_for(len(axes))
        for combo in product(*([c for c in choices if _kind(c[0]) == kind] for choices in per_axis))
    ]
    # one setting per distinct layer: the plainest (no output_padding / output_shape) first
    combos.sort(key=lambda combo: any(o.adjusted for o, _ in combo))
    results: dict[tuple[Layer, ...], tuple[Options, ...]] = {}
    for combo in combos:
        results.setdefault(tuple(layer for _, layer in combo), tuple(o for o, _ in combo))
    return [(options, layers) for layers, options in results.items()]


def _plausible(axis: Axis, layer: Layer) -> bool:
    """A crop that mirrors a sensible forward conv: padding below the kernel extent.

    Zeros are appended at most within one stride gap, never prepended, and no side
    crops ``extent`` or more (that would discard samples every input contributes to).
    """
    return 0 <= layer.begin < axis.extent and -axis.stride < layer.end < axis.extent
