#!/usr/bin/env python3
"""Framework oracle for transposed-convolution VALUES (golden vectors for ``deconv run``).

Runs the real frameworks (PyTorch, tf.nn, Keras 3 on the TF backend, onnxruntime, JAX) on small
random tensors and writes tests/golden/values.npz (x, w, b, y per case) and tests/golden/values.json
(the parameters of each case in deconv's vocabulary). See README.md, section "Golden value vectors".

Run from the repository root with the oracle venv:

    /work/oracles/bin/python tests/golden/make_values.py [--jobs 2]

Every framework runs in its own subprocess (this same file with --worker JOB, driven by oracle.py).
The script installs nothing and is deterministic (fixed seed, fixed zip timestamps). Before writing,
every framework result is reproduced in numpy: the uncropped scatter full[i*s + j*d] += x[i]*w[j]
(per group and channel pair), cropped at the offset found by matching. Nothing is written if a
framework raises or a result cannot be reproduced.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import zipfile

import oracle
from oracle import full_len

SEED = 20251124
HERE = os.path.dirname(os.path.abspath(__file__))
ZIP_DATE = (2025, 1, 1, 0, 0, 0)
# x = [[1, 1], [2, 2]], all-ones 3x3 kernel, stride 2: cropped at the end (TF SAME 4x4) / at the start
TUTORIAL_Y = [[1, 1, 2, 1], [1, 1, 2, 1], [3, 3, 6, 3], [2, 2, 4, 2]]
TUTORIAL_Y_START = [[1, 2, 1, 1], [3, 6, 3, 3], [2, 4, 2, 2], [2, 4, 2, 2]]

# --------------------------------------------------------------------------
# cases (pure python)
# --------------------------------------------------------------------------


def spec(
    fw,
    n,
    k,
    s=None,
    d=None,
    padding="valid",
    op=None,
    out=None,
    batch=1,
    cin=1,
    cout=1,
    groups=1,
    bias=False,
    f32=False,
    onednn=None,
    data="random",
    note="",
):
    nd = len(n)
    s = list(s or [1] * nd)
    d = list(d or [1] * nd)
    assert len(k) == len(s) == len(d) == nd
    assert cin % groups == 0
    assert cout % groups == 0
    if fw in ("tf", "keras"):
        if onednn is None:
            onednn = max(d) > 1 or groups > 1  # the canonical CPU kernels refuse both
        job = fw + ("_onednn" if onednn else "")
        f32 = bool(onednn)  # oneDNN only ever runs float32; float64 takes the canonical kernel
    else:
        onednn = False
        job = fw
        f32 = f32 or fw == "onnx"  # ORT has no float64 ConvTranspose
    return {
        "framework": fw,
        "dtype": "float32" if f32 else "float64",
        "n": list(n),
        "k": list(k),
        "stride": s,
        "dilation": d,
        "padding": padding,
        "output_padding": None if op is None else list(op),
        "output_shape": None if out is None else list(out),
        "groups": groups,
        "bias": bool(bias),
        "N": batch,
        "cin": cin,
        "cout": cout,
        "onednn": onednn,
        "data": data,
        "note": note,
        "_job": job,
    }


def P(*pairs):
    """explicit padding: P(1, (0, 2)) -> [[1, 1], [0, 2]]"""
    return [[p, p] if isinstance(p, int) else list(p) for p in pairs]


# 1-D axes (n, k, s, d) used throughout; see frameworks.md section 7
A332 = (3, 3, 2, 1)  # odd total crop with SAME
A232 = (2, 3, 2, 1)
A423 = (4, 2, 3, 1)  # kernel smaller than stride
A552 = (5, 5, 2, 1)
A431d2 = (4, 3, 1, 2)  # dilation
A642 = (6, 4, 2, 1)  # even kernel


def ax1(a):
    n, k, s, d = a
    return {"n": [n], "k": [k], "s": [s], "d": [d]}


# The case tables below keep one case per line (a table reads better than ruff's layout).
# fmt: off
def gen_torch():
    out = []

    def c(**kw):
        out.append(spec("torch", **kw))

    c(n=[2, 2], k=[3, 3], s=[2, 2], padding=P(1, 1), op=[1, 1], data="tutorial",
      note="tutorial input, padding=1 op=1: odd crop at the START (TF SAME crops the end)")
    for a, p, op in (
        (A332, 0, None), (A332, 1, None), (A332, 1, [1]), (A332, 2, None),
        (A232, 0, None), (A232, 1, [1]),
        (A423, 0, None), (A423, 0, [2]), (A423, 1, [1]),
        (A552, 0, None), (A552, 2, [1]),
        (A431d2, 0, None), (A431d2, 2, None), (A431d2, 0, [1]),
        (A642, 1, [0]), (A642, 1, [1]),
    ):
        note = "1-D n=%d k=%d s=%d d=%d padding=%d" % (*a, p)
        if op is not None:
            note += " op=%d" % op[0]
        if a is A431d2 and op:
            note += " (op < dilation, stride 1)"
        c(**ax1(a), padding=P(p), op=op, note=note)
    # every output_size torch accepts, [F-2p, F-2p+s-1]
    for a, p in ((A332, 1), (A423, 0), (A431d2, 0)):
        n, k, s, d = a
        low = full_len(n, k, s, d) - 2 * p
        for o in range(low, low + s):
            c(**ax1(a), padding=P(p), out=[o], note="output_size=%d of [%d, %d]" % (o, low, low + s - 1))
    c(n=[4], k=[3], s=[2], padding="valid", cin=2, cout=3, note="'valid' (deconv maps it to padding=0)")
    # 2-D
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding=P(1, 0), op=[1, 2], cin=2, cout=3, bias=True,
      note="2-D, C_in 2 -> C_out 3, bias, op=[1,2]")
    c(n=[3, 2], k=[3, 3], s=[2, 3], padding=P(1, 0), out=[5, 6], batch=2, cin=3, cout=2,
      note="2-D output_size at the low end, batch 2")
    c(n=[3, 2], k=[3, 3], s=[2, 3], padding=P(1, 0), out=[6, 8], batch=2, cin=3, cout=2,
      note="2-D output_size at the high end, batch 2")
    c(n=[4, 3], k=[3, 2], s=[1, 2], d=[2, 1], padding=P(2, 0), op=[1, 1], cin=2, cout=2,
      note="2-D dilation 2 on axis 0 with op=1 < dilation")
    c(n=[3, 3], k=[3, 2], s=[2, 1], padding=P(1, 0), batch=2, cin=4, cout=6, groups=2, bias=True,
      note="2-D groups=2 (4 -> 6), bias, batch 2")
    c(n=[4, 3], k=[2, 3], s=[2, 2], padding=P(0, 1), op=[1, 1], cin=3, cout=3, groups=3,
      note="2-D depthwise groups=3")
    c(n=[3, 2], k=[3, 3], s=[2, 2], padding=P(1, 1), cin=6, cout=2, groups=2,
      note="2-D groups=2 (6 -> 2, one output channel per group)")
    c(n=[5, 4], k=[4, 3], s=[2, 2], padding=P(1, 1), batch=2, cin=2, cout=4, bias=True,
      note="2-D batch 2, even kernel")
    # 3-D
    c(n=[2, 3, 2], k=[2, 3, 2], s=[2, 1, 3], padding=P(0, 1, 0), cin=2, cout=2, note="3-D")
    c(n=[2, 3, 2], k=[3, 2, 2], s=[2, 2, 3], padding=P(1, 0, 0), op=[1, 0, 2], cin=2, cout=3, bias=True,
      note="3-D op=[1,0,2], bias")
    c(n=[2, 2, 3], k=[2, 2, 2], s=[2, 1, 2], padding=P(0, 0, 1), cin=2, cout=4, groups=2,
      note="3-D groups=2")
    c(n=[3, 2, 2], k=[2, 3, 2], s=[1, 1, 2], d=[2, 2, 1], padding=P(1, 2, 0), cin=1, cout=2,
      note="3-D dilation [2,2,1]")
    c(n=[2, 2, 2], k=[3, 3, 2], s=[2, 2, 2], padding=P(1, 1, 0), out=[4, 3, 5], batch=2, cin=2, cout=2,
      note="3-D output_size, batch 2")
    # float32
    c(**ax1(A332), padding=P(1), op=[1], cin=2, cout=2, f32=True, note="float32 1-D")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding=P(1, 0), cin=2, cout=3, bias=True, f32=True,
      note="float32 2-D")
    c(n=[2, 2, 2], k=[2, 3, 2], s=[2, 1, 2], padding=P(0, 1, 0), cin=2, cout=2, groups=2, f32=True,
      note="float32 3-D groups=2")
    return out


def gen_tf():
    out = []

    def c(**kw):
        out.append(spec("tf", **kw))

    c(n=[2, 2], k=[3, 3], s=[2, 2], padding="same", out=[4, 4], data="tutorial",
      note="tutorial: SAME output_shape 4x4, odd crop at the end")
    # every output_shape SAME accepts: [(n-1)s+1, n*s]
    for a in (A332, A423, A232, A552):
        n, k, s, _ = a
        for o in range((n - 1) * s + 1, n * s + 1):
            note = "1-D SAME n=%d k=%d s=%d output_shape=%d" % (n, k, s, o)
            c(**ax1(a), padding="same", out=[o], note=note)
    # every output_shape VALID accepts: [F, F+s-1]
    for a in (A332, A423):
        F = full_len(*a)
        for o in range(F, F + a[2]):
            note = "1-D VALID n=%d k=%d s=%d output_shape=%d" % (*a[:3], o)
            c(**ax1(a), padding="valid", out=[o], note=note)
    # explicit (2-D only): [F-b-e, F-b-e+s-1]
    for o in ([6, 3], [7, 3], [6, 4], [7, 4]):
        c(n=[3, 2], k=[3, 3], s=[2, 2], padding=P((1, 0), (0, 2)), out=o, cin=2, cout=1,
          note="2-D explicit [[1,0],[0,2]] output_shape %s" % o)
    c(n=[3, 3], k=[3, 4], s=[2, 3], padding=P(1, (2, 1)), out=[5, 7], batch=2, cin=2, cout=3, bias=True,
      note="2-D explicit, bias, batch 2")
    c(n=[4, 3], k=[3, 4], s=[2, 2], padding="same", out=[8, 6], batch=2, cin=3, cout=2, bias=True,
      note="2-D SAME n*s, bias, batch 2")
    c(n=[4, 3], k=[3, 4], s=[2, 2], padding="same", out=[7, 5], cin=3, cout=2,
      note="2-D SAME smallest output_shape")
    c(n=[2, 3], k=[2, 3], s=[3, 1], padding="valid", out=[5, 5], cin=2, cout=4, note="2-D VALID F")
    c(n=[2, 3], k=[2, 3], s=[3, 1], padding="valid", out=[7, 5], cin=2, cout=4, bias=True,
      note="2-D VALID F+s-1 (zeros appended)")
    # 3-D
    c(n=[2, 3, 2], k=[3, 2, 2], s=[2, 2, 1], padding="same", out=[4, 6, 2], cin=2, cout=2, bias=True,
      note="3-D SAME n*s")
    c(n=[2, 3, 2], k=[3, 2, 2], s=[2, 2, 1], padding="same", out=[3, 5, 2], cin=2, cout=2,
      note="3-D SAME smallest")
    c(n=[2, 2, 3], k=[2, 3, 2], s=[2, 1, 2], padding="valid", out=[4, 4, 7], batch=2, cin=1, cout=3,
      note="3-D VALID, one axis F+1")
    # oneDNN (float32): dilation
    c(**ax1(A431d2), padding="valid", out=[8], note="1-D dilation 2, VALID (oneDNN)")
    c(n=[4], k=[3], s=[2], d=[2], padding="same", out=[8], cin=2, cout=2, note="1-D s=2 d=2 SAME (oneDNN)")
    c(n=[4, 3], k=[3, 2], s=[1, 2], d=[2, 1], padding="same", out=[4, 6], cin=2, cout=3, bias=True,
      note="2-D dilation [2,1] SAME (oneDNN)")
    c(n=[3, 3], k=[2, 3], s=[2, 1], d=[2, 2], padding="valid", out=[7, 7], cin=1, cout=2,
      note="2-D dilation 2 VALID F+1 (oneDNN)")
    c(n=[2, 3, 2], k=[2, 2, 3], d=[1, 2, 2], padding="valid", out=[3, 5, 6], cin=2, cout=3,
      note="3-D dilation [1,2,2] VALID (oneDNN)")
    # oneDNN with dilation 1, for comparison with the canonical kernel
    c(**ax1(A332), padding="same", out=[5], cin=2, cout=2, onednn=True, note="1-D SAME (oneDNN, float32)")
    c(n=[3, 2], k=[3, 3], s=[2, 2], padding="valid", out=[7, 5], cin=2, cout=2, onednn=True,
      note="2-D VALID (oneDNN, float32)")
    # groups (oneDNN only): filter (*k, C_out/groups, C_in)
    c(n=[3], k=[3], s=[2], padding="valid", out=[7], cin=4, cout=6, groups=2, note="1-D groups=2 (4 -> 6)")
    c(n=[3, 3], k=[3, 2], s=[2, 2], padding="same", out=[6, 6], batch=2, cin=4, cout=2, groups=2, bias=True,
      note="2-D groups=2 (4 -> 2), bias, batch 2")
    c(n=[3, 3], k=[3, 3], s=[2, 2], padding="same", out=[5, 6], cin=4, cout=4, groups=2,
      note="2-D groups=2, SAME odd crop")
    c(n=[3, 2], k=[2, 3], s=[1, 1], d=[1, 2], padding="valid", out=[4, 6], cin=3, cout=3, groups=3,
      note="2-D depthwise groups=3 with dilation")
    return out


def gen_keras():
    out = []

    def c(**kw):
        out.append(spec("keras", **kw))

    c(n=[2, 2], k=[3, 3], s=[2, 2], padding="same", data="tutorial", note="tutorial: same -> 4x4")
    for a, pad, op in (
        (A332, "same", None), (A332, "same", [0]), (A332, "same", [1]),
        (A332, "valid", None), (A332, "valid", [1]),
        (A423, "valid", None), (A423, "valid", [2]), (A423, "same", None),
        (A642, "same", None), (A642, "same", [1]), (A642, "valid", [0]),
    ):
        note = "1-D n=%d k=%d s=%d %s output_padding=%s" % (*a[:3], pad, None if op is None else op[0])
        c(**ax1(a), padding=pad, op=op, cin=2 if a is A642 else 1, cout=1, note=note)
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="same", batch=2, cin=2, cout=3, bias=True,
      note="2-D same, bias, batch 2")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="valid", op=[1, 0], cin=2, cout=3, note="2-D valid op=[1,0]")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="same", op=[0, 2], cin=3, cout=1, bias=True,
      note="2-D same op=[0,2]")
    c(n=[2, 3], k=[4, 2], s=[3, 2], padding="valid", batch=2, cin=1, cout=2,
      note="2-D valid, k<s on axis 1 (zero appended)")
    c(n=[2, 3, 2], k=[3, 2, 2], s=[2, 2, 1], padding="same", cin=2, cout=2, bias=True, note="3-D same")
    c(n=[2, 2, 3], k=[2, 3, 2], s=[2, 1, 2], padding="valid", op=[1, 0, 1], cin=1, cout=2,
      note="3-D valid op=[1,0,1]")
    # dilation needs strides 1 in Keras; oneDNN float32
    c(**ax1(A431d2), padding="same", note="1-D dilation 2 same (oneDNN)")
    c(**ax1(A431d2), padding="valid", cin=2, cout=2, bias=True, note="1-D dilation 2 valid (oneDNN)")
    c(n=[3, 3], k=[2, 3], d=[2, 3], padding="same", cin=2, cout=2, bias=True,
      note="2-D dilation [2,3] same (oneDNN)")
    c(n=[2, 3, 2], k=[2, 2, 3], d=[1, 2, 2], padding="valid", cin=2, cout=1,
      note="3-D dilation [1,2,2] valid (oneDNN)")
    return out


def gen_onnx():
    out = []

    def c(**kw):
        out.append(spec("onnx", **kw))

    c(n=[2, 2], k=[3, 3], s=[2, 2], padding="same", data="tutorial", note="tutorial: SAME_UPPER, end crop")
    c(n=[2, 2], k=[3, 3], s=[2, 2], padding="same_lower", data="tutorial",
      note="tutorial: SAME_LOWER, start crop")
    c(n=[2, 2], k=[3, 3], s=[2, 2], padding=P(0, 0), out=[4, 4], data="tutorial",
      note="tutorial: NOTSET output_shape 4x4, odd crop at the START")
    for pad, op, o, note in (
        ("same", None, None, "SAME_UPPER, odd crop at end"),
        ("same_lower", None, None, "SAME_LOWER, odd crop at start"),
        ("valid", None, None, "VALID"),
        (P((0, 1)), None, None, "pads [0,1]"),
        (P((1, 0)), None, None, "pads [1,0]"),
        (P(1), [1], None, "pads [1,1] op=1"),
        (P(0), None, [6], "NOTSET output_shape=6: crop (1,0)"),
        ("same", None, [6], "SAME_UPPER output_shape=6: crop (0,1)"),
        ("same_lower", None, [6], "SAME_LOWER output_shape=6"),
        ("same", [1], None, "SAME_UPPER op=1"),
        ("valid", [1], None, "VALID op=1"),
    ):
        c(**ax1(A332), padding=pad, op=op, out=o, note="1-D n=3 k=3 s=2 " + note)
    # every output_shape ORT accepts for n=2 k=3 s=2: 1..F+s-1
    F = full_len(*A232)
    for o in range(1, F + A232[2]):
        c(**ax1(A232), padding=P(0), out=[o], note="1-D n=2 k=3 s=2 NOTSET output_shape=%d" % o)
    for pad, op, note in (
        ("same", None, "SAME_UPPER with k<s: ORT gives F=11, not n*s"),
        ("same", [1], "SAME_UPPER op=1 with k<s"),
        ("valid", None, "VALID k<s"),
        ("same_lower", [2], "SAME_LOWER op=2 with k<s"),
    ):
        c(**ax1(A423), padding=pad, op=op, note="1-D n=4 k=2 s=3 " + note)
    c(**ax1(A423), padding=P(0), out=[13], note="1-D n=4 k=2 s=3 output_shape=F+2 (zeros appended)")
    c(**ax1(A431d2), padding="same", note="1-D dilation 2 SAME_UPPER")
    c(**ax1(A431d2), padding=P((1, 2)), cin=2, cout=2, note="1-D dilation 2 pads [1,2]")
    c(**ax1(A552), padding="same_lower", cin=2, cout=3, bias=True, note="1-D n=5 k=5 s=2 SAME_LOWER, bias")
    # 2-D
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="same", batch=2, cin=2, cout=3, bias=True,
      note="2-D SAME_UPPER, bias, batch 2")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="same_lower", cin=2, cout=3, note="2-D SAME_LOWER")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding=P((1, 0), (0, 1)), op=[1, 2], cin=2, cout=1,
      note="2-D pads + op=[1,2]")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding=P(0, 0), out=[6, 11], cin=1, cout=2,
      note="2-D NOTSET output_shape [6,11]")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="same", out=[5, 13], cin=1, cout=2,
      note="2-D SAME_UPPER output_shape [5,13] (zeros appended on axis 1)")
    c(n=[4, 3], k=[3, 2], s=[1, 2], d=[2, 1], padding="valid", cin=2, cout=2, note="2-D dilation [2,1] VALID")
    c(n=[3, 3], k=[3, 2], s=[2, 1], padding=P(1, 0), batch=2, cin=4, cout=6, groups=2, bias=True,
      note="2-D group=2 (4 -> 6), bias, batch 2")
    c(n=[3, 3], k=[3, 3], s=[2, 2], padding="same", cin=3, cout=3, groups=3,
      note="2-D depthwise group=3 SAME_UPPER")
    # 3-D
    c(n=[2, 3, 2], k=[3, 2, 2], s=[2, 2, 1], padding="same_lower", cin=2, cout=2, bias=True,
      note="3-D SAME_LOWER")
    c(n=[2, 2, 3], k=[2, 3, 2], s=[2, 1, 2], padding=P((0, 1), 1, (1, 0)), op=[1, 0, 1], cin=1, cout=2,
      note="3-D pads + op")
    c(n=[2, 2, 2], k=[3, 2, 2], s=[2, 2, 2], padding=P(0, 0, 0), out=[4, 5, 3], cin=2, cout=2,
      note="3-D NOTSET output_shape")
    c(n=[2, 2, 2], k=[2, 2, 3], s=[1, 2, 2], padding="same", cin=2, cout=4, groups=2,
      note="3-D group=2 SAME_UPPER")
    return out


def gen_jax():
    out = []

    def c(**kw):
        out.append(spec("jax", **kw))

    c(n=[2, 2], k=[3, 3], s=[2, 2], padding="same", data="tutorial", note="tutorial: SAME")
    for a, pad in (
        (A332, "same"), (A332, "valid"), (A332, P((1, 0))), (A332, P((0, 1))), (A332, P(1)),
        (A332, P((0, -1))), (A332, P((-1, 0))),
        (A423, "same"), (A423, "valid"), (A423, P((0, -2))),
        (A431d2, "same"), (A431d2, "valid"), (A431d2, P((1, 2))),
        (A552, "same"), (A642, "same"), (A642, P((1, 2))),
    ):
        c(**ax1(a), padding=pad, note="1-D n=%d k=%d s=%d d=%d padding=%s" % (*a, json.dumps(pad)))
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="same", batch=2, cin=2, cout=3, bias=True,
      note="2-D SAME, bias, batch 2")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding="valid", cin=3, cout=2, note="2-D VALID")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding=P((1, 2), (0, 1)), cin=2, cout=2, bias=True,
      note="2-D explicit [[1,2],[0,1]]")
    c(n=[4, 3], k=[3, 2], s=[1, 2], d=[2, 1], padding="same", cin=2, cout=2, note="2-D dilation [2,1] SAME")
    c(n=[3, 3], k=[4, 3], s=[2, 2], padding=P((2, 1), (-1, 1)), batch=2, cin=1, cout=2,
      note="2-D explicit with a prepended zero")
    c(n=[2, 3, 2], k=[3, 2, 2], s=[2, 2, 1], padding="same", cin=2, cout=2, bias=True, note="3-D SAME")
    c(n=[2, 2, 3], k=[2, 3, 2], s=[2, 1, 2], padding="valid", batch=2, cin=1, cout=2, note="3-D VALID")
    c(n=[2, 2, 2], k=[3, 2, 2], s=[2, 2, 2], d=[1, 2, 1], padding=P((1, 0), 1, (0, 1)), cin=2, cout=1,
      note="3-D explicit, dilation")
    c(**ax1(A332), padding="same", cin=2, cout=2, f32=True, note="float32 1-D SAME")
    c(n=[3, 4], k=[3, 2], s=[2, 3], padding=P((1, 0), (0, 1)), cin=2, cout=3, bias=True, f32=True,
      note="float32 2-D explicit")
    c(n=[2, 2, 2], k=[2, 3, 2], s=[2, 1, 2], padding="valid", cin=2, cout=2, f32=True,
      note="float32 3-D VALID")
    return out
# fmt: on


def gen_random(r, fw, count):
    """valid-by-construction random layers (n=1 and k=1 included), small enough for 3-D"""
    out = []
    while len(out) < count:
        nd = r.choices([1, 2, 3], weights=[4, 4, 1])[0]
        n = [r.randint(1, 4 if nd == 3 else 6) for _ in range(nd)]
        k = [r.randint(1, 3 if nd == 3 else 4) for _ in range(nd)]
        s = [r.randint(1, 3) for _ in range(nd)]
        d = [r.choice([1, 1, 2]) for _ in range(nd)]
        if fw == "keras" and max(d) > 1:
            s = [1] * nd
        ke = [d[a] * (k[a] - 1) + 1 for a in range(nd)]
        F = [full_len(n[a], k[a], s[a], d[a]) for a in range(nd)]
        cin, cout = r.randint(1, 3), r.randint(1, 3)
        groups = 1
        if fw in ("torch", "onnx") and r.random() < 0.25:
            groups = 2
            cin, cout = 2 * cin, 2 * cout
        kw = dict(
            n=n,
            k=k,
            s=s,
            d=d,
            batch=r.randint(1, 2),
            cin=cin,
            cout=cout,
            groups=groups,
            bias=r.random() < 0.4,
        )
        op = out_ = None
        if fw == "torch":
            p = [r.randint(0, (ke[a] - 1) // 2) for a in range(nd)]
            if r.random() < 0.3:
                out_ = [F[a] - 2 * p[a] + r.randint(0, s[a] - 1) for a in range(nd)]
            elif r.random() < 0.5:
                op = [r.randint(0, max(s[a], d[a]) - 1) for a in range(nd)]
            pad = P(*p)
        elif fw == "tf":
            modes = ["same", "valid"] + (["explicit"] if nd == 2 and max(d) == 1 else [])
            pad = r.choice(modes)
            if pad == "same":
                out_ = [r.randint((n[a] - 1) * s[a] + 1, n[a] * s[a]) for a in range(nd)]
            else:
                if pad == "explicit":
                    pad = P(*[(r.randint(0, ke[a] - 1), r.randint(0, ke[a] - 1)) for a in range(nd)])
                be = [0] * nd if pad == "valid" else [sum(q) for q in pad]
                if any(F[a] - be[a] < 1 for a in range(nd)):
                    continue
                out_ = [F[a] - be[a] + r.randint(0, s[a] - 1) for a in range(nd)]
        elif fw == "keras":
            pad = r.choice(["same", "valid"])
            if r.random() < 0.5:
                op = [r.randint(0, s[a] - 1) for a in range(nd)]
                if pad == "same" and any(ke[a] % 2 + op[a] < 1 for a in range(nd)):
                    continue  # the TF backend rejects it (below tf SAME's range)
        elif fw == "onnx":
            pad = r.choice(["same", "same_lower", "valid", "explicit"])
            if r.random() < 0.4:
                op = [r.randint(0, s[a] - 1) for a in range(nd)]
            if pad == "explicit":
                pad = P(*[(r.randint(0, ke[a] - 1), r.randint(0, ke[a] - 1)) for a in range(nd)])
                if r.random() < 0.3:
                    out_ = [r.randint(1, F[a] + s[a] - 1) for a in range(nd)]
                elif any(F[a] + (op[a] if op else 0) - sum(pad[a]) < 1 for a in range(nd)):
                    continue
        else:
            pad = r.choice(["same", "valid", "explicit"])
            if pad == "explicit":
                pad = P(*[(r.randint(-1, ke[a]), r.randint(-1, ke[a])) for a in range(nd)])
                if any(F[a] - sum(pad[a]) < 1 for a in range(nd)):
                    continue
            if r.random() < 0.15:
                kw["f32"] = True
        note = "random %d-D" % nd
        out.append(spec(fw, padding=pad, op=op, out=out_, note=note, **kw))
    return out


def generate():
    import random

    r = random.Random(SEED)
    return [
        c
        for fw, gen, extra in (
            ("torch", gen_torch, 10),
            ("tf", gen_tf, 10),
            ("keras", gen_keras, 8),
            ("onnx", gen_onnx, 8),
            ("jax", gen_jax, 10),
        )
        for c in gen() + gen_random(r, fw, extra)
    ]


# --------------------------------------------------------------------------
# data and layouts (numpy)
# --------------------------------------------------------------------------


def canonical_data(c, idx):
    """x (N, C_in, *n), w (C_in, C_out/groups, *k), b (C_out,) or None, all float64"""
    import numpy as np

    nd = len(c["n"])
    if c["data"] == "tutorial":
        assert c["N"] == c["cin"] == c["cout"] == 1
        assert not c["bias"]
        x = np.array([[1.0, 1.0], [2.0, 2.0]]).reshape(1, 1, 2, 2)
        return x, np.ones((1, 1, 3, 3)), None
    rng = np.random.default_rng([SEED, idx])
    x = rng.standard_normal((c["N"], c["cin"], *c["n"]))
    w = rng.standard_normal((c["cin"], c["cout"] // c["groups"], *c["k"]))
    b = rng.standard_normal(c["cout"]) if c["bias"] else None
    if np.prod(c["k"]) > 1:
        assert not np.allclose(w, np.flip(w, axis=tuple(range(2, 2 + nd))))
    return x, w, b


def to_framework(c, x, w):
    """canonical (torch) layouts -> the framework's layouts"""
    import numpy as np

    nd = len(c["n"])
    sp = list(range(2, 2 + nd))
    fw = c["framework"]
    if fw in ("torch", "onnx"):
        return x, w
    xl = np.moveaxis(x, 1, -1)
    if fw in ("tf", "keras"):
        return xl, w.transpose([*sp, 1, 0])  # (*k, C_out/groups, C_in)
    assert c["groups"] == 1
    return xl, np.flip(w, axis=tuple(sp)).transpose([*sp, 0, 1])  # jax: (*k, C_in, C_out), flipped


