"""``deconv shape``: what a transposed conv outputs, why, and how each framework writes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from deconv_cli.errors import DeconvError
from deconv_cli.frameworks import FRAMEWORKS
from deconv_cli.geometry import Axis, Options, Steps
from deconv_cli.parse import each
from deconv_cli.translate import Expression, express


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
    candidates: tuple[tuple[int, ...], ...]
    steps: tuple[Steps, ...]
    frameworks: dict[str, Expression | Refusal]


def shape(framework: str, axes: Sequence[Axis], options: Sequence[Options]) -> ShapeReport:
    """Resolve the options in ``framework`` and translate the layer to every framework.

    >>> from deconv_cli.geometry import Padding
    >>> report = shape("tf", [Axis(16, 6, 2)], [Options(Padding("same"))])
    >>> report.output, report.crop, report.candidates
    ((32,), ((2, 2),), ((31, 32),))
    >>> report.frameworks["torch"].params
    {'padding': [2], 'output_padding': [0]}
    """
    rules = FRAMEWORKS[framework]
    layers = rules.layers(axes, options)
    translations: dict[str, Expression | Refusal] = {}
    for name, other in FRAMEWORKS.items():
        try:
            translations[name] = express(other, axes, layers)
        except DeconvError as error:
            translations[name] = Refusal(str(error))
    return ShapeReport(
        framework=framework,
        api=rules.api.format(n=len(axes)),
        padding=each([o.padding for o in options]),
        output=tuple(layer.output for layer in layers),
        crop=tuple((layer.begin, layer.end) for layer in layers),
        candidates=tuple(rules.candidates(a, o) for a, o in zip(axes, options, strict=True)),
        steps=tuple(Steps.of(a, layer) for a, layer in zip(axes, layers, strict=True)),
        frameworks=translations,
    )
