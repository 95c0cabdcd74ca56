#!/usr/bin/env python3
"""Framework oracle for transposed-convolution output shapes and crops.

Runs the real frameworks (PyTorch, TensorFlow tf.nn, Keras 3 on the TF backend,
onnxruntime, JAX) and writes golden records to tests/golden/shapes.jsonl
(or shapes.jsonl.gz when the file would exceed 1.5 MB).

Run from the repository root with the oracle venv:

    /work/oracles/bin/python tests/golden/make_shapes.py [--out PATH]

Every framework runs in its own subprocess (this same file with --worker JOB, driven by
oracle.py). The script installs nothing and is deterministic (fixed seeds); see README.md.

Record format (one compact JSON object per line):
  {"framework", "n", "k", "s", "d", "padding", "output_padding", "output_shape",
   ["onednn": true], "result": {"output": [...], "crop": [[L, R], ...] | null}
                            | {"error": "<Type>: <first line>"},
   ["candidates": [[...], ...]], [extra diagnostic keys]}
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import time

import oracle
from oracle import full_len

SEED = 20251123
HERE = os.path.dirname(os.path.abspath(__file__))
MAX_PLAIN_BYTES = 1_500_000

# --------------------------------------------------------------------------
# arithmetic helpers used to pick cases (full_len is oracle.py's)
# --------------------------------------------------------------------------


def kext(k, d):
    return d * (k - 1) + 1


# worked examples of frameworks.md section 7: (n, k, s, d)
EXAMPLES = [(16, 6, 2, 1), (2, 3, 2, 1), (3, 3, 2, 1), (8, 4, 2, 1), (5, 5, 2, 1), (4, 2, 3, 1), (4, 3, 1, 2)]


# --------------------------------------------------------------------------
# case generation
# --------------------------------------------------------------------------


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def axis(self, big=False, dil=True):
        r = self.r
        n = r.choice([16, 31, 32]) if big and r.random() < 0.5 else r.randint(1, 9)
        k = r.randint(1, 6)
        s = r.randint(1, 4)
        d = r.choices([1, 2, 3], weights=[6, 3, 2])[0] if dil else 1
        return n, k, s, d

    def axes(self, nd, big=False, dil=True):
        ax = [self.axis(big=big and nd == 1, dil=dil) for _ in range(nd)]
        return [list(t) for t in zip(*ax, strict=False)]  # n, k, s, d lists

    def nd(self, p2=0.45):
        return 2 if self.r.random() < p2 else 1


def case(fw, n, k, s, d, padding, output_padding=None, output_shape=None, cand=False, job=None):
    return {
        "framework": fw,
        "n": list(n),
        "k": list(k),
        "s": list(s),
        "d": list(d),
        "padding": padding,
        "output_padding": None if output_padding is None else list(output_padding),
        "output_shape": None if output_shape is None else list(output_shape),
        "_cand": bool(cand),
        "_job": job or fw,
    }


def gen_torch(g: Gen):
    r = g.r
    out = []
    # worked examples, 1-D
    for n, k, s, d in EXAMPLES:
        ke = kext(k, d)
        for p in (0, 1, 2, (ke - 1) // 2 + 1):
            for op in (None, 1, max(s, d)):
                out.append(case("torch", [n], [k], [s], [d], [[p, p]], None if op is None else [op]))
        F = full_len(n, k, s, d)
        for p in (0, 1, 2):
            for extra in (-1, 0, s - 1, s):
                out.append(case("torch", [n], [k], [s], [d], [[p, p]], None, [F - 2 * p + extra], cand=True))
        for st in ("same", "valid"):
            out.append(case("torch", [n], [k], [s], [d], st))
    # worked examples, 2-D pairs
    for i in range(len(EXAMPLES)):
        a, b = EXAMPLES[i], EXAMPLES[(i + 1) % len(EXAMPLES)]
        n, k, s, d = [list(t) for t in zip(a, b, strict=False)]
        out.append(case("torch", n, k, s, d, [[1, 1], [0, 0]], [1, 0], cand=True))
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        out.append(case("torch", n, k, s, d, [[1, 1], [1, 1]], None, [F[0] - 2, F[1] - 1], cand=True))
    # claims quoted in frameworks.md 2.2/2.3: output_size ignores dilation; O <= 0 message
    for op, os_ in ((None, [10]), (None, [12]), ([2], None), ([2], [10]), ([3], None)):
        out.append(case("torch", [4], [3], [1], [3], [[0, 0]], op, os_, cand=True))
    out.append(case("torch", [2], [3], [1], [1], [[2, 2]]))
    out.append(case("torch", [6, 6], [3, 3], [2, 2], [1, 1], [[1, 1], [1, 1]], None, [10, 10], cand=True))
    # string paddings
    for _ in range(16):
        nd = g.nd(0.4)
        n, k, s, d = g.axes(nd)
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        os_ = [f for f in F] if r.random() < 0.4 else None
        out.append(case("torch", n, k, s, d, r.choice(["same", "valid"]), None, os_))
    # random
    while len(out) < 660:
        nd = g.nd()
        n, k, s, d = g.axes(nd, big=r.random() < 0.08)
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        pad = []
        for a in range(nd):
            ke = kext(k[a], d[a])
            u = r.random()
            if u < 0.03:
                p = -1
            elif u < 0.13:
                p = F[a] // 2 + r.randint(0, 2)  # non-positive output
            else:
                p = r.randint(0, max(0, ke - 1))
            pad.append([p, p])
        op = None
        if r.random() < 0.55:
            op = [r.randint(0, max(s[a], d[a])) for a in range(nd)]
        os_ = None
        if r.random() < 0.25:
            os_ = [F[a] - 2 * pad[a][0] + r.randint(-2, s[a] + 1) for a in range(nd)]
        cand = os_ is not None or r.random() < 0.2
        out.append(case("torch", n, k, s, d, pad, op, os_, cand=cand))
    return out


def tf_range_center(n, k, s, d, pad):
    """a plausible output size to center the requested output_shape on"""
    F = full_len(n, k, s, d)
    if pad == "same":
        return n * s
    if pad == "valid":
        return F
    b, e = pad
    return F - b - e


def gen_tf(g: Gen):
    r = g.r
    out = []

    def job_for(d, forced_onednn=False):
        return "tf_onednn" if (forced_onednn or max(d) > 1) else "tf"

    for n, k, s, d in EXAMPLES:
        F = full_len(n, k, s, d)
        for O in range(max(0, (n - 1) * s - 1), n * s + 2):
            out.append(case("tf", [n], [k], [s], [d], "same", None, [O], True, job_for([d])))
        for O in range(F - 1, F + s + 1):
            out.append(case("tf", [n], [k], [s], [d], "valid", None, [O], True, job_for([d])))
        out.append(case("tf", [n], [k], [s], [d], [[1, 1]], None, [F - 2], True, job_for([d])))
        # 2-D with the example on axis 0 and a plain axis 1
        for pad in ("same", "valid", [[1, 1], [0, 1]], [[0, 1], [2, 0]]):
            n2, k2, s2, d2 = [n, 3], [k, 2], [s, 2], [d, 1]
            O = [
                tf_range_center(n2[a], k2[a], s2[a], d2[a], pad if isinstance(pad, str) else pad[a])
                for a in range(2)
            ]
            out.append(case("tf", n2, k2, s2, d2, pad, None, O, True, job_for(d2)))
    # claims quoted in frameworks.md 3.2 (error text) and 3.1 (NHWC explicit form)
    out.append(case("tf", [3, 3], [3, 3], [2, 2], [1, 1], "same", None, [7, 6], True))
    out.append(case("tf", [3, 3], [3, 3], [2, 2], [1, 1], "same", None, [6, 7], True))
    out.append(case("tf", [3], [3], [2], [1], "same", None, [7], True))
    # requested sizes so small that the forward size is negative / truncates to 0
    out.append(case("tf", [2], [6], [1], [1], "valid", None, [3], True))
    out.append(case("tf", [2], [5], [3], [1], "valid", None, [0], True))
    out.append(case("tf", [2], [6], [3], [1], "valid", None, [0], True))
    out.append(case("tf", [2, 3], [3, 3], [3, 2], [1, 1], "valid", None, [0, 7], True))
    out.append(case("tf", [2, 3], [3, 3], [3, 2], [1, 1], [[1, 0], [0, 0]], None, [4, 1], True))
    out.append(case("tf", [2, 3], [3, 3], [3, 2], [1, 1], "same", None, [4, 0], True))
    # random
    n_rand_target = 700
    while len(out) < n_rand_target:
        nd = g.nd(0.55)
        n, k, s, d = g.axes(nd, big=r.random() < 0.06)
        if r.random() < 0.6:
            d = [1] * nd
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        u = r.random()
        if u < 0.38:
            pad = "same"
        elif u < 0.68:
            pad = "valid"
        else:
            if nd == 1 and r.random() < 0.7:
                nd = 2
                n, k, s, d = g.axes(2)
            if r.random() < 0.9:
                d = [1] * nd  # EXPLICIT + dilation has no CPU kernel at all (not even oneDNN)
            F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]  # the axes may have changed
            pad = []
            for a in range(nd):
                ke = kext(k[a], d[a])
                v = r.random()
                if v < 0.04:
                    pad.append([-1, r.randint(0, 2)])
                elif v < 0.12:
                    pad.append([F[a] // 2 + 1, F[a] // 2])
                else:
                    pad.append([r.randint(0, ke), r.randint(0, ke)])
        os_ = []
        inside = r.random() < 0.55  # aim inside TF's documented accepted range on every axis
        for a in range(nd):
            c = tf_range_center(n[a], k[a], s[a], d[a], pad if isinstance(pad, str) else pad[a])
            v = r.random()
            if inside:
                lo = c - s[a] + 1 if pad == "same" else c
                hi = c if pad == "same" else c + s[a] - 1
                os_.append(max(1, r.randint(lo, hi)))
            elif v < 0.04:
                os_.append(0)
            else:
                lo = c - s[a] - 1 if pad == "same" else c - 2
                hi = c + 1 if pad == "same" else c + s[a]
                os_.append(max(1, r.randint(lo, hi)))
        out.append(case("tf", n, k, s, d, pad, None, os_, True, job_for(d)))
    # d == 1 run with oneDNN on, to document its leniency (marked onednn: true)
    for i in range(40):
        nd = 1 if i < 28 else 2
        n, k, s, d = g.axes(nd, dil=False)
        if i < 10:
            n = [1] * nd
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        pad = r.choice(["same", "valid"]) if i >= 10 else "valid"
        os_ = []
        for a in range(nd):
            c = tf_range_center(n[a], k[a], s[a], d[a], pad)
            os_.append(max(0, r.randint(c - s[a] - 1, c + s[a])) if i % 7 else 0)
        out.append(case("tf", n, k, s, d, pad, None, os_, True, "tf_onednn"))
    return out


def gen_keras(g: Gen):
    r = g.r
    out = []

    def job_for(d):
        return "keras_onednn" if max(d) > 1 else "keras"

    for n, k, s, d in EXAMPLES:
        for pad in ("same", "valid"):
            for op in [None, *list(range(0, max(s, d) + 1))]:
                out.append(
                    case(
                        "keras",
                        [n],
                        [k],
                        [s],
                        [d],
                        pad,
                        None if op is None else [op],
                        None,
                        True,
                        job_for([d]),
                    )
                )
        for pad in ("same", "valid"):
            n2, k2, s2, d2 = [n, 5], [k, 4], [s, 3], [d, 1]
            out.append(case("keras", n2, k2, s2, d2, pad, None, None, True, job_for(d2)))
            out.append(case("keras", n2, k2, s2, d2, pad, [1, 2], None, True, job_for(d2)))
    # claim quoted in frameworks.md 3.5: TF backend rejects same + output_padding=0 with even kernel
    for op in (None, [0], [1]):
        out.append(case("keras", [5], [4], [2], [1], "same", op, None, True, "keras"))
    while len(out) < 560:
        nd = g.nd()
        n, k, s, d = g.axes(nd, big=r.random() < 0.06)
        if r.random() < 0.45:
            d = [1] * nd
        elif max(d) > 1 and r.random() < 0.7:
            s = [1] * nd
        pad = r.choice(["same", "valid"])
        op = None
        if r.random() < 0.6:
            op = [
                r.randint(0, max(s[a], d[a])) if r.random() < 0.25 else r.randint(0, s[a] - 1)
                for a in range(nd)
            ]
        out.append(case("keras", n, k, s, d, pad, op, None, r.random() < 0.33, job_for(d)))
    return out


def gen_onnx(g: Gen):
    r = g.r
    out = []
    for n, k, s, d in EXAMPLES:
        F = full_len(n, k, s, d)
        for pad in ("same", "same_lower", "valid", [[1, 1]], [[0, 1]], [[1, 0]], [[2, 1]]):
            for op in (None, [1], [max(s, d)]):
                out.append(case("onnx", [n], [k], [s], [d], pad, op, None, op is None))
        for pad in ("same", "same_lower", "valid", None, [[1, 1]], [[0, 1]]):
            for O in (n * s, F - 1, F):
                out.append(
                    case("onnx", [n], [k], [s], [d], pad if pad is not None else [[0, 0]], None, [O], True)
                )
        n2, k2, s2, d2 = [n, 3], [k, 2], [s, 3], [d, 1]
        for pad in ("same", "same_lower", "valid", [[1, 0], [0, 1]]):
            out.append(case("onnx", n2, k2, s2, d2, pad, None, None, False))
            out.append(case("onnx", n2, k2, s2, d2, pad, [1, 2], None, False))
            out.append(case("onnx", n2, k2, s2, d2, pad, None, [n * s, 7], True))
    while len(out) < 760:
        nd = g.nd()
        n, k, s, d = g.axes(nd, big=r.random() < 0.06)
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        u = r.random()
        if u < 0.17:
            pad = "same"
        elif u < 0.34:
            pad = "same_lower"
        elif u < 0.48:
            pad = "valid"
        else:
            pad = []
            for a in range(nd):
                ke = kext(k[a], d[a])
                v = r.random()
                if v < 0.03:
                    pad.append([-1, 0])
                elif v < 0.11:
                    pad.append([F[a] // 2, F[a] - F[a] // 2 + r.randint(0, 1)])
                else:
                    pad.append([r.randint(0, ke), r.randint(0, ke)])
        op = None
        if r.random() < 0.45:
            op = [
                r.randint(0, max(s[a], d[a])) if r.random() < 0.3 else r.randint(0, s[a] - 1)
                for a in range(nd)
            ]
        os_ = None
        if r.random() < 0.33:
            os_ = []
            for a in range(nd):
                v = r.random()
                if v < 0.05:
                    os_.append(0)
                else:
                    os_.append(r.randint(max(1, F[a] - 2 * kext(k[a], d[a])), F[a] + s[a] + 1))
        cand = os_ is not None or r.random() < 0.12
        out.append(case("onnx", n, k, s, d, pad, op, os_, cand))
    return out


def gen_jax(g: Gen):
    r = g.r
    out = []
    for n, k, s, d in EXAMPLES:
        for pad in ("same", "valid", [[1, 1]], [[0, 1]], [[2, 0]], [[0, -1]]):
            out.append(case("jax", [n], [k], [s], [d], pad))
        out.append(case("jax", [n, 3], [k, 2], [s, 3], [d, 1], "same"))
        out.append(case("jax", [n, 3], [k, 2], [s, 3], [d, 1], [[1, 2], [0, 1]]))
    # claim quoted in frameworks.md 4: n=5 k=3 s=2 [(1,2)]
    out.append(case("jax", [5], [3], [2], [1], [[1, 2]]))
    while len(out) < 470:
        nd = g.nd()
        n, k, s, d = g.axes(nd, big=r.random() < 0.06)
        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
        u = r.random()
        if u < 0.22:
            pad = "same"
        elif u < 0.42:
            pad = "valid"
        else:
            pad = []
            for a in range(nd):
                ke = kext(k[a], d[a])
                v = r.random()
                if v < 0.08:
                    pad.append([-r.randint(1, 3), r.randint(-2, 2)])
                elif v < 0.2:
                    b = r.randint(0, F[a])
                    pad.append([b, F[a] - b + r.randint(-1, 3)])
                else:
                    pad.append([r.randint(0, ke + 1), r.randint(0, ke + 1)])
        out.append(case("jax", n, k, s, d, pad))
    return out


# every framework x padding kind x dilation 1..3 x rank 1..3 (the kinds each framework's API has)
GRID_KINDS = {
    "torch": ("valid", "same", "explicit", "output_padding", "output_shape"),
    "tf": ("valid", "same", "explicit", "output_shape"),
    "keras": ("valid", "same", "output_padding"),
    "onnx": ("valid", "same", "same_lower", "explicit", "output_padding", "output_shape"),
    "jax": ("valid", "same", "explicit"),
}


def gen_grid():
    """two random layers per framework, padding kind, dilation and rank; small, so 3-D stays cheap"""
    r = random.Random(SEED + 9)
    out = []
    for fw, kinds in GRID_KINDS.items():
        for nd in (1, 2, 3):
            for dil in (1, 2, 3):
                for kind in kinds:
                    for rep in range(2):
                        n = [r.randint(1, 5) for _ in range(nd)]
                        k = [r.randint(1, 4) for _ in range(nd)]
                        s = [r.randint(1, 3) for _ in range(nd)]
                        if fw == "keras" and dil > 1 and rep == 0:
                            s = [1] * nd  # Keras refuses strides > 1 with dilation > 1
                        d = [dil] * nd
                        F = [full_len(*t) for t in zip(n, k, s, d, strict=False)]
                        ext = [kext(a, b) for a, b in zip(k, d, strict=False)]
                        padding, op, os_ = "valid", None, None
                        if kind in ("same", "same_lower"):
                            padding = kind
                        elif kind in ("explicit", "output_padding", "output_shape") and fw != "keras":
                            if fw == "torch":  # small enough that the output is not empty
                                padding = [
                                    [p, p]
                                    for p in (
                                        r.randint(0, max(0, min(e - 1, (f - 1) // 2)))
                                        for e, f in zip(ext, F, strict=False)
                                    )
                                ]
                            elif fw == "jax":  # lax's edge padding, negative values crop
                                padding = [[r.randint(-1, e), r.randint(-1, e)] for e in ext]
                            else:
                                padding = [[r.randint(0, e - 1), r.randint(0, e - 1)] for e in ext]
                        if kind == "output_padding":
                            if fw == "keras":
                                padding = r.choice(["same", "valid"])
                            # torch and onnx take op < max(s, d); Keras op < s
                            top = [a if fw == "keras" else max(a, b) for a, b in zip(s, d, strict=False)]
                            op = [r.randint(0, t - 1) for t in top]
                        low = [
                            f - (p[0] + p[1] if isinstance(padding, list) else 0)
                            for f, p in zip(
                                F, padding if isinstance(padding, list) else [None] * nd, strict=False
                            )
                        ]
                        if kind == "output_shape":
                            os_ = [max(1, lo + r.randint(0, a - 1)) for lo, a in zip(low, s, strict=False)]
                        if fw == "tf" and os_ is None:  # tf.nn needs the output shape
                            os_ = [a * b for a, b in zip(n, s, strict=False)] if padding == "same" else low
                        job = fw
                        if fw in ("tf", "keras") and dil > 1:
                            job = fw + "_onednn"  # TF's dilated kernels exist only through oneDNN
                        out.append(case(fw, n, k, s, d, padding, op, os_, False, job))
    for c in out:
        c["_grid"] = True
    return out


def generate():
    g = Gen(SEED)
    raw = gen_torch(g) + gen_tf(g) + gen_keras(g) + gen_onnx(g) + gen_jax(g) + gen_grid()
    cases, seen = [], set()
    for c in raw:  # drop exact duplicates (keep the first)
        key = json.dumps(
            [c[k] for k in ("_job", "n", "k", "s", "d", "padding", "output_padding", "output_shape")]
        )
        if key in seen:
            continue
        seen.add(key)
        cases.append(c)
    # a third of the records get candidates: top up deterministically
    r = random.Random(SEED + 1)
    for c in cases:
        if c["framework"] == "jax":
            c["_cand"] = False
    want = len(cases) // 3
    have = sum(c["_cand"] for c in cases)
    pool = [c for c in cases if not c["_cand"] and c["framework"] != "jax" and not c.get("_grid")]
    r.shuffle(pool)
    for c in pool[: max(0, want - have)]:
        c["_cand"] = True
    return cases


# --------------------------------------------------------------------------
# worker side: numerics shared by all frameworks
# --------------------------------------------------------------------------


def match_crop(out, full, f32):
    """per-axis offsets L with out == full_ext[L:L+O]; returns (crop, error text).
    crop is None when an axis has length 0; a single axis entry is None when several offsets match."""
    import numpy as np

    O, F = out.shape, full.shape
    if any(o == 0 for o in O):
        return None, None
    scale = float(np.abs(full).max()) + 1.0
    tol = (2e-5 if f32 else 1e-9) * scale
    crops = oracle.match_crop(out[None, None], full[None, None], tol)
    if not crops:
        return None, f"MISMATCH: no offset matches the uncropped scatter (output {list(O)}, full {list(F)})"
    # an axis whose window lies only on structural or appended zeros is unobservable: null
    crop = []
    for a in range(len(O)):
        pairs = sorted({tuple(m[a]) for m in crops})
        crop.append(list(pairs[0]) if len(pairs) == 1 else None)
    return crop, None


def guess_size(c, a):
    """starting value for the other axis in the candidate scan (only a seed)"""
    n, k, s, d = c["n"][a], c["k"][a], c["s"][a], c["d"][a]
    F = full_len(n, k, s, d)
    p = c["padding"]
    if isinstance(p, str):
        return n * s if p.startswith("same") else F
    return max(1, F - p[a][0] - p[a][1])


def scan_candidates(c, accepts):
    """per-axis accepted requested sizes X in 1..F+2s; 2-D: the other axis is held at its
    smallest accepted value. accepts(list_of_sizes) -> bool"""
    nd = len(c["n"])
    F = [full_len(c["n"][a], c["k"][a], c["s"][a], c["d"][a]) for a in range(nd)]
    rng = [list(range(1, F[a] + 2 * c["s"][a] + 1)) for a in range(nd)]
    if nd == 1:
        return [[X for X in rng[0] if accepts([X])]]

    def scan(axis, other_val):
        res = []
        for X in rng[axis]:
            v = [0, 0]
            v[axis] = X
            v[1 - axis] = other_val
            if accepts(v):
                res.append(X)
        return res

    g1 = guess_size(c, 1)
    seeds1 = [g1] + [X for X in rng[1] if g1 != X]
    A0 = []
    for g in seeds1:
        A0 = scan(0, g)
        if A0:
            break
    if not A0:
        return [[], []]
    A1 = scan(1, min(A0))
    if not A1:
        return [[], []]
    A0 = scan(0, min(A1))
    return [A0, A1]


def make_data(c, idx):
    import numpy as np

    rng = np.random.default_rng([SEED, idx])
    x = rng.standard_normal(c["n"])
    w = rng.standard_normal(c["k"])
    # make sure the kernel is not symmetric under flipping (so a flipped kernel never matches)
    flat = w.reshape(-1)
    if flat.size > 1:
        flat[0] += 3.0
    return x, w


# --------------------------------------------------------------------------
# framework adapters: each returns (output ndarray with only spatial dims, is_float32)
# --------------------------------------------------------------------------


class TorchFW:
    f32 = False

    def __init__(self):
        import torch
        import torch.nn.functional as Fn

        self.torch, self.Fn = torch, Fn
        torch.set_num_threads(1)

    def call(self, c, x, w, output_shape="record"):
        torch, Fn = self.torch, self.Fn
        nd = len(c["n"])
        os_ = c["output_shape"] if output_shape == "record" else output_shape
        pad = c["padding"]
        padarg = pad if isinstance(pad, str) else tuple(p[0] for p in pad)
        if not isinstance(pad, str):
            assert all(p[0] == p[1] for p in pad)
        op = tuple(c["output_padding"]) if c["output_padding"] is not None else (0,) * nd
        xt = torch.from_numpy(x)[None, None]
        wt = torch.from_numpy(w)[None, None]
        if os_ is None:
            f = (Fn.conv_transpose1d, Fn.conv_transpose2d, Fn.conv_transpose3d)[nd - 1]
            y = f(
                xt,
                wt,
                None,
                stride=tuple(c["s"]),
                padding=padarg,
                output_padding=op,
                groups=1,
                dilation=tuple(c["d"]),
            )
        else:
            M = (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)[nd - 1]
            m = M(
                1,
                1,
                tuple(c["k"]),
                stride=tuple(c["s"]),
                padding=padarg,
                output_padding=op,
                dilation=tuple(c["d"]),
                bias=False,
                dtype=torch.float64,
            )
            with torch.no_grad():
                m.weight.copy_(wt)
                y = m(xt, output_size=list(os_))
        return y.detach().numpy()[0, 0]


class TFFW:
    def __init__(self, onednn):
        import tensorflow as tf

        self.tf = tf
        self.onednn = onednn
        self.f32 = onednn  # oneDNN kernels only run for float32; float64 always takes the canonical kernel

    def call(self, c, x, w, output_shape="record"):
        import numpy as np

        tf = self.tf
        nd = len(c["n"])
        os_ = c["output_shape"] if output_shape == "record" else output_shape
        dt = np.float32 if self.f32 else np.float64
        xt = x.astype(dt)[None, ..., None]
        wt = w.astype(dt)[..., None, None]
        pad = c["padding"]
        if pad == "same":
            padarg = "SAME"
        elif pad == "valid":
            padarg = "VALID"
        elif isinstance(pad, str):
            raise ValueError(f"no TF mapping for {pad!r}")
        else:
            padarg = [[0, 0]] + [list(p) for p in pad] + [[0, 0]]
        oshape = [1, *list(os_), 1]
        if nd == 1:
            y = tf.nn.conv1d_transpose(xt, wt, oshape, c["s"], padarg, data_format="NWC", dilations=c["d"])
        elif nd == 2:
            y = tf.nn.conv2d_transpose(xt, wt, oshape, c["s"], padarg, data_format="NHWC", dilations=c["d"])
        else:
            y = tf.nn.conv3d_transpose(xt, wt, oshape, c["s"], padarg, data_format="NDHWC", dilations=c["d"])
        return np.asarray(y)[0, ..., 0]


class KerasFW:
    f32 = True

    def __init__(self, onednn):
        import keras

        self.keras = keras
        self.onednn = onednn

    def call(self, c, x, w, output_padding="record"):
        import numpy as np

        keras = self.keras
        nd = len(c["n"])
        op = c["output_padding"] if output_padding == "record" else output_padding
        L = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)[nd - 1]
        layer = L(
            1,
            tuple(c["k"]),
            strides=tuple(c["s"]),
            padding=c["padding"],
            output_padding=None if op is None else tuple(op),
            dilation_rate=tuple(c["d"]),
            use_bias=False,
        )
        layer.build((1, *tuple(c["n"]), 1))
        layer.kernel.assign(w.astype(np.float32)[..., None, None])
        y = layer(x.astype(np.float32)[None, ..., None])
        return np.asarray(y)[0, ..., 0]


class OnnxFW:
    f32 = True  # ORT has no float64 ConvTranspose kernel on CPU

    def __init__(self):
        import onnx
        import onnxruntime as ort

        self.onnx, self.ort = onnx, ort
        ort.set_default_logger_severity(4)
        self.opset = min(22, onnx.defs.onnx_opset_version())
        self.so = ort.SessionOptions()
        self.so.log_severity_level = 4
        self.so.intra_op_num_threads = 1
        self.so.inter_op_num_threads = 1

    def call(self, c, x, w, output_shape="record", output_padding="record"):
        import numpy as np
        from onnx import TensorProto, helper

        len(c["n"])
        os_ = c["output_shape"] if output_shape == "record" else output_shape
        op = c["output_padding"] if output_padding == "record" else output_padding
        attrs = dict(strides=list(c["s"]), dilations=list(c["d"]), kernel_shape=list(c["k"]))
        pad = c["padding"]
        if pad == "same":
            attrs["auto_pad"] = "SAME_UPPER"
        elif pad == "same_lower":
            attrs["auto_pad"] = "SAME_LOWER"
        elif pad == "valid":
            attrs["auto_pad"] = "VALID"
        else:
            attrs["auto_pad"] = "NOTSET"
            attrs["pads"] = [p[0] for p in pad] + [p[1] for p in pad]
        if op is not None:
            attrs["output_padding"] = list(op)
        if os_ is not None:
            attrs["output_shape"] = list(os_)
        X = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, *list(c["n"])])
        W = helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, *list(c["k"])])
        Y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
        node = helper.make_node("ConvTranspose", ["X", "W"], ["Y"], **attrs)
        graph = helper.make_graph([node], "g", [X, W], [Y])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 10
        sess = self.ort.InferenceSession(
            model.SerializeToString(), self.so, providers=["CPUExecutionProvider"]
        )
        y = sess.run(None, {"X": x.astype(np.float32)[None, None], "W": w.astype(np.float32)[None, None]})[0]
        return y[0, 0]


class JaxFW:
    f32 = False

    def __init__(self):
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        from jax import lax

        self.jax, self.lax = jax, lax

    def call(self, c, x, w):
        """explicit pairs as lax.conv_transpose takes them by default: (lo, hi) zeros added at the
        edges of the zero-inserted input (negative: removed), what users copy from JAX code"""
        import numpy as np

        pad = c["padding"]
        modes = {"same": "SAME", "valid": "VALID"}
        padarg = modes.get(pad) if isinstance(pad, str) else [tuple(p) for p in pad]
        y = self.lax.conv_transpose(
            x[None, ..., None],
            w[..., None, None],
            tuple(c["s"]),
            padarg,
            rhs_dilation=tuple(c["d"]),
            transpose_kernel=True,
        )
        return np.asarray(y)[0, ..., 0]


def _accepts(fn):
    try:
        fn()
        return True
    except Exception:
        return False


def record_head(c):
    """the record's parameter keys (everything before "result")"""
    rec = {k: c[k] for k in ("framework", "n", "k", "s", "d", "padding", "output_padding", "output_shape")}
    if c["_job"].endswith("onednn"):
        rec["onednn"] = True
    return rec


