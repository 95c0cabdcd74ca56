"""``deconv shape``: what a transposed conv outputs, why, and how each framework writes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deconv_cli.core.frameworks import FRAMEWORKS, READING_ORDER, own_terms, read_as_written
from deconv_cli.core.geometry import Axis, Options, Steps
from deconv_cli.core.parse import each
from deconv_cli.core.translate import Expression, express
from deconv_cli.errors import DeconvError


@dataclass(frozen=True)
class Refusal:
    """A framework that cannot build this layer at all, with its reason."""

    error: str


@dataclass(frozen=True)
class ShapeReport:
    """The layer the options define in ``framework``, explained per axis."""

    framework: str
    api: str
    padding: str
    output: tuple[int, ...]
    crop: tuple[tuple[int, int], ...]
    candidates: tuple[Sequence[int], ...]
    steps: tuple[Steps, ...]
    frameworks: dict[str, Expression | Refusal]
    #: without --framework: how the layer was read (whose conventions), else empty
    reading: str = ""


def shape(framework: str | None, axes: Sequence[Axis], options: Sequence[Options]) -> ShapeReport:
    """Resolve the options in ``framework`` and translate the layer to every framework.

    Without a framework the layer is read as written: an int padding is PyTorch's crop,
    ``B:E`` a crop at each edge, ``same`` TensorFlow's, each option as the first framework
    of ``READING_ORDER`` that accepts it means it (``reading`` says which).

    >>> from deconv_cli.core.geometry import Padding
    >>> report = shape("tf", [Axis(16, 6, 2)], [Options(Padding("same"))])
    >>> report.output, report.crop, [list(c) for c in report.candidates]
    ((32,), ((2, 2),), [[31, 32]])
    >>> report.frameworks["torch"].params
    {'padding': [2], 'output_padding': [0]}
    """
    reading = ""
    if framework is None:
        rules = read_as_written(axes, options)
        written, options = each([o.padding for o in options]), own_terms(rules, axes, options)
        reading = f"no --framework: read as written, with {rules.name}'s conventions"
        refusing = READING_ORDER[: READING_ORDER.index(rules.name)]
        if refusing:
            reading += f" ({', '.join(refusing)} {'refuses' if len(refusing) == 1 else 'refuse'} it)"
        if each([o.padding for o in options]) != written:  # jax's padding is not a crop
            reading += f"; the crop {written} is its padding={each([o.padding for o in options])}"
    else:
        rules = FRAMEWORKS[framework]
    layers = rules.layers(axes, options)
    translations: dict[str, Expression | Refusal] = {}
    for name, other in FRAMEWORKS.items():
        try:
            translations[name] = express(other, axes, layers)
        except DeconvError as error:
            translations[name] = Refusal(str(error))
    return ShapeReport(
        framework=rules.name,
        api=rules.api.format(n=len(axes)),
        padding=each([o.padding for o in options]),
        output=tuple(layer.output for layer in layers),
        crop=tuple((layer.begin, layer.end) for layer in layers),
        candidates=tuple(rules.candidates(a, o) for a, o in zip(axes, options, strict=True)),
        steps=tuple(Steps.of(a, layer) for a, layer in zip(axes, layers, strict=True)),
        frameworks=translations,
        reading=reading,
    )


# The layer as text, for the report's rows and explain's notes.


def call(params: dict[str, object]) -> str:
    """Parameters as a keyword-argument list to paste into code.

    >>> call({"padding": [1], "output_padding": None})
    'padding=[1], output_padding=None'
    """
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def _slices(spans: Sequence[tuple[int, int]], native: Sequence[int]) -> str:
    text = "[..., " + ", ".join(f"{start}:{stop}" for start, stop in spans) + "]"
    if any(start < 0 or stop > size for (start, stop), size in zip(spans, native, strict=True)):
        text += " (zeros beyond the edges)"
    return text


def expression(item: Expression | Refusal, crop: Sequence[tuple[int, int]]) -> str:
    """One framework's way to write the layer with this ``crop``, as one line of text."""
    if isinstance(item, Refusal):
        return f"error: {item.error}"
    if item.then is None:
        return call(item.params)
    text = f"not expressible directly: {call(item.params)} then crop {_slices(item.then, item.output)}"
    if item.lookalike is not None and item.lookalike_crop is not None:
        shift = max(abs(a - b) for (a, _), (b, _) in zip(item.lookalike_crop, crop, strict=True))
        text += (
            f"; {call(item.lookalike)} gives the same size but crops "
            f"{crops(item.lookalike_crop)}, not {crops(crop)}: values shifted by {shift}"
        )
    return text


def crops(crops: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{begin}:{end}" for begin, end in crops)
