"""One axis of each layer kind as a ``SizeMap``, in a framework's own conventions.

Every function returns the floor-affine map of one spatial axis and raises ``DeconvError`` for
parameters the framework refuses whatever the input size; refusals that depend on the input size
(a kernel larger than the padded input, an empty output) become the map's ``min_in`` / ``min_out``.
``padding`` is an int (symmetric, torch and onnx), a ``(begin, end)`` pair (onnx ``pads``, tf and
jax explicit) or ``"same"`` / ``"valid"`` / ``"same_lower"`` (keras and tf same|valid, torch's
string paddings, onnx ``auto_pad``). Each rule is checked against the frameworks by the golden
records of ``tests/golden/make_nets.py``. Transposed convolutions reuse the single-layer rules of
``core.frameworks`` rather than restating them.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Axis, Options
from deconv_cli.core.geometry import Padding as Crop
from deconv_cli.core.net.graph import SizeMap, Term
from deconv_cli.errors import DeconvError

Padding = int | tuple[int, int] | str

# what each framework's forward conv and pooling accept as ``padding``
_MODES = {
    "torch": ("same", "valid"),
    "tf": ("same", "valid"),
    "keras": ("same", "valid"),
    "onnx": ("same", "same_lower", "valid"),
    "jax": ("same", "valid"),
}
_PAIRS = ("tf", "onnx", "jax")  # explicit (begin, end); torch's int and onnx's int are symmetric
_INTS = ("torch", "onnx")


def _framework(framework: str) -> None:
    if framework not in FRAMEWORKS:
        raise DeconvError(f"framework must be one of {', '.join(FRAMEWORKS)} (got {framework!r})")


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DeconvError(f"{name} must be a positive integer (got {value!r})")


def _padding(framework: str, padding: Padding) -> tuple[str, int, int]:
    """``(mode, begin, end)``: 'same' (either side), 'valid' or 'explicit' with its pads."""
    choices = [repr(mode) for mode in _MODES[framework]]
    choices += ["an int"] * (framework in _INTS) + ["a (begin, end) pair"] * (framework in _PAIRS)
    accepted = ", ".join(choices[:-1]) + " or " + choices[-1]
    if padding == 0 and framework not in _INTS:  # the default: no padding, in every framework
        padding = "valid"
    if isinstance(padding, str):
        if padding not in _MODES[framework]:
            raise DeconvError(f"{framework}: padding must be {accepted} (got {padding!r})")
        return ("valid" if padding == "valid" else "same"), 0, 0
    if isinstance(padding, int) and not isinstance(padding, bool):
        begin = end = padding
        allowed = framework in _INTS
    elif (
        isinstance(padding, tuple)
        and len(padding) == 2
        and all(isinstance(p, int) and not isinstance(p, bool) for p in padding)
    ):
        begin, end = padding
        allowed = framework in _PAIRS or (framework == "torch" and begin == end)
    else:
        raise DeconvError(f"padding must be an int, a (begin, end) pair or a mode (got {padding!r})")
    if not allowed:
        raise DeconvError(f"{framework}: padding must be {accepted} (got {padding})")
    if framework != "jax" and min(begin, end) < 0:
        raise DeconvError(f"{framework}: padding must be >= 0 (got {padding}); negative pads are jax-only")
    return "explicit", begin, end


def _window(extent: int, stride: int, begin: int, end: int) -> SizeMap:
    """``floor((n + begin + end - extent) / stride) + 1``, for ``n + begin + end >= extent``."""
    return SizeMap((Term(1, begin + end - extent + stride, stride),), max(1, extent - begin - end))


def strides_with_dilation(framework: str, strides: Sequence[int], dilations: Sequence[int]) -> None:
    """Keras refuses a stride above 1 on any axis with a dilation above 1 on any axis, in Conv
    and ConvTranspose layers alike (checked in Keras 3.15): a rule of the whole layer, which
    the readers apply once they have every axis.

    >>> strides_with_dilation("keras", (2, 1), (1, 2))
    Traceback (most recent call last):
    deconv_cli.errors.DeconvError: keras: strides must be 1 when dilation_rate > 1 (got ...)
    >>> strides_with_dilation("torch", (2, 1), (1, 2))
    """
    if framework == "keras" and max(strides) > 1 and max(dilations) > 1:
        raise DeconvError(
            f"keras: strides must be 1 when dilation_rate > 1 "
            f"(got strides={','.join(map(str, strides))}, dilation_rate={','.join(map(str, dilations))})"
        )


def conv(
    framework: str, kernel_size: int, stride: int = 1, dilation: int = 1, padding: Padding = 0
) -> SizeMap:
    """A forward convolution: ``floor((n + begin + end - d(k-1) - 1) / s) + 1``, or
    ``ceil(n / s)`` for 'same'; the padded input must hold the dilated kernel. (tf.nn.conv2d
    on the default oneDNN CPU build returns a size even for shorter inputs; Keras and the shape
    rule refuse them, and so does deconv.)

    >>> conv("torch", 3, 2, padding=1)(7), conv("keras", 3, 2, padding="same")(7)
    (4, 4)
    >>> conv("torch", 5)(4) is None
    True
    """
    _framework(framework)
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        _positive(name, value)
    strides_with_dilation(framework, (stride,), (dilation,))
    mode, begin, end = _padding(framework, padding)
    extent = dilation * (kernel_size - 1) + 1
    if mode == "same":
        if framework == "torch" and stride != 1:
            raise DeconvError(f"torch: stride must be 1 with padding='same' (got {stride})")
        if framework == "onnx" and dilation != 1:
            raise DeconvError(
                f"onnx: dilations must be 1 with auto_pad SAME_* (got {dilation}); ONNX Runtime "
                "refuses the pair: give explicit pads"
            )
        return SizeMap((Term(1, stride - 1, stride),))
    return _window(extent, stride, begin, end)


def pool(
    framework: str,
    kernel_size: int,
    stride: int | None = None,
    dilation: int = 1,
    padding: Padding = 0,
    ceil_mode: bool = False,
) -> SizeMap:
    """Max or average pooling (``stride`` defaults to ``kernel_size``): the windows of ``conv``;
    with ``ceil_mode`` the last partial window counts, but it must start inside the input or the
    left padding, so the size is the minimum of two terms (torch, onnx). For onnx this is the
    spec's floor: ONNX Runtime truncates toward zero instead, so where the window is longer than
    the padded input (``n + begin + end < extent``) it still gives one output; deconv refuses that.

    >>> pool("torch", 2)(7), pool("torch", 2, ceil_mode=True)(7), pool("keras", 2, padding="same")(7)
    (3, 4, 4)
    >>> pool("torch", 3, 2, padding=1, ceil_mode=True).terms
    (Term(numerator=1, offset=2, denominator=2), Term(numerator=1, offset=2, denominator=2))
    """
    _framework(framework)
    stride = kernel_size if stride is None else stride
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        _positive(name, value)
    if ceil_mode and framework not in ("torch", "onnx"):
        raise DeconvError(f"{framework}: ceil_mode must be False (got True); use padding='same'")
    if framework == "torch" and isinstance(padding, str):
        raise DeconvError(f"torch: pooling padding must be an int (got {padding!r})")
    if framework in ("tf", "keras") and not isinstance(padding, str) and padding != 0:
        raise DeconvError(f"{framework}: pooling padding must be 'same' or 'valid' (got {padding})")
    mode, begin, end = _padding(framework, padding)
    extent = dilation * (kernel_size - 1) + 1
    if mode == "same":
        if framework == "onnx" and ((dilation != 1 and kernel_size > 1) or kernel_size < stride):
            # ONNX Runtime then needs negative pads for some sizes and fails, or miscounts
            raise DeconvError(
                f"onnx: auto_pad SAME_* pooling needs dilations 1 and kernel_shape >= strides "
                f"(got kernel_shape={kernel_size}, strides={stride}, dilations={dilation}); "
                "give explicit pads"
            )
        return SizeMap((Term(1, stride - 1, stride),))
    if framework == "torch" and begin > kernel_size // 2:
        raise DeconvError(f"torch: padding must be <= kernel_size // 2 = {kernel_size // 2} (got {begin})")
    if framework == "onnx" and max(begin, end) >= kernel_size:
        raise DeconvError(f"onnx: pads must be < kernel_shape = {kernel_size} (got {(begin, end)})")
    if not ceil_mode:
        return _window(extent, stride, begin, end)
    # the ceil count, and the last window starting at (m-1)*s < n + begin
    return SizeMap(
        (Term(1, begin + end - extent + 2 * stride - 1, stride), Term(1, begin - 1 + stride, stride))
    )


def conv_transpose(
    framework: str,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    padding: Padding = 0,
    output_padding: int | None = None,
) -> SizeMap:
    """A transposed convolution: ``s*n + c``, with ``c`` read from the framework's single-layer
    rules (``core.frameworks``); the output must not be empty. An int or a ``(begin, end)`` pair
    is the padding as the framework's single-layer rules read it (torch's crop, ONNX pads, jax's
    lax.conv_transpose edge padding).

    >>> conv_transpose("torch", 4, 2, padding=1)(5), conv_transpose("keras", 3, 2, padding="same")(5)
    (10, 10)
    >>> conv_transpose("torch", 3, 2, padding=2)(1) is None
    True
    """
    _framework(framework)
    for name, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        _positive(name, value)
    if padding == 0 and framework == "keras":  # the default; keras names it
        padding = "valid"
    if isinstance(padding, str):
        if padding not in ("same", "valid", "same_lower"):
            raise DeconvError(f"padding must be 'same', 'valid', 'same_lower' or explicit (got {padding!r})")
        crop = Crop(padding)  # type: ignore[arg-type]
    elif isinstance(padding, int):
        crop = Crop.explicit(padding, padding)
    else:
        crop = Crop.explicit(*padding)
    options = Options(crop, output_padding)
    # large enough that no framework's output is empty, whichever way it reads the padding (a
    # crop, or jax's edge padding, which crops extent-1-padding): (n-1)s + extent - crops >= 1
    n = 2 + abs(crop.begin) + abs(crop.end) + dilation * (kernel_size - 1)
    rules = FRAMEWORKS[framework]  # resolve applies the per-axis checks; rank rules are the caller's
    first, second = (
        rules.resolve(Axis(m, kernel_size, stride, dilation), options).output for m in (n, n + 1)
    )
    if second - first != stride:  # every framework's rule is s*n + c; a change there must show
        raise AssertionError(f"{framework} conv_transpose is not affine in n: {first}, {second}")
    return SizeMap((Term(stride, first - stride * n),))


def upsample(framework: str, scale: int | Fraction) -> SizeMap:
    """Nearest or linear upsampling by a factor: ``floor(n * scale)``.

    >>> upsample("torch", 2)(5), upsample("onnx", Fraction(3, 2))(5)
    (10, 7)
    """
    _framework(framework)
    scale = Fraction(scale)
    if scale <= 0:
        raise DeconvError(f"scale must be > 0 (got {scale})")
    if framework == "keras" and scale.denominator != 1:
        raise DeconvError(f"keras: UpSampling size must be an integer (got {scale})")
    return SizeMap((Term(scale.numerator, 0, scale.denominator),))


def resize(size: int) -> SizeMap:
    """A resize to a fixed ``size``, whatever the input.

    >>> resize(64)(5), resize(64)(500)
    (64, 64)
    """
    _positive("size", size)
    return SizeMap((Term(0, size),))


def pad(begin: int, end: int, reflect: bool = False) -> SizeMap:
    """Padding: ``n + begin + end`` (negative values crop, as ONNX Pad allows). Reflection
    mirrors the input without its edge, so each side takes fewer than ``n`` elements (ONNX
    Runtime and torch both refuse more).

    >>> pad(1, 2)(5), pad(1, 2, reflect=True)(2), pad(1, 2, reflect=True)(3)
    (8, None, 6)
    """
    return SizeMap((Term(1, begin + end),), min_in=max(begin, end, 0) + 1 if reflect else 1)


def crop(begin: int, end: int) -> SizeMap:
    """Cropping: ``n - begin - end``, which must leave at least one element.

    >>> crop(1, 2)(5), crop(1, 2)(3)
    (2, None)
    """
    if min(begin, end) < 0:
        raise DeconvError(f"crop must be >= 0 on both sides (got {(begin, end)})")
    return SizeMap((Term(1, -begin - end),))
