"""Tests for deconv_cli.blas: the OpenBLAS kernel choice made before numpy loads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from deconv_cli.blas import prefer_avx512

AVX512 = "fpu sse avx2 avx512f avx512dq avx512cd avx512bw avx512vl"


def cpuinfo(tmp_path: Path, flags: str) -> str:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    return str(path)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No coretype chosen and numpy looking unloaded; both restored after."""
    # set first so that teardown restores the real value, or its absence
    monkeypatch.setenv("OPENBLAS_CORETYPE", "")
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.delitem(sys.modules, "numpy", raising=False)
    return monkeypatch


def test_sets_skylakex_with_avx512(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert prefer_avx512(cpuinfo(tmp_path, AVX512))
    assert os.environ["OPENBLAS_CORETYPE"] == "SkylakeX"


@pytest.mark.parametrize("missing", ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"])
def test_no_op_without_every_flag(fresh: pytest.MonkeyPatch, tmp_path: Path, missing: str) -> None:
    flags = " ".join(f for f in AVX512.split() if f != missing)
    assert not prefer_avx512(cpuinfo(tmp_path, flags))
    assert "OPENBLAS_CORETYPE" not in os.environ


def test_no_op_without_cpuinfo(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert not prefer_avx512(str(tmp_path / "absent"))
    assert "OPENBLAS_CORETYPE" not in os.environ


def test_keeps_an_explicit_choice(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh.setenv("OPENBLAS_CORETYPE", "Haswell")
    assert not prefer_avx512(cpuinfo(tmp_path, AVX512))
    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"


def test_too_late_once_numpy_loaded(fresh: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fresh.setitem(sys.modules, "numpy", sys)  # any module object stands in
    assert not prefer_avx512(cpuinfo(tmp_path, AVX512))
    assert "OPENBLAS_CORETYPE" not in os.environ
