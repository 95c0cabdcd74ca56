"""Reading and writing .npy arrays from files or ``-`` (stdin/stdout), safely: ``read``
parses and checks before it reads, ``output`` never destroys what it replaces."""

from deconv_cli.arrays.stream.common import STDIO, human, reason, same_file
from deconv_cli.arrays.stream.output import Output, replace, save
from deconv_cli.arrays.stream.read import (
    Opened,
    Pending,
    check_dtype,
    open_all,
    open_npy,
    read,
    read_all,
)

__all__ = [
    "STDIO",
    "Opened",
    "Output",
    "Pending",
    "check_dtype",
    "human",
    "open_all",
    "open_npy",
    "read",
    "read_all",
    "reason",
    "replace",
    "same_file",
    "save",
]