def run_one(job, fw, c, idx):
    import numpy as np

    x, w = make_data(c, idx)
    rec = record_head(c)
    full = oracle.full_scatter(x[None, None], w[None, None], c["s"], c["d"], 1)[0, 0]
    try:
        y = fw.call(c, x, w)
        y = np.asarray(y, dtype=np.float64)
        crop, err = match_crop(y, full, fw.f32)
        if err:
            rec["result"] = {"error": err}
        else:
            rec["result"] = {"output": list(y.shape), "crop": crop}
    except Exception as e:
        rec["result"] = {"error": oracle.err_text(e)}
        y = None

    if c["_cand"]:
        if job == "torch" or job.startswith("tf"):
            rec["candidates"] = scan_candidates(
                c, lambda v: _accepts(lambda: fw.call(c, x, w, output_shape=v))
            )
        elif job == "onnx":
            rec["candidates"] = scan_candidates(
                c, lambda v: _accepts(lambda: fw.call(c, x, w, output_shape=v))
            )
            # does the accepted set depend on output_padding?
            by_op = {}
            nd = len(c["n"])
            for v in range(0, max(c["s"])):
                opv = [min(v, c["s"][a] - 1) for a in range(nd)]
                key = json.dumps(opv)
                if key in by_op:
                    continue
                by_op[key] = scan_candidates(
                    c,
                    lambda sz, opv=opv: _accepts(
                        lambda: fw.call(c, x, w, output_shape=sz, output_padding=opv)
                    ),
                )
            vals = list(by_op.values())
            rec["candidates_op_dependent"] = any(v != vals[0] for v in vals)
        elif job.startswith("keras"):
            nd = len(c["n"])
            got = [set() for _ in range(nd)]
            ops = [None]
            import itertools

            ops += [list(t) for t in itertools.product(*[range(sa) for sa in c["s"]])]
            for op in ops:
                try:
                    yy = fw.call(c, x, w, output_padding=op)
                    for a in range(nd):
                        got[a].add(int(yy.shape[a]))
                except Exception:
                    pass
            rec["candidates"] = [sorted(g_) for g_ in got]
    return rec


