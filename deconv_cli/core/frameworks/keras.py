"""Keras 3's ``Conv{1,2,3}DTranspose`` on the TensorFlow backend."""

from __future__ import annotations

from collections.abc import Sequence

from deconv_cli.core.frameworks.base import Framework, Params, op_hint, written
from deconv_cli.core.geometry import Axis, Layer, Mode, Options, Padding


class Keras(Framework):
    """Keras 3 ``Conv{1,2,3}DTranspose`` / ``keras.ops.conv_transpose``, TensorFlow backend.

    valid: ``(n-1)s + max(ke, s)``, or ``F + op``; same: ``n*s``, or
    ``(n-1)s + ke%2 + op``; crop ``max(0, F-O)``, odd element at the end.
    ``op < strides``; no dilation with strides > 1; the TF backend rejects a
    'same' output outside tf.nn SAME's range.
    """

    name = "keras"
    api = "keras.layers.Conv{n}DTranspose"
    channels_last = True
    weight_layout = "k_out_in"
    grouped_ranks = ()
    kinds = ("same", "valid")

    def _length(self, axis: Axis, same: bool, output_padding: int | None) -> int:
        if output_padding is None:
            return axis.same if same else axis.valid
        base = axis.dilated - 1 + axis.extent % 2 if same else axis.full
        return base + output_padding

    def _check(self, axis: Axis, padding: Padding) -> bool:
        if padding.mode not in ("valid", "same"):
            raise self.fail(
                f"padding must be 'valid' or 'same' (got {padding}); Keras has no "
                "explicit padding: add a Cropping layer, see the tf row"
            )
        self.check([axis], [Options(padding)])
        return padding.mode == "same"

    def check(self, axes: Sequence[Axis], options: Sequence[Options]) -> None:
        super().check(axes, options)
        strides = tuple(a.stride for a in axes)
        dilations = tuple(a.dilation for a in axes)
        if max(strides) > 1 and max(dilations) > 1:  # any axis with any axis, as Keras checks
            raise self.fail(
                f"strides > 1 not supported in conjunction with dilation_rate > 1 "
                f"(got strides={written(strides)}, dilation_rate={written(dilations)}); "
                "use --s 1 or --d 1"
            )

    def _adjustable(self, axis: Axis, same: bool) -> range:
        """Outputs an explicit output_padding in ``[0, strides)`` reaches, where the backend accepts them."""
        base = self._length(axis, same, 0)
        low, high = base, base + axis.stride - 1
        if same:  # Keras passes O to tf.nn SAME, which wants (n-1)s < O <= n*s
            low, high = max(low, axis.dilated), min(high, axis.same)
        return range(low, high + 1)

    def _op_for(self, axis: Axis, same: bool, output: int) -> int | None:
        """The output_padding that reaches ``output`` (None: omitted, preferred); KeyError if none."""
        if output == self._length(axis, same, None):
            return None
        if output in self._adjustable(axis, same):
            return output - self._length(axis, same, 0)
        raise KeyError(output)

    def _backend_accepts(self, axis: Axis, same: bool, output_padding: int | None, output: int) -> bool:
        # Keras passes O to tf.nn SAME, which wants (n-1)s < O <= n*s
        return not (same and output_padding is not None and not axis.dilated <= output <= axis.same)

    def reach(self, axis: Axis, rank: int) -> dict[Mode, tuple[range, ...]]:
        found: dict[Mode, tuple[range, ...]] = {}
        for kind in self.kinds_for(rank):
            sizes = self.candidates(axis, Options(Padding(kind)))
            found[kind] = (range(sizes[0], sizes[-1] + 1),)  # one run, see candidates
        return found

    def candidates(self, axis: Axis, options: Options) -> Sequence[int]:
        # omitted output_padding always lands inside or next to the adjustable range: one range
        same = self._check(axis, options.padding)
        adjustable, default = self._adjustable(axis, same), self._length(axis, same, None)
        if not adjustable:
            return (default,)
        return range(min(adjustable.start, default), max(adjustable.stop, default + 1))

    def output_padding(self, axis: Axis, options: Options) -> int | None:
        """The ``output_padding`` Keras needs for these options (None: omitted)."""
        same = self._check(axis, options.padding)
        if options.output_shape is None:
            return options.output_padding
        if options.output_padding is not None:
            raise self.fail("give output_padding or output_shape, not both")
        try:
            return self._op_for(axis, same, options.output_shape)
        except KeyError:
            reachable = self.candidates(axis, options)
            raise self.fail(
                f"output size {options.output_shape} is not reachable with padding="
                f"'{options.padding}' (reachable through output_padding: "
                f"{reachable[0]} to {reachable[-1]})"
            ) from None

    def resolve(self, axis: Axis, options: Options) -> Layer:
        same = self._check(axis, options.padding)
        output_padding = self.output_padding(axis, options)
        if output_padding is not None and output_padding >= axis.stride:
            raise self.fail(
                f"output_padding must be < strides = {axis.stride} (got {output_padding}); "
                f"{op_hint(axis.stride)} (Keras checks the stride only)"
            )
        output = self._length(axis, same, output_padding)
        if not self._backend_accepts(axis, same, output_padding, output):
            raise self.fail(
                f"the TensorFlow backend rejects padding='same' with output_padding="
                f"{output_padding} here (output {output} is outside tf SAME's "
                f"[{axis.dilated}, {axis.same}]); omit --op"
            )
        return Layer.centred(axis, output)

    def params(self, axes: Sequence[Axis], options: Sequence[Options]) -> Params:
        paddings = [self.output_padding(a, o) for a, o in zip(axes, options, strict=True)]
        if all(p is None for p in paddings):
            return {"padding": options[0].padding.mode, "output_padding": None}
        explicit = []
        for axis, option, output_padding in zip(axes, options, paddings, strict=True):
            if output_padding is None:  # the same length written as an explicit output_padding
                same = option.padding.mode == "same"
                output_padding = self._length(axis, same, None) - self._length(axis, same, 0)
            explicit.append(output_padding)
        return {"padding": options[0].padding.mode, "output_padding": explicit}
