"""Subprocess job runner shared by make_shapes.py and make_values.py (not run on its own).

The cases of a generator are grouped into jobs, one per framework configuration (JOBS). Every job
runs in worker subprocesses: the generator script itself, started as

    SCRIPT --worker JOB --tmp DIR --start POS

The parent writes the job's items ([index, case] pairs) to DIR/cases_JOB.json. The worker imports the
framework, answers items[POS:] in order and prints one protocol line per item on stdout, so the
parent knows how far it got. If the worker dies, the item it was on gets a `CRASH: ...` result and a
new worker starts after it. Up to --jobs jobs run at a time; the results do not depend on it.

The numeric helpers both generators check framework results with (full_len, full_scatter,
match_crop) live here too; numpy is imported inside them, only in the workers.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

# the subprocess jobs, in output order; "_onednn" runs TF/Keras with oneDNN on
JOBS = ("torch", "tf", "tf_onednn", "keras", "keras_onednn", "onnx", "jax")
MARK = "@oracle "  # starts the worker's protocol lines; anything else on stdout is ignored

_log_lock = threading.Lock()


def log(message):
    with _log_lock:
        print(message, file=sys.stderr, flush=True)


def add_arguments(parser):
    """the worker options and --jobs"""
    parser.add_argument("--worker")
    parser.add_argument("--tmp")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="parallel framework subprocesses")


def group_by_job(cases):
    """{job: [[index, case], ...]} for every job in JOBS, by the case's "_job" key"""
    per_job = {job: [] for job in JOBS}
    for idx, case in enumerate(cases):
        per_job[case["_job"]].append([idx, case])
    counts = {job: len(items) for job, items in per_job.items()}
    log(f"generated {len(cases)} cases: {counts}")
    return per_job


def cases_path(tmpdir, job):
    return os.path.join(tmpdir, f"cases_{job}.json")


# --------------------------------------------------------------------------
# numerics shared by the generators (numpy only inside the functions)
# --------------------------------------------------------------------------


def full_len(n, k, s, d):
    """length of the uncropped scatter on one axis"""
    return (n - 1) * s + d * (k - 1) + 1


def full_scatter(x, w, s, d, groups):
    """the uncropped transposed convolution in float64, canonical layouts x (N, C_in, *n) and
    w (C_in, C_out/groups, *k): full[n, co, i*s + j*d] += x[n, ci, i] * w[ci, co_local, j] within each
    group. For bare spatial arrays: full_scatter(x[None, None], w[None, None], s, d, 1)[0, 0]"""
    import numpy as np

    batch, cin = x.shape[:2]
    sp, k = x.shape[2:], w.shape[2:]
    cog = w.shape[1]
    cig = cin // groups
    lens = [full_len(sp[a], k[a], s[a], d[a]) for a in range(len(sp))]
    full = np.zeros((batch, cog * groups, *lens))
    for g in range(groups):
        xg = x[:, g * cig : (g + 1) * cig]
        for j in np.ndindex(*k):
            wg = w[g * cig : (g + 1) * cig, :, *j]
            sl = tuple(slice(j[a] * d[a], j[a] * d[a] + s[a] * (sp[a] - 1) + 1, s[a]) for a in range(len(sp)))
            full[(slice(None), slice(g * cog, (g + 1) * cog), *sl)] += np.einsum("nc...,co->no...", xg, wg)
    return full


