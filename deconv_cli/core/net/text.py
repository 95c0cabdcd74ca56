"""deconv's own network text format, written by hand in a minute.

One layer per line, each reading the line before unless it says ``in=NAME``::

    framework torch            # whose conventions the parameters follow (or --framework)
    repeat 4:                  # an indented block, {i} = 1..4 inside ({5-i}, {i+1} too)
      e{i} = conv k=3 p=1 x2   # x2: the line twice; the name goes to the last one
      max_pool k=2
    conv k=3 p=1 x2
    repeat 4:
      convT k=2 s=2
      concat e{5-i}            # the line before and e4, e3, ...
      conv k=3 p=1 x2

Parameters: ``k`` (kernel_size), ``s`` (stride), ``d`` (dilation), ``p`` (padding: an int,
``B:E``, ``same``, ``valid``, ``same_lower``), ``op`` (output_padding), ``ceil`` (ceil_mode);
a comma list gives one value per axis. ``upsample 2`` (or ``scale=3/2``), ``resize 64``,
``pad 1`` / ``crop 1:2`` take their value bare. ``rank 2`` fixes the number of spatial axes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from fractions import Fraction

from deconv_cli.core import parse
from deconv_cli.core.frameworks import FRAMEWORKS
from deconv_cli.core.geometry import Padding
from deconv_cli.core.net import layers
from deconv_cli.core.net.graph import JOINS, Network, Node, SizeMap, Transposed
from deconv_cli.core.net.unroll import LineError, expand, lines, repeat_count
from deconv_cli.core.parse import MAX_AXES
from deconv_cli.errors import DeconvError

KINDS = {
    "conv": "conv",
    "conv_transpose": "conv_transpose",
    "convt": "conv_transpose",
    "deconv": "conv_transpose",
    "max_pool": "max_pool",
    "maxpool": "max_pool",
    "avg_pool": "avg_pool",
    "avgpool": "avg_pool",
    "upsample": "upsample",
    "resize": "resize",
    "pad": "pad",
    "crop": "crop",
    "concat": "concat",
    "cat": "concat",
    "add": "add",
}
KEYS = {
    "k": "kernel_size",
    "kernel_size": "kernel_size",
    "s": "stride",
    "stride": "stride",
    "d": "dilation",
    "dilation": "dilation",
    "p": "padding",
    "padding": "padding",
    "op": "output_padding",
    "output_padding": "output_padding",
    "ceil": "ceil_mode",
    "ceil_mode": "ceil_mode",
    "scale": "scale",
    "size": "size",
    "in": "in",
}
# the parameters each kind takes, and which one its bare value is
TAKES = {
    "conv": ("kernel_size", "stride", "dilation", "padding"),
    "conv_transpose": ("kernel_size", "stride", "dilation", "padding", "output_padding"),
    "max_pool": ("kernel_size", "stride", "dilation", "padding", "ceil_mode"),
    "avg_pool": ("kernel_size", "stride", "padding", "ceil_mode"),
    "upsample": ("scale",),
    "resize": ("size",),
    "pad": ("padding",),
    "crop": ("padding",),
}
BARE = {"upsample": "scale", "resize": "size", "pad": "padding", "crop": "padding"}
MAX_LAYERS = 10_000
_TOO_MANY = f"a network has at most {MAX_LAYERS} layers; repeat fewer times"
_NAMED = re.compile(r"([A-Za-z_][\w.\-]*)\s*=\s*(\S.*)")
_INT = re.compile(r"-?\d{1,9}")
# 9 digits a part and no exponent, so Fraction never builds a huge number (1e999999999 would)
_SCALE = re.compile(r"-?(?:\d{1,9}(?:\.\d{1,9}|/(?!0+$)\d{1,9})?|\.\d{1,9})")


class _Builder:
    """Nodes from statements, with the framework and rank that parse their parameters."""

    def __init__(self, framework: str, rank: int, source: str) -> None:
        self.framework, self.rank = framework, rank
        self.nodes: list[Node] = [Node(source, "input", (), ())]
        self.names = {source}  # a set, so a name is found in constant time among 10000 layers
        self.counts: dict[str, int] = {}

    def add(self, statement: str) -> None:
        named = _NAMED.fullmatch(statement)
        given, words = (named[1], named[2].split()) if named else (None, statement.split())
        times = 1
        if len(words) > 1 and re.fullmatch(r"x\d+", words[-1]):
            times = repeat_count(words[-1][1:], words.pop())
        kind_word = words[0].lower() if words else ""
        kind = KINDS.get(kind_word)
        if kind is None:
            known = ", ".join(dict.fromkeys(KINDS.values()))
            raise LineError(f"unknown layer {kind_word!r}; layers are {known}")
        for count in range(times):
            self._node(kind, words[1:], given if count == times - 1 else None)
            if len(self.nodes) > MAX_LAYERS + 1:
                raise LineError(_TOO_MANY)

    def _node(self, kind: str, words: list[str], given: str | None) -> None:
        params: dict[str, str] = {}
        names: list[str] = []
        for word in words:
            if kind not in JOINS and word.lower() in ("ceil", "ceil_mode"):
                word += "=true"  # checked like the key=value it stands for
            key, equals, value = word.partition("=")
            if not equals:
                if kind in JOINS:
                    names.append(word)
                elif kind in BARE and BARE[kind] not in params:
                    params[BARE[kind]] = word
                else:
                    raise LineError(f"{word!r} is not a parameter; write key=value, like k=3")
                continue
            domain = KEYS.get(key.lower())
            if domain is None or (domain != "in" and domain not in TAKES.get(kind, ())):
                takes = ", ".join(TAKES.get(kind, ("in",)))
                raise LineError(f"{kind} takes {takes} (got {key!r})")
            if domain in params:
                raise LineError(f"{key} is given twice")
            params[domain] = value
        source = params.pop("in", None)
        previous = self.nodes[-1].name
        if kind in JOINS:
            inputs = tuple(names) if len(names) >= 2 else (source or previous, *names)
            if len(inputs) < 2:
                raise LineError(f"{kind} joins the line before with a named layer, like '{kind} e1'")
        else:
            inputs = (source or previous,)
        for name in inputs:
            if name not in self.names:
                raise LineError(f"no layer named {name!r} before this line; name one with '{name} = ...'")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        name = given or f"{kind}{self.counts[kind]}"
        if name in self.names:
            raise LineError(f"a layer is already named {name!r}; choose another name")
        self.names.add(name)
        axes, transposed = ((), ()) if kind in JOINS else self._axes(kind, params)
        pairs = tuple((key, value) for key, value in params.items())
        self.nodes.append(Node(name, kind, inputs, axes, pairs, self.framework, transposed))

    def _axes(self, kind: str, params: dict[str, str]) -> tuple[tuple[SizeMap, ...], tuple[Transposed, ...]]:
        values = {key: _per_axis(key, value, self.rank) for key, value in params.items()}
        if kind not in BARE and "kernel_size" not in values:
            raise LineError(f"{kind} needs a kernel size, like k=3")
        if kind in BARE and BARE[kind] not in values:
            raise LineError(f"{kind} needs a value, like '{kind} 2'")
        modes = set(values.get("padding", ())) & {"same", "valid", "same_lower", "same_upper"}
        if modes and len(set(values["padding"])) > 1:
            raise LineError(
                f"padding {params['padding']} mixes a mode with other values; a mode applies to every axis"
            )
        axes, transposed = [], []
        for axis in range(self.rank):
            given = {key: spread[axis] for key, spread in values.items()}
            axes.append(self._map(kind, given))
            if kind == "conv_transpose":
                transposed.append(self._transposed(given))
        if kind in ("conv", "conv_transpose"):
            layers.strides_with_dilation(
                self.framework,
                [_integer("stride", text) for text in values.get("stride", ("1",))],
                [_integer("dilation", text) for text in values.get("dilation", ("1",))],
            )
        return tuple(axes), tuple(transposed)

    def _padding(self, text: str | None) -> int | tuple[int, int] | str:
        if text is None:
            return 0 if self.framework in ("torch", "onnx") else "valid"
        if text.lower() in ("same", "valid", "same_lower", "same_upper"):
            return "same" if text.lower() == "same_upper" else text.lower()
        begin, colon, end = text.partition(":")
        if not _INT.fullmatch(begin) or (colon and not _INT.fullmatch(end)):
            raise LineError(f"padding must be an int, B:E, same, valid or same_lower (got {text!r})")
        return (int(begin), int(end)) if colon else int(begin)

    def _map(self, kind: str, given: dict[str, str]) -> SizeMap:
        framework = self.framework
        if kind in ("upsample",):
            return layers.upsample(framework, _fraction(given["scale"]))
        if kind == "resize":
            return layers.resize(_integer("size", given["size"]))
        if kind in ("pad", "crop"):
            padding = self._padding(given["padding"])
            if isinstance(padding, str):
                raise LineError(f"{kind} takes an int or B:E (got {padding!r})")
            begin, end = (padding, padding) if isinstance(padding, int) else padding
            return layers.pad(begin, end) if kind == "pad" else layers.crop(begin, end)
        ints = {
            key: _integer(key, given[key])
            for key in ("kernel_size", "stride", "dilation", "output_padding")
            if key in given
        }
        padding = self._padding(given.get("padding"))
        if kind == "conv":
            return layers.conv(framework, padding=padding, **ints)
        if kind == "conv_transpose":
            return layers.conv_transpose(framework, padding=padding, **ints)
        ceil = given.get("ceil_mode", "false").lower()
        if ceil not in ("true", "false", "1", "0"):
            raise LineError(f"ceil_mode must be true or false (got {ceil!r})")
        return layers.pool(framework, padding=padding, ceil_mode=ceil in ("true", "1"), **ints)

    def _transposed(self, given: dict[str, str]) -> Transposed:
        padding = self._padding(given.get("padding"))
        if isinstance(padding, str):
            crop = Padding(padding)  # type: ignore[arg-type]
        else:
            crop = Padding.explicit(*((padding, padding) if isinstance(padding, int) else padding))
        extra = given.get("output_padding")
        return Transposed(
            _integer("kernel_size", given["kernel_size"]),
            _integer("stride", given.get("stride", "1")),
            _integer("dilation", given.get("dilation", "1")),
            crop,
            None if extra is None else _integer("output_padding", extra),
        )


def _per_axis(key: str, value: str, rank: int) -> tuple[str, ...]:
    items = tuple(item.strip() for item in value.split(","))
    if len(items) not in (1, rank) or not all(items):
        raise LineError(f"{key} has {len(items)} values for {rank} axes; give one value or one per axis")
    return items * rank if len(items) == 1 else items


def _integer(key: str, text: str) -> int:
    if not _INT.fullmatch(text):
        raise LineError(parse.too_long(text, key) or f"{key} must be an integer (got {text!r})")
    return int(text)


def _fraction(text: str) -> Fraction:
    if not _SCALE.fullmatch(text):
        raise LineError(f"scale must be a number like 2, 1.5 or 3/2, at most 9 digits a part (got {text!r})")
    value = Fraction(text)
    if value <= 0:
        raise LineError(f"scale must be a positive number like 2 or 3/2 (got {text!r})")
    if value.denominator > 10**6 or value.numerator > 10**6:
        raise LineError(f"scale must have a numerator and denominator of at most 1000000 (got {text!r})")
    return value


def _settings(statements: Iterable[tuple[int, str]]) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """The ``framework`` / ``rank`` / ``input`` lines, and the layers: read from the unrolling
    only up to MAX_LAYERS, so nested repeats are refused before they are unrolled in full."""
    settings: dict[str, str] = {}
    rest: list[tuple[int, str]] = []
    for number, statement in statements:
        word, _, value = statement.partition(" ")
        if word in ("framework", "rank", "input"):
            if word in settings:
                raise DeconvError(f"line {number}: {word} is given twice")
            if rest and word != "framework":
                raise DeconvError(f"line {number}: {word} goes before the first layer")
            settings[word] = value.strip() or "input"
            settings[f"{word}_line"] = str(number)
        else:
            rest.append((number, statement))
            if len(rest) > MAX_LAYERS:
                raise DeconvError(f"line {number}: {_TOO_MANY}")
    return settings, rest


def _rank(statements: list[tuple[int, str]]) -> int:
    """The longest per-axis list in the file (a ``B:E`` pair is one value)."""
    longest = 1
    for _, statement in statements:
        for word in statement.split():
            key, equals, value = word.partition("=")
            if equals and KEYS.get(key.lower()) not in (None, "in"):
                longest = max(longest, value.count(",") + 1)
    return longest


def read(text: str, framework: str | None = None, rank: int | None = None) -> Network:
    """The network a text describes. ``framework`` (from ``--framework``) overrides the file's;
    ``rank`` (from ``--in``) applies where the file gives one value per parameter.

    >>> net = read("framework torch\\nconv k=3 s=2 p=1\\nconvT k=2 s=2\\nadd input")
    >>> [node.name for node in net.nodes], net.nodes[-1].inputs
    (['input', 'conv1', 'conv_transpose1', 'add1'], ('conv_transpose1', 'input'))
    >>> net.nodes[1].axes[0](8), net.nodes[2].axes[0](4)
    (4, 8)
    """
    settings, statements = _settings(expand(lines(text)))
    chosen = framework or settings.get("framework", "tf")
    if chosen not in FRAMEWORKS:
        line = settings.get("framework_line", "?")
        raise DeconvError(f"line {line}: framework must be one of {', '.join(FRAMEWORKS)} (got {chosen!r})")
    axes = max(_rank(statements), rank or 1)
    if "rank" in settings:
        if not re.fullmatch(r"[1-3]", settings["rank"]):
            raise DeconvError(
                f"line {settings['rank_line']}: rank must be 1, 2 or 3 (got {settings['rank']!r})"
            )
        axes = int(settings["rank"])
    if axes > MAX_AXES:
        raise DeconvError(f"at most {MAX_AXES} spatial axes are supported (got {axes})")
    if not statements:
        raise DeconvError("the network has no layers; write one per line, like 'conv k=3'")
    builder = _Builder(chosen, axes, settings.get("input", "input"))
    for number, statement in statements:
        _at(number, builder.add, statement)
    return Network(tuple(builder.nodes), axes)


def _at(number: int, action: Callable[[str], None], statement: str) -> None:
    try:
        action(statement)
    except (LineError, DeconvError) as error:
        raise DeconvError(f"line {number}: {error}") from None
