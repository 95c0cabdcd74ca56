"""End to end: `deconv run` as a process against a minimal script per framework.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run_end_to_end.py

What a command-line user feels: the wall time of one process that loads the
input and weight from .npy files, computes the layer and saves the result.
deconv runs as ``python -m deconv_cli run ... -f torch`` with this interpreter;
each framework runs the shortest script that does the same (its own layouts,
prepared as files beforehand, and for ONNX Runtime a saved model), with its
default thread count.  Every output is checked against deconv's first.  The
processes alternate, with a pause before each; the median per process is shown.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from benchmarks.machine import Interference
from benchmarks.run_vs_frameworks import LAYERS, Layer, jax_kernel, jax_numbers, onnx_model, tf_kernel

# one small and one large layer of the suite (both 2-D)
CHOSEN = ("dcgan-z", "512->256")

SCRIPTS = {
    "torch": (
        "torch",
        """
import numpy as np, torch
x = torch.from_numpy(np.load("x.npy")); w = torch.from_numpy(np.load("w.npy"))
with torch.no_grad():
    y = torch.nn.functional.conv_transpose2d(x, w, stride={s}, padding={p}, output_padding={op})
np.save("y_torch.npy", y.numpy())
""",
    ),
    "onnxrt": (
        "onnxruntime",
        """
import numpy as np, onnxruntime as ort
session = ort.InferenceSession("layer.onnx", providers=["CPUExecutionProvider"])
np.save("y_onnxrt.npy", session.run(None, {{"x": np.load("x.npy")}})[0])
""",
    ),
    "jax": (
        "jax",
        """
import numpy as np
from jax import lax
y = lax.conv_general_dilated(np.load("x_nhwc.npy"), np.load("w_jax.npy"), (1, 1), {edge},
                             lhs_dilation=({s}, {s}), dimension_numbers={numbers})
np.save("y_jax.npy", np.asarray(y))
""",
    ),
    "tf": (
        "tensorflow",
        """
import numpy as np, tensorflow as tf
y = tf.nn.conv2d_transpose(np.load("x_nhwc.npy"), np.load("w_tf.npy"), {out_shape}, {s},
                           padding=[[0, 0], [{p}, {p} - {op}], [{p}, {p} - {op}], [0, 0]])
np.save("y_tf.npy", y.numpy())
""",
    ),
}


def prepare(lay: Layer, folder: Path) -> dict[str, list[str]]:
    """Write the inputs in every layout; return the command of each process."""
    rng = np.random.default_rng(0)
    x, w = lay.inputs(rng)
    np.save(folder / "x.npy", x)
    np.save(folder / "w.npy", w)
    np.save(folder / "x_nhwc.npy", np.ascontiguousarray(np.moveaxis(x, 1, -1)))
    commands = {
        "deconv": [
            sys.executable,
            "-m",
            "deconv_cli",
            "run",
            "x.npy",
            "-w",
            "w.npy",
            "-f",
            "torch",
            "--s",
            str(lay.s),
            "--padding",
            str(lay.p),
            "--op",
            str(lay.op),
            "-o",
            "y_deconv.npy",
        ]
    }
    fields = {
        "s": lay.s,
        "p": lay.p,
        "op": lay.op,
        "edge": [(lay.k - 1 - lay.p, lay.k - 1 - lay.p + lay.op)] * 2,
        "numbers": jax_numbers(lay),
        "out_shape": [lay.batch, *lay.out_size(), lay.c_out],
    }
    for name, (module, script) in SCRIPTS.items():
        if importlib.util.find_spec(module) is None:
            continue
        if name == "onnxrt":
            (folder / "layer.onnx").write_bytes(onnx_model(lay, w))
        elif name == "jax":
            np.save(folder / "w_jax.npy", jax_kernel(lay, w))
        elif name == "tf":
            np.save(folder / "w_tf.npy", tf_kernel(lay, w))
        commands[name] = [sys.executable, "-c", script.format(**fields)]
    return commands


ROOT = Path(__file__).resolve().parent.parent


def wall(command: list[str], folder: Path) -> float:
    # the processes run in the data folder: this checkout must stay importable
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    start = time.perf_counter()
    subprocess.run(
        command, cwd=folder, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": path}
    )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per library and layer")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds of idle before each process")
    args = parser.parse_args()
    env_note = " ".join(
        f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ
    )
    env_note = env_note or "no OPENBLAS_* set"
    print(f"python {sys.version.split()[0]}; median wall ms of {args.runs} processes; {env_note}")
    failed = False
    for lay in (lay for lay in LAYERS if lay.name.startswith(CHOSEN)):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            commands = prepare(lay, folder)
            expected = None
            for name, command in commands.items():
                wall(command, folder)  # also warms the file cache
                got = np.load(folder / f"y_{name}.npy")
                got = got if got.shape[1] == lay.c_out else np.moveaxis(got, -1, 1)
                if expected is None:
                    expected = got
                elif not np.allclose(got, expected, rtol=1e-5, atol=1e-5 * float(np.abs(expected).max())):
                    print(f"{lay.name}: {name} differs from deconv")
                    failed = True
            times: dict[str, list[float]] = {name: [] for name in commands}
            interference = Interference()
            for _ in range(args.runs):
                for name, command in commands.items():
                    time.sleep(args.pause)
                    times[name].append(wall(command, folder))
            medians = {name: 1e3 * statistics.median(values) for name, values in times.items()}
            ours = medians["deconv"]
            print(f"{lay.name} (batch {lay.batch}), others {interference.share():.0%}")
            for name, ms in medians.items():
                print(f"  {name:<8}{ms:>9.0f} ms {ms / ours:>6.2f}x deconv's")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
