"""The pure core: sizes, conventions as data, translation and solving; no numpy, no I/O."""
