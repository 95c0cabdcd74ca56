"""The statements of deconv's network text: its lines, comments dropped, with repeat blocks
unrolled and ``{i}`` replaced, each bounded so that a few bytes of text never unroll to
unbounded work (see ``text`` for the format)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from deconv_cli.core import parse
from deconv_cli.errors import DeconvError

MAX_REPEAT = 9999
MAX_DEPTH = 16  # real networks nest 2 or 3 deep; this keeps expand far from the recursion limit
# a line's length bounds the work and memory of each of the 10000 layers it may unroll to
MAX_LINE = 1000
_INDEX = re.compile(r"\{\s*(?:(\d+)\s*([+-])\s*)?i\s*(?:([+-])\s*(\d+)\s*)?\}")
_REPEAT = re.compile(r"repeat\s+(\d+)\s*:")


class LineError(Exception):
    """A parse error on one line, before its line number is known to the caller."""


@dataclass(frozen=True)
class _Line:
    number: int
    indent: int
    text: str


def lines(text: str) -> list[_Line]:
    found = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):  # Windows editors' BOM
        body = raw.split("#", 1)[0].rstrip()
        if body.strip():
            if "\t" in body[: len(body) - len(body.lstrip())]:
                raise DeconvError(f"line {number}: indent with spaces, not tabs")
            if len(body) > MAX_LINE:
                raise DeconvError(
                    f"line {number}: a line must be at most {MAX_LINE} characters (got {len(body)})"
                )
            found.append(_Line(number, len(body) - len(body.lstrip()), body.strip()))
    return found


def _substitute(text: str, index: int | None) -> str:
    def value(match: re.Match[str]) -> str:
        if index is None:
            raise LineError(f"{match[0]} is only defined inside a repeat block")
        before, sign, after_sign, after = match.groups()
        for digits in (before, after):
            if digits is not None and (message := parse.too_long(digits, "a number in {i}")):
                raise LineError(message)
        result = index
        if before is not None:
            result = int(before) + index if sign == "+" else int(before) - index
        if after is not None:
            result = result + int(after) if after_sign == "+" else result - int(after)
        return str(result)

    return _INDEX.sub(value, text)


def repeat_count(digits: str, written: str) -> int:
    """A repeat count (``repeat N:``, ``xN``), refused by its length before ``int`` reads it."""
    if len(digits) > 9 or not 1 <= int(digits) <= MAX_REPEAT:
        raise LineError(f"a repeat count must be from 1 to {MAX_REPEAT} (got {written!r})")
    return int(digits)


def expand(block: list[_Line], index: int | None = None, depth: int = 0) -> Iterator[tuple[int, str]]:
    """The statements of a block in order, repeat blocks unrolled, ``{i}`` replaced."""
    position = 0
    while position < len(block):
        line = block[position]
        position += 1
        repeat = _REPEAT.fullmatch(line.text)
        if repeat is None:
            if re.match(r"repeat(?![\w.\-])", line.text):  # not a layer named repeat_...
                raise DeconvError(
                    f"line {line.number}: write a repeat block as 'repeat 4:' (got {line.text!r})"
                )
            try:
                yield line.number, _substitute(line.text, index)
            except LineError as error:
                raise DeconvError(f"line {line.number}: {error}") from None
            continue
        inner = []
        while position < len(block) and block[position].indent > line.indent:
            inner.append(block[position])
            position += 1
        if not inner:
            raise DeconvError(f"line {line.number}: indent the lines that 'repeat' repeats under it")
        if depth == MAX_DEPTH:
            raise DeconvError(
                f"line {line.number}: repeat blocks nest at most {MAX_DEPTH} deep (got {depth + 1})"
            )
        try:
            times = repeat_count(repeat[1], line.text)
        except LineError as error:
            raise DeconvError(f"line {line.number}: {error}") from None
        for i in range(1, times + 1):
            yield from expand(inner, i, depth + 1)