def to_canonical(c, x, w, y):
    import numpy as np

    nd = len(c["n"])
    fw = c["framework"]
    if fw in ("torch", "onnx"):
        return x, w, y
    xc, yc = np.moveaxis(x, -1, 1), np.moveaxis(y, -1, 1)
    if fw in ("tf", "keras"):
        return xc, w.transpose([nd + 1, nd, *range(nd)]), yc
    wc = w.transpose([nd, nd + 1, *range(nd)])
    return xc, np.flip(wc, axis=tuple(range(2, 2 + nd))), yc


def verify(c, x, w, b, y):
    """(crop, problem): the crop that reproduces y from the numpy scatter, or why none does"""
    import numpy as np

    xc, wc, yc = to_canonical(c, *(np.asarray(t, dtype=np.float64) for t in (x, w, y)))
    expect_shape = (c["N"], c["cout"])
    if yc.shape[:2] != expect_shape:
        return None, f"output batch/channels {yc.shape[:2]} != {expect_shape}"
    if b is not None:
        yc = yc - np.asarray(b, dtype=np.float64).reshape(1, -1, *[1] * (yc.ndim - 2))
    full = oracle.full_scatter(xc, wc, c["stride"], c["dilation"], c["groups"])
    scale = float(np.abs(full).max()) + float(np.abs(b).max() if b is not None else 0.0) + 1.0
    tol = (3e-5 if c["dtype"] == "float32" else 1e-10) * scale
    crops = oracle.match_crop(yc, full, tol)
    if len(crops) != 1:
        return (
            None,
            f"{len(crops)} crops reproduce the output {list(yc.shape[2:])} (full {list(full.shape[2:])})",
        )
    return crops[0], None


