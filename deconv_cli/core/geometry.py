"""Framework-neutral arithmetic of one spatial axis of a transposed convolution.

Every framework computes the same *full* result, the scatter
``full[i*stride + j*dilation] += x[i] * w[j]``, and then crops ``begin`` elements
at the start and ``end`` at the end; a negative crop appends zeros. Frameworks
differ only in how their parameters choose that crop (see ``frameworks``).
Pure Python: nothing here imports numpy or does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["valid", "same", "same_lower", "explicit"]


@dataclass(frozen=True)
class Axis:
    """Input length ``n`` of the transposed conv and its kernel, stride and dilation."""

    n: int
    kernel_size: int
    stride: int = 1
    dilation: int = 1

    @property
    def extent(self) -> int:
        """Dilated kernel extent ``d*(k-1)+1``.

        >>> Axis(4, 3, dilation=2).extent
        5
        """
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def full(self) -> int:
        """Uncropped length ``F = (n-1)*s + d*(k-1) + 1``.

        >>> Axis(16, 6, 2).full
        36
        """
        return (self.n - 1) * self.stride + self.extent

    @property
    def dilated(self) -> int:
        """Length of the input after inserting ``s-1`` zeros between elements."""
        return (self.n - 1) * self.stride + 1

    @property
    def same(self) -> int:
        """SAME's output length ``n*s``."""
        return self.n * self.stride

    @property
    def valid(self) -> int:
        """VALID's output length in TF, Keras and JAX: ``(n-1)*s + max(extent, s)``, the
        full result, or ``n*s`` when the kernel is shorter than the stride.

        >>> Axis(4, 3, 2).valid, Axis(4, 1, 2).valid
        (9, 8)
        """
        return self.dilated - 1 + max(self.extent, self.stride)

    @property
    def output_padding_limit(self) -> int:
        """output_padding must stay below ``max(stride, dilation)`` (PyTorch, ONNX)."""
        return max(self.stride, self.dilation)

    def forward(self, size: int, begin: int = 0, end: int = 0) -> int:
        """Output length of the *forward* convolution of ``size`` padded by begin/end.

        ``floor((size + begin + end - extent) / stride) + 1``; the transposed conv
        inverts this map, which is many-to-one when stride > 1:

        >>> [Axis(3, 3, 2).forward(size, 1, 1) for size in (5, 6)]
        [3, 3]
        """
        return (size + begin + end - self.extent) // self.stride + 1


@dataclass(frozen=True)
class Padding:
    """A padding request: a mode, or an explicit crop ``begin:end`` (PyTorch's meaning)."""

    mode: Mode = "valid"
    begin: int = 0
    end: int = 0

    @classmethod
    def explicit(cls, begin: int, end: int) -> Padding:
        return cls("explicit", begin, end)

    @property
    def symmetric(self) -> bool:
        return self.mode != "explicit" or self.begin == self.end

    def __str__(self) -> str:
        if self.mode != "explicit":
            return self.mode
        return str(self.begin) if self.symmetric else f"{self.begin}:{self.end}"


@dataclass(frozen=True)
class Options:
    """The options of one axis as a user writes them (``--padding``, ``--op``, ``--output-shape``).

    ``None`` means the option was not given, which some frameworks treat differently
    from 0 (Keras: ``output_padding=None`` vs ``0``).
    """

    padding: Padding = Padding()
    output_padding: int | None = None
    output_shape: int | None = None

    @property
    def adjusted(self) -> bool:
        """Whether a non-zero output_padding or an output_shape moves the output."""
        return bool(self.output_padding) or self.output_shape is not None


@dataclass(frozen=True)
class Layer:
    """What a transposed conv produces on one axis: ``out[t] = full[t + begin]``.

    ``output = full - begin - end``; a negative ``end`` (``begin``) means zeros
    appended (prepended).
    """

    output: int
    begin: int
    end: int

    @classmethod
    def crop(cls, axis: Axis, begin: int, end: int) -> Layer:
        """The layer that crops ``begin`` and ``end`` from ``axis.full``.

        >>> Layer.crop(Axis(2, 3, 2), 0, 1)
        Layer(output=4, begin=0, end=1)
        """
        return cls(axis.full - begin - end, begin, end)

    @classmethod
    def ending(cls, axis: Axis, begin: int, output: int) -> Layer:
        """The layer of length ``output`` that starts ``begin`` into the full result."""
        return cls(output, begin, axis.full - begin - output)

    @classmethod
    def centred(
        cls, axis: Axis, output: int, odd_at: Literal["begin", "end"] = "end", extra: int = 0
    ) -> Layer:
        """The layer of length ``output`` cropped evenly from the full result
        extended by ``extra`` zeros (SAME's crop), the odd element at ``odd_at``.

        >>> Layer.centred(Axis(4, 3, 2), 6)
        Layer(output=6, begin=1, end=2)
        """
        return cls.ending(axis, split(max(0, axis.full + extra - output), odd_at)[0], output)


def split(total: int, odd_at: Literal["begin", "end"]) -> tuple[int, int]:
    """Split a total crop in two halves, the odd element going to ``odd_at``.

    >>> split(3, "end"), split(3, "begin")
    ((1, 2), (2, 1))
    """
    small = total // 2
    return (small, total - small) if odd_at == "end" else (total - small, small)


@dataclass(frozen=True)
class Steps:
    """One axis explained: the direct convolution equivalent to the transposed one.

    The transposed conv equals a stride-1 convolution with the flipped kernel over
    the input with ``stride-1`` zeros inserted between elements and ``edge_begin`` /
    ``edge_end`` zeros added at the edges (negative: that many removed).
    """

    n: int
    kernel_size: int
    stride: int
    dilation: int
    zeros_between: int
    dilated: int
    edge_begin: int
    edge_end: int
    full: int
    crop_begin: int
    crop_end: int
    output: int

    @classmethod
    def of(cls, axis: Axis, layer: Layer) -> Steps:
        """Explain ``layer`` on ``axis``.

        >>> s = Steps.of(Axis(2, 3, 2), Layer.crop(Axis(2, 3, 2), 0, 1))
        >>> (s.dilated, s.edge_begin, s.edge_end, s.full, s.output)
        (3, 2, 1, 5, 4)
        """
        edge = axis.extent - 1
        return cls(
            n=axis.n,
            kernel_size=axis.kernel_size,
            stride=axis.stride,
            dilation=axis.dilation,
            zeros_between=axis.stride - 1,
            dilated=axis.dilated,
            edge_begin=edge - layer.begin,
            edge_end=edge - layer.end,
            full=axis.full,
            crop_begin=layer.begin,
            crop_end=layer.end,
            output=layer.output,
        )
