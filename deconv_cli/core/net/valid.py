"""The set of input sizes that work on one axis, and how it is said: periodic above a threshold,
plus finitely many smaller sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AXIS_NAMES = {1: ("H",), 2: ("H", "W"), 3: ("D", "H", "W")}


@dataclass(frozen=True)
class Valid:
    """``H`` works exactly when ``H >= start`` and ``H % modulus in residues``, or ``H in also``."""

    modulus: int
    residues: tuple[int, ...]
    start: int
    also: tuple[int, ...]

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        return n in self.also or (n >= self.start and n % self.modulus in self.residues)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Valid:
        """The set ``json`` wrote.

        >>> Valid.from_json({"modulus": 16, "residues": [0], "from": 32, "also": [5]})
        Valid(modulus=16, residues=(0,), start=32, also=(5,))
        """
        return cls(data["modulus"], tuple(data["residues"]), data["from"], tuple(data["also"]))

    def json(self) -> dict[str, object]:
        return {
            "modulus": self.modulus,
            "residues": list(self.residues),
            "from": self.start,
            "also": list(self.also),
        }

    def first(self, count: int, start: int = 1) -> list[int]:
        """The first ``count`` valid sizes from ``start`` on."""
        found = [n for n in self.also if n >= start][:count]
        if not self.residues:
            return found
        n = max(start, self.start)
        while len(found) < count:
            base = n - n % self.modulus
            found.extend(base + r for r in self.residues if base + r >= n)
            n = base + self.modulus
        return sorted(found)[:count]

    def below(self, n: int) -> int | None:
        """The largest valid size <= ``n``."""
        if self.residues and n >= self.start:
            base = n - n % self.modulus
            last = max(
                [base + r for r in self.residues if base + r <= n]
                or [base - self.modulus + self.residues[-1]]
            )
            if last >= self.start:
                return last  # every size in ``also`` is below ``start``
        return max((a for a in self.also if a <= n), default=None)

    def above(self, n: int) -> int | None:
        """The smallest valid size >= ``n``."""
        found = self.first(1, n)
        return found[0] if found else None

    def within(self, low: int, high: int, limit: int) -> list[int]:
        """The valid sizes in ``[low, high]``, at most ``limit`` of them."""
        return [n for n in self.first(limit, low) if n <= high]


def sentence(valid: Valid, name: str = "H") -> str:
    """The valid set in words.

    >>> sentence(Valid(16, (0,), 32, ()))
    'H = 16m for m >= 2 (32, 48, 64, ...)'
    >>> sentence(Valid(4, (1, 3), 5, (2,)))
    'H >= 5 with H mod 4 in {1, 3} (5, 7, 9, ...); also H = 2'
    """
    also = ""
    if valid.also:
        shown = ", ".join(map(str, valid.also[:10]))
        more = f" and {len(valid.also) - 10} more" if len(valid.also) > 10 else ""
        also = f"{name} = {shown}{more}"
    if not valid.residues:
        return f"only {also}" if also else f"no {name} works"
    examples = ", ".join(map(str, valid.first(3, valid.start))) + ", ..."
    m, r = valid.modulus, valid.residues
    if m == 1:
        rule = f"every {name} >= {valid.start}"
    elif len(r) == 1:
        offset = f" + {r[0]}" if r[0] else ""
        rule = f"{name} = {m}m{offset} for m >= {valid.start // m}"
    else:
        listed = _runs(r) if len(r) <= 12 else f"{len(r)} of {m} residues (see --json)"
        rule = f"{name} >= {valid.start} with {name} mod {m} in {{{listed}}}"
    return f"{rule} ({examples})" + (f"; also {also}" if also else "")


def _runs(values: tuple[int, ...]) -> str:
    """``0, 1, 2, 3, 5`` as ``0..3, 5``.

    >>> _runs((0, 1, 2, 3, 5, 7, 8))
    '0..3, 5, 7, 8'
    """
    runs: list[list[int]] = []
    for value in values:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ", ".join(f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs)