def match_crop(y, full, tol):
    """every crop of full that y reproduces within tol, as a list of [[L, R], ...] (one pair per
    spatial axis): y == full_ext[..., L:L+O] on each axis, full_ext = full zero-extended by O+1 on
    both sides, R = F - L - O. y and full are (N, C, *spatial); no spatial axis of y may be empty."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    osz, fsz = y.shape[2:], full.shape[2:]
    nd = len(osz)
    ext = np.pad(full, [(0, 0), (0, 0)] + [(o + 1, o + 1) for o in osz])
    found = []
    for head in itertools.product(*[range(ext.shape[2 + a] - osz[a] + 1) for a in range(nd - 1)]):
        blk = ext[(slice(None), slice(None), *(slice(h, h + osz[a]) for a, h in enumerate(head)))]
        win = sliding_window_view(blk, osz[-1], axis=-1)  # (N, C, *O[:-1], nL, O[-1])
        err = np.abs(win - y[..., None, :]).max(axis=(0, 1, *range(2, 1 + nd), -1))
        for last in np.nonzero(err <= tol)[0]:
            offs = [h - (osz[a] + 1) for a, h in enumerate(head)] + [int(last) - (osz[-1] + 1)]
            found.append([[L, fsz[a] - L - osz[a]] for a, L in enumerate(offs)])
    return found


# --------------------------------------------------------------------------
# worker side
# --------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TF_PREFIX = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
_TF_SUFFIX = re.compile(r"\s*\[Op:[^\]]*\].*$")
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : ")
_ORT_STATUS = re.compile(
    r"^Non-zero status code returned while running \S+ node\. Name:'[^']*' Status Message: "
)


def err_text(e):
    """'<Type>: <first line>' of a framework exception, cut at 300 characters, boilerplate removed"""
    msg = _ANSI.sub("", str(e)).strip()
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    if line.startswith("Exception encountered when calling") and len(lines) > 1:
        line = lines[1]  # Keras wraps the backend error: keep the backend's first line
    line = _TF_PREFIX.sub("", line)
    line = _TF_SUFFIX.sub("", line)
    line = _ORT_PREFIX.sub("", line)
    line = _ORT_STATUS.sub("", line)
    return f"{type(e).__name__}: {line[:300]}"


def serve(job, tmpdir, start, make_handler):
    """Worker main: make_handler(job, tmpdir) sets up the framework and returns
    handle(index, case) -> JSON-able result; answer items[start:] of the job in order."""
    warnings.filterwarnings("ignore")
    with open(cases_path(tmpdir, job)) as f:
        items = json.load(f)
    handle = make_handler(job, tmpdir)
    for pos in range(start, len(items)):
        idx, case = items[pos]
        result = handle(idx, case)
        sys.stdout.write(MARK + json.dumps([pos, result], separators=(",", ":")) + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------


def job_env(job):
    env = dict(os.environ)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
        JAX_PLATFORMS="cpu",
        KERAS_BACKEND="tensorflow",
        PYTHONHASHSEED="0",
        OMP_NUM_THREADS="1",
    )
    if job.startswith(("tf", "keras")):
        env["TF_ENABLE_ONEDNN_OPTS"] = "1" if job.endswith("onednn") else "0"
    return env


def run_job(script, job, items, tmpdir, crashed):
    """the results of one job, in item order. A worker that dies is restarted after the item it
    was on, whose result becomes crashed(item, "CRASH: worker exited with RC: <last stderr line>")."""
    with open(cases_path(tmpdir, job), "w") as f:
        json.dump(items, f)
    errpath = os.path.join(tmpdir, f"stderr_{job}.txt")
    results = [None] * len(items)
    argv = [sys.executable, os.path.abspath(script), "--worker", job, "--tmp", tmpdir]
    start = 0
    t0 = time.time()
    while start < len(items):
        with open(errpath, "w") as ef:
            p = subprocess.Popen(
                [*argv, "--start", str(start)],
                stdout=subprocess.PIPE,
                stderr=ef,
                env=job_env(job),
                text=True,
            )
            for line in p.stdout:
                _, mark, payload = line.partition(MARK)
                if mark:
                    pos, result = json.loads(payload)
                    results[pos] = result
                    start = pos + 1
            rc = p.wait()
        if start < len(items):
            with open(errpath) as ef:
                tail = [ln.strip() for ln in ef.read().splitlines() if ln.strip()]
            msg = tail[-1][:250] if tail else ""
            results[start] = crashed(items[start], f"CRASH: worker exited with {rc}: {msg}")
            log(f"  {job}: worker crashed on item {start} (rc={rc}) {msg}")
            start += 1
    log(f"  {job}: {len(items)} cases in {time.time() - t0:.1f}s")
    return results


def run_all(script, per_job, tmpdir, jobs, crashed, cost=None):
    """{job: results} for every job with items, at most `jobs` at a time, the costliest first
    (cost(job, items), by default the number of items)"""
    cost = cost or (lambda job, items: len(items))
    sched = sorted((job for job in JOBS if per_job[job]), key=lambda job: -cost(job, per_job[job]))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        futs = {job: ex.submit(run_job, script, job, per_job[job], tmpdir, crashed) for job in sched}
        return {job: f.result() for job, f in futs.items()}
