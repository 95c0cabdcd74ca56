"""A Keras model's config, read with the standard library: ``model.to_json()`` text, or the
``config.json`` of a ``.keras`` zip, bounded (a zip bomb's config.json inflates to GBs), with
integers past ``MAX_DIGITS`` digits kept as text (``Long``) until a layer reads one."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from deconv_cli.errors import DeconvError, ExitCode

# the most bytes of config.json read from a .keras zip: real configs take KBs to a few MB, and
# a zip bomb's config.json inflates to GBs
MAX_CONFIG = 64 << 20
MAX_DIGITS = 9  # as in deconv's other inputs: sizes past 10^9 are refused, never computed with


class Long(str):
    """An integer of more than ``MAX_DIGITS`` digits in the JSON, kept as its text: refused where
    a layer reads it (a seed elsewhere in the config may be that long)."""


def _parse_int(text: str) -> int | Long:
    return int(text) if len(text.lstrip("-")) <= MAX_DIGITS else Long(text)


def brief(value: Any) -> str:
    """A config value as JSON, cut to one short line for a message."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else f"{text[:57]}..."


def corrupt(message: str) -> DeconvError:
    return DeconvError(f"not a Keras model: {message}", ExitCode.FAILURE)


def config_of(source: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The model config from ``model.to_json()`` text or a ``.keras`` file's bytes."""
    if isinstance(source, dict):
        return source
    data = source.encode() if isinstance(source, str) else source
    try:
        config = json.loads(_config_json(data) if data[:2] == b"PK" else data, parse_int=_parse_int)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise _unreadable(error) from None
    if not isinstance(config, dict) or "config" not in config:
        raise DeconvError("not a Keras model config: no 'config' key at the top", ExitCode.FAILURE)
    return config


def _unreadable(error: Exception) -> DeconvError:
    message = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    return DeconvError(f"not a Keras model (model.to_json() or a .keras file): {message}", ExitCode.FAILURE)


def _config_json(data: bytes) -> bytes:
    """``config.json`` of a ``.keras`` zip, refused past ``MAX_CONFIG`` bytes by its declared
    size before inflating anything; the read is bounded too, since the declared size can lie
    (zipfile stops at the declared size, and its CRC check then fails)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG:
                raise corrupt(
                    f"its config.json inflates to {info.file_size} bytes, past the {MAX_CONFIG} "
                    "deconv reads (model configs take KBs to a few MB)"
                )
            if info.flag_bits & 1:  # zipfile's own message shows the whole ZipInfo
                raise corrupt("its config.json is encrypted; save the model without a password")
            with archive.open(info) as member:
                return member.read(MAX_CONFIG)
    except DeconvError:
        raise
    # a damaged archive raises many types (BadZipFile, KeyError, zlib.error, EOFError, OSError
    # from bz2, lzma.LZMAError, RuntimeError when encrypted, NotImplementedError for an unknown
    # method): each means an unreadable file, and only the standard library runs in this block
    except Exception as error:
        raise _unreadable(error) from None
