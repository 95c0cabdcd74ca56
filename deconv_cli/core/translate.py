"""Write a layer in a framework's own terms, by search through that framework's rules.

Nothing here knows a framework: it proposes options, lets ``Framework.resolve``
say what each one does, and keeps those that give the wanted result. So a
translation is right exactly when the framework's rules are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


def proposals(framework: Framework, axis: Axis, output: int, begin: int) -> Iterator[Options]:
    """Options of ``framework`` that may give ``output`` starting ``begin`` into the full result.

    Every padding mode with and without output_padding / output_shape, then the explicit
    padding of that crop in the framework's own terms, with the output_padding or
    output_shape that gives the end back. A handful, whatever the sizes: each output_padding
    tried is computed, never searched.
    """
    yield from modes(framework, axis, output)
    yield from explicit(framework, axis, output, begin)


def modes(framework: Framework, axis: Axis, output: int) -> Iterator[Options]:
    """The padding modes, alone, with the output_padding that reaches ``output``, or asking for it."""
    for mode in MODES:
        yield Options(Padding(mode))
        yield Options(Padding(mode), output_padding=0)  # Keras: 0 is not the same as omitted
        base = attempt(framework, axis, Options(Padding(mode), output_padding=0))
        if base is not None and output > base.output:  # every output_padding adds to the end
            yield Options(Padding(mode), output_padding=output - base.output)
        yield Options(Padding(mode), output_shape=output)


def explicit(framework: Framework, axis: Axis, output: int, begin: int) -> Iterator[Options]:
    """The explicit paddings that crop ``begin`` and give ``output``, in the framework's terms."""
    end = axis.full - begin - output
    own = framework.padding_for
    yield Options(own(axis, begin, end))
    if end < 0:  # zeros at the end: output_padding past the crop
        yield Options(own(axis, begin, 0), output_padding=-end)
    yield Options(own(axis, begin, max(end, 0)), output_shape=output)
    if begin > end:  # symmetric padding (torch), output_padding giving the end back
        yield Options(own(axis, begin, begin), output_padding=begin - end)


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
        [o for o in proposals(framework, a, t.output, t.begin) if attempt(framework, a, o) == t]
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
        [
            o
            for begin in _halves(a.full - t.output)
            for o in proposals(framework, a, t.output, begin)
            if (got := attempt(framework, a, o)) and got.output == t.output
        ]
        for a, t in zip(axes, layers, strict=True)
    ]
    lookalike = _combine(framework, axes, same_size)
    if lookalike is None:
        return Expression(native.output, native.crop, native.params, then)
    look = _expression(framework, axes, lookalike)
    return Expression(native.output, native.crop, native.params, then, look.params, look.crop)


def _halves(total: int) -> tuple[int, ...]:
    """Begins of the crops that split ``total`` (plus an output_padding of 1) in two halves."""
    halves = (split(total, "end")[0], split(total, "begin")[0], split(total + 1, "begin")[0])
    return tuple(dict.fromkeys(halves))


def _covering(framework: Framework, axis: Axis, target: Layer) -> list[Options]:
    """Options whose output contains the target window, least extra work first."""
    inner = min(max(target.begin, 0), max(target.end, 0))
    found: list[tuple[int, Options]] = []
    for options in (
        *(Options(Padding(mode)) for mode in MODES),
        *(
            Options(framework.padding_for(axis, p, p), op or None)
            for p in dict.fromkeys((inner, 0))
            # the output_padding that brings the end closest to the target's, and none
            for op in dict.fromkeys((0, min(axis.output_padding_limit - 1, p - max(target.end, 0))))
            if op >= 0
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