def orientation_observable(c, x, w, b, y, crop):
    """False when the spatially flipped kernel gives the same output with the same crop
    (a 1-element kernel, or an output that sees only the centre tap, e.g. n=1)"""
    import numpy as np

    xc, wc, yc = to_canonical(c, *(np.asarray(t, dtype=np.float64) for t in (x, w, y)))
    flipped = np.flip(wc, axis=tuple(range(2, wc.ndim)))
    full = oracle.full_scatter(xc, flipped, c["stride"], c["dilation"], c["groups"])
    ext = np.pad(full, [(0, 0), (0, 0)] + [(max(0, -L), max(0, -R)) for L, R in crop])
    sl = tuple(slice(max(0, L), max(0, L) + o) for (L, _), o in zip(crop, yc.shape[2:], strict=True))
    if b is not None:
        yc = yc - np.asarray(b, dtype=np.float64).reshape(1, -1, *[1] * (yc.ndim - 2))
    tol = (3e-5 if c["dtype"] == "float32" else 1e-10) * (float(np.abs(full).max()) + 1.0)
    return not np.abs(ext[(slice(None), slice(None), *sl)] - yc).max() <= tol


# --------------------------------------------------------------------------
# framework adapters (worker side): arrays in the framework's layout, dtype as given
# --------------------------------------------------------------------------


