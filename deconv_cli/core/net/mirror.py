"""The mirror rule: for each conv_transpose that meets an encoder tensor at a join, the
output_padding (or output_size, output_shape) that gives back the encoder's size for every input
size, in its framework's terms, or per setting the sizes it serves."""

from __future__ import annotations

from dataclasses import dataclass

from deconv_cli.core.net import solve
from deconv_cli.core.net.fix import reach, transposed_of, upstream
from deconv_cli.core.net.graph import JOINS, Network, Node
from deconv_cli.core.net.solve import Shape
from deconv_cli.core.net.valid import AXIS_NAMES, sentence


@dataclass(frozen=True)
class Way:
    """One setting of the conv_transpose (None: none matches) and the input sizes it matches."""

    setting: str | None
    valid: dict[str, object]


@dataclass(frozen=True)
class Mirror:
    """A conv_transpose that meets an encoder tensor at a join: what makes it match on one axis."""

    layer: str
    join: str
    skip: str
    axis: int
    framework: str
    advice: str
    ways: tuple[Way, ...] = ()


def mirrors(network: Network, axis: int) -> tuple[Mirror, ...]:
    """For each conv_transpose feeding a join, the output_padding that matches the skip for every
    input size where the layers build, or per setting the sizes it matches."""
    names = AXIS_NAMES[network.rank]
    pairs = []
    for join in (node for node in network.nodes if node.kind in JOINS):
        for position, source in enumerate(join.inputs):
            up, between = upstream(network, source)
            if up is not None and up.kind == "conv_transpose" and transposed_of(up) and not between:
                pairs.append((up, join, join.inputs[1 if position == 0 else 0]))
                break
    # each join passes its encoder tensor on, as if every join before it were repaired
    form = solve.shape(network, axis, {join.name: skip for _, join, skip in pairs})
    found = []
    for up, join, skip in pairs:
        framework = up.framework or "torch"
        advice, ways = _mirror(up, skip, form, framework, names[axis], axis)
        found.append(Mirror(up.name, join.name, skip, axis, framework, advice, ways))
    return tuple(found)


def _mirror(
    up: Node, skip: str, form: Shape, framework: str, name: str, axis: int
) -> tuple[str, tuple[Way, ...]]:
    transposed = transposed_of(up)[axis]
    # the setting each residue class of H needs, at its first size where the layers build
    same = form.slopes[up.name] == form.slopes[skip]
    steps = form.slopes[skip] * form.modulus % transposed.stride == 0

    def value(sizes: tuple[int, ...]) -> tuple[str | None, int]:
        n, target = sizes
        setting = reach(framework, transposed, n, target) if same else None
        if setting is not None and setting.startswith("output_shape="):
            setting = f"output_shape={skip}.shape"  # a size, not a setting: it follows the skip
        return setting, target % transposed.stride if steps else -1

    found = solve.by_class(form, (up.inputs[0], skip), value) if form.threshold else (1, [])
    modulus, spans = found
    residues = []  # each span as residues of H, which order the settings
    for low, high, (setting, _) in spans:
        first = low % modulus
        cut = min(high - low, modulus - first)
        residues += [(first, first + cut, setting)] + [(0, high - low - cut, setting)] * (high - low > cut)
    groups: dict[str | None, list[tuple[int, int]]] = {}
    for low, high, setting in sorted(residues, key=lambda item: item[:2]):
        groups.setdefault(setting, []).append((low, high))
    by_skip: dict[int, set[str | None]] = {}  # the setting per residue of the skip's size
    for _, _, (setting, residue) in spans:
        by_skip.setdefault(residue, set()).add(setting)
    sets = {key: solve.rays(modulus, group, form.threshold) for key, group in groups.items()}
    ways = tuple(Way(key, values.json()) for key, values in sets.items())
    sizes = {key: sentence(values, name) for key, values in sets.items()}
    if not sizes:
        return "no input size builds the layers before it", ways
    if len(sizes) == 1 and None not in sizes:
        return f"{next(iter(sizes))} matches {skip} for every {name} where the layers build", ways
    never = f"; nothing matches where {sizes[None]}" if None in sizes else ""
    listed = "; ".join(f"{key} where {text}" for key, text in sizes.items() if key is not None)
    rule = _closed_form(by_skip, skip, transposed.stride)
    if framework == "jax":
        return f"jax has no output_padding: crop or pad to the size of {skip}", ways
    if not listed:
        return f"no setting of {up.name} matches {skip} for any {name} (their sizes grow apart)", ways
    if framework == "torch":
        return f"{rule or listed}: use forward(x, output_size={skip}.shape[2:]){never}", ways
    if framework == "tf":
        return f"{rule or listed}: pass output_shape from tf.shape({skip}){never}", ways
    prefix = f"{rule}; " if rule else ""  # keras and onnx
    return f"{prefix}{framework} fixes output_padding per layer: {listed}{never}", ways


def _closed_form(by_skip: dict[int, set[str | None]], skip: str, stride: int) -> str | None:
    """``output_padding = (skip + t) mod s`` when the setting follows the skip's size that way."""
    if -1 in by_skip or any(len(settings) != 1 or None in settings for settings in by_skip.values()):
        return None
    chosen = {residue: next(iter(settings)) for residue, settings in by_skip.items()}
    values = {residue: setting.partition("=")[2] for residue, setting in chosen.items() if setting}
    keys = {setting.partition("=")[0] for setting in chosen.values() if setting}
    if keys != {"output_padding"} or not all(v.isdigit() for v in values.values()):
        return None
    shifts = {(int(value) - residue) % stride for residue, value in values.items()}
    if len(shifts) != 1:
        return None
    shift = shifts.pop()
    term = f"{skip} + {shift}" if shift else skip
    return f"output_padding = ({term}) mod {stride}" if shift else f"output_padding = {skip} mod {stride}"