def make_handler(job, tmpdir):
    """worker side (oracle.serve): the framework adapter of the job and its record maker"""
    if job == "torch":
        fw = TorchFW()
    elif job in ("tf", "tf_onednn"):
        fw = TFFW(job == "tf_onednn")
    elif job in ("keras", "keras_onednn"):
        fw = KerasFW(job == "keras_onednn")
    elif job == "onnx":
        fw = OnnxFW()
    elif job == "jax":
        fw = JaxFW()
    else:
        raise SystemExit("unknown job " + job)
    return lambda idx, c: run_one(job, fw, c, idx)


def crash_record(item, text):
    _idx, c = item
    rec = record_head(c)
    rec["result"] = {"error": text}
    return rec


def job_cost(job, items):
    """the onnx and keras cases are about 3x slower"""
    return len(items) * (3 if job.startswith(("onnx", "keras")) else 1)


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    oracle.add_arguments(ap)
    ap.add_argument("--out", default=os.path.join(HERE, "shapes.jsonl"))
    args = ap.parse_args()
    if args.worker:
        oracle.serve(args.worker, args.tmp, args.start, make_handler)
        return

    import tempfile

    cases = generate()
    per_job = oracle.group_by_job(cases)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        results = oracle.run_all(__file__, per_job, td, args.jobs, crash_record, job_cost)
    records = []
    for j in oracle.JOBS:
        records.extend(results.get(j, []))
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    data = text.encode()
    out = args.out
    if out.endswith(".gz"):
        out = out[:-3]
    gz = out + ".gz"
    if len(data) > MAX_PLAIN_BYTES:
        with open(gz, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as z:
            z.write(data)
        if os.path.exists(out):
            os.remove(out)
        written = gz
    else:
        with open(out, "wb") as f:
            f.write(data)
        if os.path.exists(gz):
            os.remove(gz)
        written = out
    counts = {}
    for r in records:
        counts[r["framework"]] = counts.get(r["framework"], 0) + 1
    oracle.log(
        "wrote %d records (%s) to %s, %d bytes, %.1fs"
        % (len(records), counts, written, os.path.getsize(written), time.time() - t0)
    )


if __name__ == "__main__":
    main()