class TorchFW:
    def __init__(self):
        import torch

        torch.set_num_threads(1)
        self.torch = torch

    def call(self, c, x, w, b):
        torch = self.torch
        import torch.nn.functional as Fn

        nd = len(c["n"])
        pad = c["padding"]
        if pad == "valid":
            p = (0,) * nd  # deconv's mapping: torch has no padding='valid' for ConvTranspose
        else:
            assert all(q[0] == q[1] for q in pad), "torch padding is symmetric"
            p = tuple(q[0] for q in pad)
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        bt = None if b is None else torch.from_numpy(b)
        if c["output_shape"] is None:
            f = (Fn.conv_transpose1d, Fn.conv_transpose2d, Fn.conv_transpose3d)[nd - 1]
            op = tuple(c["output_padding"] or (0,) * nd)
            y = f(xt, wt, bt, tuple(c["stride"]), p, op, c["groups"], tuple(c["dilation"]))
        else:
            assert c["output_padding"] is None
            M = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)[nd - 1]
            m = M(
                c["cin"],
                c["cout"],
                tuple(c["k"]),
                stride=tuple(c["stride"]),
                padding=p,
                groups=c["groups"],
                bias=b is not None,
                dilation=tuple(c["dilation"]),
                dtype=xt.dtype,
            )
            with torch.no_grad():
                m.weight.copy_(wt)
                if b is not None:
                    m.bias.copy_(bt)
                y = m(xt, output_size=list(c["output_shape"]))
        return y.detach().numpy()


