"""The arguments of the array API checked one by one: anything hostile is one ``DeconvError``
naming the parameter, and numpy integers count wherever ints do."""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from deconv_cli.arrays.stream import check_dtype
from deconv_cli.core.frameworks import FRAMEWORKS, WEIGHT_SHAPES, Framework
from deconv_cli.core.geometry import Options, Padding
from deconv_cli.core.parse import MODES, spread
from deconv_cli.errors import DeconvError

if TYPE_CHECKING:
    import numpy.typing as npt

#: the option each API parameter is given by on the command line, for messages
OPTIONS = {"op": "output_padding", "output-shape": "output_shape", "s": "stride", "d": "dilation"}


def api_words(message: str) -> str:
    """``use --op 1`` as ``use output_padding=1``: the API's parameters, not the command's options.

    >>> api_words("use --s 1 or --d 1; give --output-shape in [5, 6], or --framework onnx")
    "use stride=1 or dilation=1; give output_shape in [5, 6], or framework='onnx'"
    """

    def name(match: re.Match[str]) -> str:
        return OPTIONS[match[1]] + ("" if match[2] is None else f"={match[2]}")

    message = re.sub(r"--framework (\w+)", r"framework='\1'", message)
    return re.sub(r"--(op|output-shape|s|d)\b(?: (\d+)\b)?", name, message)


def array(value: object, name: str) -> npt.NDArray[Any]:
    """``value`` as an array of real numbers, or the error."""
    try:
        values = np.asarray(value)
    except (ValueError, TypeError, OverflowError, MemoryError) as error:
        raise DeconvError(f"{name} must be an array of real numbers ({str(error).splitlines()[0]})") from None
    try:
        check_dtype(values.dtype, name)
    except DeconvError as error:
        raise DeconvError(str(error)) from None  # a bad argument, not a bad file
    if values.size == 0:
        raise DeconvError(f"{name} must not be empty (got shape {values.shape})")
    return values


def budget(value: object, name: str) -> int | None:
    if value is None:
        return None
    if not is_int(value) or index(value) < 1:
        raise DeconvError(f"{name} must be a positive number of bytes or None (got {value!r})")
    return index(value)


def is_int(value: object) -> bool:
    """Python and numpy integers; not bools, which are ints by accident."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def index(value: object) -> int:
    return operator.index(value)  # type: ignore[arg-type]


def integer(value: object, name: str, minimum: int) -> int:
    if not is_int(value) or index(value) < minimum:
        raise DeconvError(f"{name} must be an int >= {minimum} (got {value!r})")
    return index(value)


def ints(value: object, rank: int, name: str, minimum: int) -> tuple[int, ...]:
    """One int, or one per axis: ``name`` must be ... (got ...)."""
    items = (value,) if is_int(value) else sequence(value)
    if items is None or len(items) not in (1, rank) or not all(is_int(v) and v >= minimum for v in items):  # type: ignore[operator]
        kind = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise DeconvError(f"{name} must be {kind} or {rank} of them (got {value!r})")
    return spread(tuple(index(v) for v in items), rank)


def sequence(value: object) -> tuple[object, ...] | None:
    """A list, tuple or 1-D array as a tuple; None for anything else (strings included)."""
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return tuple(value.tolist())
    return None


def framework(name: object) -> Framework:
    if not isinstance(name, str) or name not in FRAMEWORKS:
        raise DeconvError(f"framework must be one of {', '.join(FRAMEWORKS)} (got {name!r})")
    return FRAMEWORKS[name]


def options(padding: object, output_padding: object, output_shape: object, rank: int) -> tuple[Options, ...]:
    if isinstance(padding, str):
        if padding.lower() not in MODES:
            raise DeconvError(
                f"padding must be valid, same, same_lower, ints or (begin, end) pairs (got {padding!r})"
            )
        paddings = (Padding(MODES[padding.lower()]),) * rank  # type: ignore[arg-type]
    else:
        items = (padding,) if is_int(padding) else sequence(padding)
        if items is None or len(items) not in (1, rank):
            raise DeconvError(
                f"padding must be valid, same, same_lower, an int or {rank} of them, or (begin, end) "
                f"pairs (got {padding!r})"
            )
        paddings = spread(tuple(crop(item, padding) for item in items), rank)
    extras: tuple[int | None, ...] = (None,) * rank
    if output_padding is not None:
        extras = ints(output_padding, rank, "output_padding", 0)
    wanted: tuple[int | None, ...] = (None,) * rank
    if output_shape is not None:
        wanted = ints(output_shape, rank, "output_shape", 1)
    return tuple(Options(*values) for values in zip(paddings, extras, wanted, strict=True))


def crop(item: object, padding: object) -> Padding:
    if is_int(item):
        return Padding.explicit(index(item), index(item))
    pair = sequence(item)
    if pair is None or len(pair) != 2 or not all(is_int(v) for v in pair):
        raise DeconvError(f"padding must be ints or (begin, end) pairs of ints (got {padding!r})")
    return Padding.explicit(index(pair[0]), index(pair[1]))


def dtypes(x: np.dtype[Any], w: np.dtype[Any]) -> tuple[np.dtype[Any], np.dtype[Any]]:
    """(result, computation) dtypes: a float input keeps its dtype, byte order included, and is
    computed in native float32 (float16 and float32) or float64; integers and bools give float32."""
    check_dtype(x, "x")
    check_dtype(w, "w")
    if x.kind != "f":
        return np.dtype(np.float32), np.dtype(np.float32)
    return x, np.dtype(np.float64 if x.itemsize == 8 else np.float32)


def channels(channels: int, in_channels: int, groups: int, rules: Framework) -> None:
    """The input's channels against the weight's C_in and the groups."""
    if groups < 1:
        raise DeconvError(f"groups must be >= 1 (got {groups})")
    if channels != in_channels:
        raise DeconvError(
            f"input has {channels} channels but the weight expects C_in = {in_channels} "
            f"({rules.name} weight {WEIGHT_SHAPES[rules.weight_layout]}); check the framework or the layout"
        )
    if in_channels % groups:
        raise DeconvError(f"C_in = {in_channels} must be divisible by groups = {groups}")
