"""deconv: calculator and reference executor for transposed convolutions."""

__version__ = "0.1.0"