class TFFW:
    def __init__(self):
        import tensorflow as tf

        self.tf = tf

    def call(self, c, x, w, b):
        tf = self.tf
        nd = len(c["n"])
        pad = c["padding"]
        if pad in ("same", "valid"):
            padarg = pad.upper()
        else:
            assert nd == 2, "tf.nn takes explicit padding for 2-D only"
            padarg = [[0, 0], *[list(q) for q in pad], [0, 0]]
        oshape = [c["N"], *c["output_shape"], c["cout"]]
        f = (tf.nn.conv1d_transpose, tf.nn.conv2d_transpose, tf.nn.conv3d_transpose)[nd - 1]
        y = f(x, w, oshape, c["stride"], padarg, dilations=c["dilation"])
        if b is not None:
            y = tf.nn.bias_add(y, b)
        return y.numpy()


class KerasFW:
    def __init__(self):
        import keras

        self.keras = keras

    def call(self, c, x, w, b):
        keras = self.keras
        nd = len(c["n"])
        L = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)[nd - 1]
        op = c["output_padding"]
        layer = L(
            c["cout"],
            tuple(c["k"]),
            strides=tuple(c["stride"]),
            padding=c["padding"],
            output_padding=None if op is None else tuple(op),
            dilation_rate=tuple(c["dilation"]),
            use_bias=b is not None,
            dtype=c["dtype"],
        )
        layer.build(x.shape)
        layer.kernel.assign(w)
        if b is not None:
            layer.bias.assign(b)
        return self.keras.ops.convert_to_numpy(layer(x))


