"""`pad` against the frameworks themselves: every size a random layer reaches, `pad` finds.

Live: each test calls its framework and skips where it is not installed.
"""

from __future__ import annotations

import importlib.util
from random import Random

import numpy as np
import pytest

from deconv_cli.core.pad import factor, pad


def installed(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def layers(seed: int, count: int) -> list[tuple[int, int, int, int]]:
    rng = Random(seed)
    return [
        (rng.randint(1, 9), rng.randint(1, 6), rng.randint(1, 4), rng.randint(1, 3)) for _ in range(count)
    ]


@pytest.mark.torch
def test_pad_finds_every_size_and_setting_torch_builds():
    installed("torch")
    import torch

    missing = []
    checked = 0
    rng = Random(7)
    for n, k, s, d in layers(7, 150):
        extent = d * (k - 1) + 1
        padding, output_padding = rng.randint(0, extent), rng.randint(0, max(s, d) - 1)
        try:
            y = torch.nn.functional.conv_transpose1d(
                torch.zeros(1, 1, n),
                torch.zeros(1, 1, k),
                stride=s,
                padding=padding,
                output_padding=output_padding,
                dilation=d,
            )
        except RuntimeError:
            continue
        out = y.shape[-1]
        solutions = pad([n], [out], kernel_size=[k], stride=[s], dilation=[d], frameworks=["torch"]).solutions
        checked += 1
        crop = (padding, padding - output_padding)
        plain = crop[0] < extent and 0 <= crop[1] < extent
        if not solutions or (plain and (crop,) not in [x.crop for x in solutions]):
            missing.append((n, k, s, d, padding, output_padding, out))
    assert checked >= 100, checked
    assert not missing, missing[:10]


@pytest.mark.jax
def test_pad_finds_every_size_and_setting_jax_builds_with_its_own_padding():
    installed("jax")
    import jax

    jax.config.update("jax_platforms", "cpu")
    from jax import lax

    missing = []
    checked = 0
    rng = Random(8)
    for n, k, s, d in layers(8, 150):
        edge = d * (k - 1)
        low, high = rng.randint(-1, edge + 2), rng.randint(-1, edge + 2)
        try:
            y = lax.conv_transpose(
                np.zeros((1, n, 1), np.float32),
                np.zeros((k, 1, 1), np.float32),
                (s,),
                [(low, high)],
                rhs_dilation=(d,),
                dimension_numbers=("NWC", "WIO", "NWC"),
            )
        except (TypeError, ValueError):
            continue
        out = y.shape[1]
        if out < 1:
            continue
        solutions = pad([n], [out], kernel_size=[k], stride=[s], dilation=[d], frameworks=["jax"]).solutions
        checked += 1
        crop = (edge - low, edge - high)
        plain = 0 <= crop[0] <= edge and 0 <= crop[1] <= edge
        if not solutions or (plain and (crop,) not in [x.crop for x in solutions if not x.recipe]):
            missing.append((n, k, s, d, low, high, out))
    assert checked >= 100, checked
    assert not missing, missing[:10]


@pytest.mark.torch
def test_factor_answers_are_exact_for_every_n_in_torch():
    installed("torch")
    import torch

    for times in (2, 3, 5, 8):
        for solution in factor(
            [times], kernel_size=None, stride=None, dilation=[1], frameworks=["torch"]
        ).solutions[:4]:
            for n in range(1, 60):
                y = torch.nn.functional.conv_transpose1d(
                    torch.zeros(1, 1, n),
                    torch.zeros(1, 1, solution.k[0]),
                    stride=times,
                    padding=solution.params["padding"][0],  # type: ignore[index]
                    output_padding=solution.params["output_padding"][0],  # type: ignore[index]
                )
                assert y.shape[-1] == times * n, (solution, n)
