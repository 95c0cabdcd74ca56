"""Turn the CLI's comma lists into per-axis values; one value broadcasts over all axes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TypeVar

from deconv_cli.core.geometry import Axis, Options, Padding
from deconv_cli.errors import DeconvError

T = TypeVar("T")
MAX_AXES = 3
_INT = re.compile(r"-?\d{1,9}")
# digits, but too many: sizes past 10^9 are refused up front, never computed with
_LONG = re.compile(r"-?\d{10,}")


def too_long(text: str, what: str) -> str | None:
    """The message for an integer of more than nine digits, else None.

    >>> too_long("1000000000000000000", "--out")
    "--out must be an integer of at most 9 digits (got '1000000000000000000')"
    """
    return f"{what} must be an integer of at most 9 digits (got {text!r})" if _LONG.fullmatch(text) else None


# every padding mode name, and the mode it means
MODES = {"valid": "valid", "same": "same", "same_upper": "same", "same_lower": "same_lower"}


def ints(text: str, option: str, minimum: int = 1) -> tuple[int, ...]:
    """Parse ``"16"`` or ``"16,24"``.

    >>> ints("16, 24", "--in")
    (16, 24)
    """
    values = []
    for item in text.split(","):
        item = item.strip()
        if not _INT.fullmatch(item):
            wrong = f"{option} must be an integer or a comma list like 16,24 (got {text!r})"
            raise DeconvError(too_long(item, option) or wrong)
        if int(item) < minimum:
            raise DeconvError(f"{option} must be >= {minimum} (got {int(item)})")
        values.append(int(item))
    return tuple(values)


def padding(text: str) -> tuple[Padding, ...]:
    """Parse ``valid``, ``same``, ``same_lower``, ``1``, ``1,2`` or ``1:2,0:1``.

    >>> [str(p) for p in padding("1:2,0")]
    ['1:2', '0']
    """
    mode = MODES.get(text.strip().lower())
    if mode is not None:
        return (Padding(mode),)  # type: ignore[arg-type]
    result = []
    for item in text.split(","):
        begin, colon, end = item.strip().partition(":")
        if not _INT.fullmatch(begin) or (colon and not _INT.fullmatch(end)):
            raise DeconvError(
                "--padding must be valid, same, same_lower, an int, B:E, or a comma "
                f"list of those per axis like 1:2,0:1 (got {text!r})"
            )
        result.append(Padding.explicit(int(begin), int(end if colon else begin)))
    return tuple(result)


def broadcast(named: Mapping[str, Sequence[object]]) -> int:
    """The number of axes: the longest list; others must have 1 value or as many.

    >>> broadcast({"--in": (16, 24), "--k": (3,)})
    2
    """
    axes = max(len(values) for values in named.values())
    if axes > MAX_AXES:
        raise DeconvError(f"at most {MAX_AXES} spatial axes are supported (got {axes})")
    longest = next(o for o, v in named.items() if len(v) == axes)
    fit(named, axes, f"{longest} has {axes}")
    return axes


def fit(named: Mapping[str, Sequence[object]], axes: int, holder: str) -> None:
    """Each option has one value or ``axes``, as ``holder`` says the layer has.

    >>> fit({"--s": (2, 2)}, 1, "the weight has 1 axis")
    Traceback (most recent call last):
    deconv_cli.errors.DeconvError: --s has 2 values but the weight has 1 axis; give one value or one per axis
    """
    for option, values in named.items():
        if len(values) not in (1, axes):
            raise DeconvError(
                f"{option} has {len(values)} values but {holder}; give one value or one per axis"
            )


def per_axis(named: Mapping[str, Sequence[T]]) -> dict[str, tuple[T, ...]]:
    """Every option's values, one per axis, after ``broadcast`` checks them.

    >>> per_axis({"--in": (16, 24), "--k": (3,)})
    {'--in': (16, 24), '--k': (3, 3)}
    """
    axes = broadcast(named)
    return {option: spread(values, axes) for option, values in named.items()}


def each(values: Sequence[object]) -> str:
    """One value when every axis has it, else the comma list, as the options are written.

    >>> each([1, 1]), each([1, 2, 1])
    ('1', '1,2,1')
    """
    return ",".join(map(str, dict.fromkeys(values) if len(set(values)) == 1 else values))


def spread(values: Sequence[T], axes: int) -> tuple[T, ...]:
    """Repeat a single value over ``axes``; a full list is kept."""
    return tuple(values) * axes if len(values) == 1 else tuple(values)


def layer(
    n: str,
    kernel_size: str,
    stride: str = "1",
    dilation: str = "1",
    padding_text: str = "valid",
    output_padding: str | None = None,
    output_shape: str | None = None,
) -> tuple[tuple[Axis, ...], tuple[Options, ...]]:
    """The axes and options of a layer from the CLI's strings.

    >>> axes, options = layer("16,24", "3", "2", padding_text="same")
    >>> [a.n for a in axes], [str(o.padding) for o in options]
    ([16, 24], ['same', 'same'])
    """
    named: dict[str, Sequence[object]] = {
        "--in": ints(n, "--in"),
        "--k": ints(kernel_size, "--k"),
        "--s": ints(stride, "--s"),
        "--d": ints(dilation, "--d"),
        "--padding": padding(padding_text),
        "--op": (None,) if output_padding is None else ints(output_padding, "--op", minimum=0),
        "--output-shape": (None,) if output_shape is None else ints(output_shape, "--output-shape"),
    }
    values = per_axis(named)
    axes = tuple(Axis(*a) for a in zip(*(values[o] for o in ("--in", "--k", "--s", "--d")), strict=True))
    options = tuple(
        Options(*o) for o in zip(*(values[o] for o in ("--padding", "--op", "--output-shape")), strict=True)
    )
    return axes, options


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size(text: str, option: str) -> int:
    """Parse a byte count like ``512M`` or ``2G``.

    >>> size("512M", "--max-memory")
    536870912
    """
    match = re.fullmatch(r"(\d{1,6})\s*([KMGT]?)I?B?", text.strip().upper())
    if not match or int(match[1]) == 0:
        raise DeconvError(f"{option} must be a positive size like 512M or 2G (got {text!r})")
    return int(match[1]) * _UNITS[match[2]]