class OnnxFW:
    def __init__(self):
        import onnx
        import onnxruntime as ort

        self.onnx, self.ort = onnx, ort
        ort.set_default_logger_severity(4)
        self.so = ort.SessionOptions()
        self.so.log_severity_level = 4
        self.so.intra_op_num_threads = 1
        self.so.inter_op_num_threads = 1

    def call(self, c, x, w, b):
        from onnx import TensorProto, helper

        nd = len(c["n"])
        attrs = dict(strides=c["stride"], dilations=c["dilation"], kernel_shape=c["k"], group=c["groups"])
        pad = c["padding"]
        if isinstance(pad, str):
            attrs["auto_pad"] = {"same": "SAME_UPPER", "same_lower": "SAME_LOWER", "valid": "VALID"}[pad]
        else:
            attrs["pads"] = [q[0] for q in pad] + [q[1] for q in pad]
        if c["output_padding"] is not None:
            attrs["output_padding"] = c["output_padding"]
        if c["output_shape"] is not None:
            attrs["output_shape"] = c["output_shape"]
        names = ["X", "W"] + ([] if b is None else ["B"])
        arrays = [x, w] + ([] if b is None else [b])
        inputs = [
            helper.make_tensor_value_info(nm, TensorProto.FLOAT, list(a.shape))
            for nm, a in zip(names, arrays, strict=True)
        ]
        Y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
        node = helper.make_node("ConvTranspose", names, ["Y"], **attrs)
        graph = helper.make_graph([node], "g", inputs, [Y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
        model.ir_version = 10
        sess = self.ort.InferenceSession(
            model.SerializeToString(), self.so, providers=["CPUExecutionProvider"]
        )
        assert nd == x.ndim - 2
        return sess.run(None, dict(zip(names, arrays, strict=True)))[0]


JAX_DN = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}


class JaxFW:
    def __init__(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        self.jax = jax

    def call(self, c, x, w, b):
        import numpy as np
        from jax import lax

        nd = len(c["n"])
        pad = c["padding"]
        kw = {}
        if pad in ("same", "valid"):
            padarg = pad.upper()
        else:
            padarg = [tuple(q) for q in pad]
            kw["use_consistent_padding"] = True  # (b, e) = crop b at the begin, e at the end
        y = lax.conv_transpose(
            x,
            w,
            tuple(c["stride"]),
            padarg,
            rhs_dilation=tuple(c["dilation"]),
            dimension_numbers=JAX_DN[nd],
            transpose_kernel=False,
            **kw,
        )
        if b is not None:
            y = y + b
        return np.asarray(y)


def make_handler(job, tmpdir):
    """worker side (oracle.serve): runs a case on the inputs written by main, saves y_IDX.npy;
    the result is None, or the error text if the framework raised"""
    import numpy as np

    inputs = np.load(os.path.join(tmpdir, "inputs.npz"), allow_pickle=False)
    fw = {"torch": TorchFW, "tf": TFFW, "keras": KerasFW, "onnx": OnnxFW, "jax": JaxFW}[job.split("_")[0]]()

    def handle(idx, c):
        key = f"i{idx:04d}"
        x, w = inputs[key + "_x"], inputs[key + "_w"]
        b = inputs[key + "_b"] if c["bias"] else None
        try:
            y = fw.call(c, x, w, b)
        except Exception as e:
            return oracle.err_text(e)
        np.save(os.path.join(tmpdir, f"y_{idx:04d}.npy"), np.asarray(y), allow_pickle=False)
        return None

    return handle


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------


def write_npz(path, arrays):
    """np.savez_compressed with a fixed member order and timestamp (byte-identical reruns)"""
    import numpy as np

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, arr in arrays:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())


def main():
    ap = argparse.ArgumentParser()
    oracle.add_arguments(ap)
    ap.add_argument("--npz", default=os.path.join(HERE, "values.npz"))
    ap.add_argument("--json", default=os.path.join(HERE, "values.json"))
    args = ap.parse_args()
    if args.worker:
        oracle.serve(args.worker, args.tmp, args.start, make_handler)
        return

    import numpy as np

    log = oracle.log
    t0 = time.time()
    cases = generate()
    data = {}
    for idx, c in enumerate(cases):
        x, w, b = canonical_data(c, idx)
        xf, wf = to_framework(c, x, w)
        dt = np.dtype(c["dtype"])
        data[idx] = tuple(None if a is None else np.ascontiguousarray(a, dtype=dt) for a in (xf, wf, b))
    per_job = oracle.group_by_job(cases)

    with tempfile.TemporaryDirectory() as td:
        flat = {}
        for idx, (x, w, b) in data.items():
            flat[f"i{idx:04d}_x"], flat[f"i{idx:04d}_w"] = x, w
            if b is not None:
                flat[f"i{idx:04d}_b"] = b
        np.savez(os.path.join(td, "inputs.npz"), **flat)
        # a crash is an error like any other: the text is the result
        results = oracle.run_all(__file__, per_job, td, args.jobs, lambda item, text: text)
        errors = {
            idx: err
            for job, res in results.items()
            for (idx, _c), err in zip(per_job[job], res, strict=True)
            if err is not None
        }
        ys = {}
        for idx in range(len(cases)):
            p = os.path.join(td, f"y_{idx:04d}.npy")
            if idx not in errors:
                ys[idx] = np.load(p, allow_pickle=False)

    problems = [(idx, "raised " + msg) for idx, msg in sorted(errors.items())]
    records, arrays, blind = [], [], []
    for idx, c in enumerate(cases):
        if idx not in ys:
            continue
        x, w, b = data[idx]
        y = ys[idx]
        if y.dtype != np.dtype(c["dtype"]):
            problems.append((idx, f"output dtype {y.dtype}, input dtype {c['dtype']}"))
            continue
        crop, why = verify(c, x, w, b, y)
        if why:
            problems.append((idx, why))
            continue
        if c["data"] != "tutorial" and not orientation_observable(c, x, w, b, y, crop):
            blind.append(idx)
        if c["data"] == "tutorial":
            plane = (y[0, 0] if c["framework"] in ("torch", "onnx") else y[0, :, :, 0]).tolist()
            if plane != (TUTORIAL_Y if crop == [[0, 1], [0, 1]] else TUTORIAL_Y_START):
                problems.append((idx, "tutorial result %s" % plane))
                continue
        cid = "c%03d" % len(records)
        rec = {"id": cid}
        rec.update({k: c[k] for k in ("framework", "dtype", "stride", "dilation", "padding")})
        rec.update({k: c[k] for k in ("output_padding", "output_shape", "groups", "bias")})
        if c["onednn"]:
            rec["onednn"] = True
        rec["crop"] = crop
        rec["note"] = c["note"]
        records.append(rec)
        arrays += [(cid + "_x", x), (cid + "_w", w)]
        if b is not None:
            arrays.append((cid + "_b", b))
        arrays.append((cid + "_y", y))
    for idx, why in problems:
        c = cases[idx]
        log("PROBLEM case %d (%s %s): %s" % (idx, c["framework"], c["note"], why))
    if problems:
        log("%d problem(s); nothing written" % len(problems))
        sys.exit(1)

    write_npz(args.npz, arrays)
    with open(args.json, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(r, separators=(", ", ": ")) for r in records) + "\n]\n")
    counts = {}
    for r, c in zip(records, cases, strict=True):
        key = "%s %dd" % (r["framework"], len(c["n"]))
        counts[key] = counts.get(key, 0) + 1
    log("counts: %s" % counts)
    log("kernel orientation not observable (output sees only symmetric taps) in cases %s" % blind)
    log(
        "wrote %d cases: %s %d bytes, %s %d bytes, %.1fs"
        % (
            len(records),
            args.npz,
            os.path.getsize(args.npz),
            args.json,
            os.path.getsize(args.json),
            time.time() - t0,
        )
    )


if __name__ == "__main__":
    main()
