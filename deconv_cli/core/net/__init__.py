"""Whole networks: a graph of layers whose spatial sizes are floor-affine in the input size."""
