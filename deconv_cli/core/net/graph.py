"""The network model every source (deconv's text format, Keras JSON, ONNX) is read into.

Each layer maps a spatial size per axis by a ``SizeMap``: the minimum of floor-affine terms
``floor((numerator*n + offset) / denominator)`` that share one slope. Forward convolutions,
pooling (Keras same/valid, torch and ONNX ceil_mode as a minimum of two terms), transposed
convolutions in every framework's convention, resizes by a factor or to a size, pads and
crops all have this form, which is what makes the set of valid input sizes exactly periodic.
Joins (concat, add) have no map: their inputs must have equal sizes on every axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from deconv_cli.core.geometry import Padding
from deconv_cli.errors import DeconvError

KINDS = (
    "input",
    "conv",
    "conv_transpose",
    "max_pool",
    "avg_pool",
    "upsample",
    "resize",
    "pad",
    "crop",
    "concat",
    "add",
    "identity",
)
JOINS = ("concat", "add")


@dataclass(frozen=True)
class Term:
    """``floor((numerator*n + offset) / denominator)``, with numerator >= 0 and denominator >= 1."""

    numerator: int
    offset: int
    denominator: int = 1

    def __call__(self, n: int) -> int:
        """The term at ``n``; a k=3 s=2 valid window is ``floor((n - 3) / 2) + 1``:

        >>> Term(1, -1, 2)(7)
        3
        """
        return (self.numerator * n + self.offset) // self.denominator

    @property
    def slope(self) -> Fraction:
        return Fraction(self.numerator, self.denominator)


@dataclass(frozen=True)
class SizeMap:
    """One axis of one layer: ``out = min(term(n) for term in terms)``.

    The layer accepts ``n`` when ``n >= min_in`` and ``out >= min_out``: a framework's own
    refusals (a kernel larger than the padded input, an empty output) live in these bounds.
    """

    terms: tuple[Term, ...]
    min_in: int = 1
    min_out: int = 1

    def __post_init__(self) -> None:
        if not self.terms or len({term.slope for term in self.terms}) != 1:
            raise DeconvError(f"a size map needs terms of one slope (got {self.terms})")

    def __call__(self, n: int) -> int | None:
        """The output size, or None where the layer refuses ``n``.

        >>> SizeMap((Term(2, 0),))(5), SizeMap((Term(1, -2),), min_in=3)(2)
        (10, None)
        """
        if n < self.min_in:
            return None
        out = min(term(n) for term in self.terms)
        return out if out >= self.min_out else None

    @classmethod
    def affine(cls, numerator: int, offset: int, denominator: int = 1, min_in: int = 1) -> SizeMap:
        return cls((Term(numerator, offset, denominator),), min_in)


IDENTITY = SizeMap.affine(1, 0)


@dataclass(frozen=True)
class Transposed:
    """A conv_transpose's parameters on one axis as its framework takes them: what a fix changes.

    ``padding`` is deconv's crop (``core.geometry.Padding``); ``output_padding`` None means not
    given (Keras treats that differently from 0).
    """

    kernel_size: int
    stride: int = 1
    dilation: int = 1
    padding: Padding = field(default_factory=Padding)
    output_padding: int | None = None


@dataclass(frozen=True)
class Node:
    """One layer: its name, what it is, which earlier outputs it reads, and its map per axis.

    ``params`` keeps the layer's parameters as the source wrote them, in ``framework``'s
    conventions, for tables. A conv_transpose read with ``transposed`` (one per axis) gets its
    output_padding / output_size fixes in its framework's terms when a join breaks.
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    axes: tuple[SizeMap, ...]
    params: tuple[tuple[str, str], ...] = ()
    framework: str | None = None
    transposed: tuple[Transposed, ...] = ()


@dataclass(frozen=True)
class Network:
    """Layers in topological order, the first one the single input; ``rank`` spatial axes."""

    nodes: tuple[Node, ...]
    rank: int
