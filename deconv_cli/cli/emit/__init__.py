"""Ready-to-paste code that builds a layer in each framework, crop or pad step included.

The functional snippet (``functional.py``) defines ``conv_transpose(x, w)`` taking the input
and weight in that framework's layouts (those of ``deconv run``) and returning the layer's
output. The module form (``module.py``) is the layer as it is written in a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deconv_cli.cli.emit.functional import snippet
from deconv_cli.cli.emit.module import Channels, module
from deconv_cli.core.geometry import Axis
from deconv_cli.core.shape import Refusal, ShapeReport, call, crops
from deconv_cli.errors import DeconvError, ExitCode

if TYPE_CHECKING:  # shape's --emit loads no pad search
    from deconv_cli.core.pad import PadReport, Solution

__all__ = ["Channels", "Code", "channels", "for_pad", "for_shape", "module", "snippet"]


@dataclass(frozen=True)
class Code:
    """What ``--emit`` prints: the functional snippet, the module form, and for ``pad`` the solution used."""

    framework: str
    functional: str
    module: str | None
    solution: str | None = None

    @property
    def text(self) -> str:
        parts = [f"# {self.solution}"] if self.solution else []
        parts.append(self.functional)
        if self.module is not None:
            parts.extend(["", "", "# the same layer as written in a model", self.module])
        return "\n".join(parts)


def channels(in_channels: int | None, out_channels: int | None, groups: int) -> Channels:
    """The module form's channels from the options of ``--emit``."""
    if any(count is not None and count % groups for count in (in_channels, out_channels)):
        raise DeconvError(
            f"--in-channels and --out-channels must be divisible by --groups (got {in_channels}, "
            f"{out_channels} and {groups})"
        )
    return Channels(in_channels, out_channels, groups)


def for_shape(report: ShapeReport, axes: Sequence[Axis], framework: str, channels: Channels) -> Code:
    """The code for the layer of ``deconv shape`` in ``framework``, or its refusal."""
    item = report.frameworks[framework]
    if isinstance(item, Refusal):
        raise DeconvError(item.error)
    return Code(
        framework,
        snippet(framework, axes, item.params, item.output, item.then, channels.groups),
        module(framework, axes, item.params, item.output, item.then, channels),
    )


def for_pad(report: PadReport, n: Sequence[int], framework: str, channels: Channels) -> Code:
    """The code for ``framework``'s best solution of ``deconv pad``, saying which it is."""
    for solution in report.solutions:
        if solution.framework == framework:
            axes = [Axis(*values) for values in zip(n, solution.k, solution.s, solution.d, strict=True)]
            native = solution.native or solution.output  # a recipe slices the native output after
            return Code(
                framework,
                snippet(framework, axes, solution.params, native, solution.then, channels.groups),
                module(framework, axes, solution.params, native, solution.then, channels),
                _described(solution),
            )
    raise DeconvError(
        f"no {framework} setting reaches this size; see the others without --emit", ExitCode.FAILURE
    )


def _described(solution: Solution) -> str:
    def ints(values: Sequence[int]) -> str:
        return ",".join(map(str, values))

    return (
        f"deconv pad's best {solution.framework} solution: k={ints(solution.k)} s={ints(solution.s)} "
        f"d={ints(solution.d)} crop={crops(solution.crop)}, {call(solution.params)}"
    )
