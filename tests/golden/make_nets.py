#!/usr/bin/env python3
"""Framework oracle for whole networks: which input sizes they run on, and every layer's size.

Builds every network of netspec.NETS in PyTorch and Keras 3 (TensorFlow backend, oneDNN on as
installed), and exports the PyTorch ones to ONNX and runs them in ONNX Runtime, for every input
size h = 1..hmax on each swept axis (the other axes held at a size deconv finds valid), and writes
tests/golden/nets/records.json. It also writes the example models the reader tests read:
tests/golden/nets/keras/NAME.json (model.to_json()) and tests/golden/nets/onnx/NAME.onnx.

Run from the repository root with the oracle venv and deconv importable:

    PYTHONPATH=. /work/oracle/bin/python tests/golden/make_nets.py      # about 10 min on 2 cores

Each framework runs in its own subprocess through oracle.py, which restarts a worker that dies
(TensorFlow kills the process with SIGFPE on a 'valid' pooling window longer than its input): the
size it was on is recorded with the error class CRASH at the layer it was running.

Record, per net, framework and swept axis:
  {"fixed": F, "hmax": N,
   "outcome": netspec.encode_labels of "" (runs) or "layer:ErrorClass" per h = 1..N,
   "sizes": {layer: netspec.encode of its size per h}}     (onnx: the output's size only)
A layer whose output has an empty axis fails with the class "Empty" (ONNX Runtime and Keras return
empty tensors where PyTorch raises).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import netspec
import oracle
import real_models

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nets")
JOB = {"torch": "torch", "keras": "keras_onednn", "onnx": "onnx"}
# the nets whose models are committed for the reader tests (and swept in ONNX Runtime)
EXPORTED = (
    "unet3_pool_convT",
    "unet4_pool_upsample_conv",
    "unet3_strided_convT4",
    "unet2_valid_crop",
    "unet3_ceil_mode",
    "unet3_pool3_s2_p1_ceil",
    "fcn_add",
    "unet3_pad_before_pool",
    "audio_hifigan_odd",
    "audio_up_stack",
    "unet2_2d_rect",
    "unet2_2d_pad_crop",
    "unet2_3d",
    "unet3_keras_convT_op0",
    "unet3_pool3_s2_same",
)
NETS = {net.name: net for net in netspec.NETS}


def fixed_size(net, framework, axis):
    """a size deconv finds valid for the held axes (the sweep then shows the swept axis alone)"""
    if "fixed" in net.extra:
        return net.extra["fixed"]
    network = netspec.network(net, framework)
    for n in range(32, 400):
        if netspec.run(network, axis, n)[1] is None:
            return n
    return 64


def generate(only=None):
    cases = []
    for net in netspec.NETS:
        if only and net.name not in only:
            continue
        frameworks = list(net.frameworks)
        if "torch" in frameworks and net.name in EXPORTED:
            frameworks.append("onnx")
        for framework in frameworks:
            for axis in net.axes:
                held = fixed_size(
                    net, "torch" if framework == "onnx" else framework, 1 - axis if net.rank == 2 else 0
                )
                for h in range(1, net.hmax + 1):
                    cases.append(
                        {"_job": JOB[framework], "net": net.name, "axis": axis, "h": h, "fixed": held}
                    )
    for name in EXPORTED:
        if "keras" in NETS[name].frameworks and (not only or name in only):
            cases.append({"_job": "keras_onednn", "export": name})
    for name, (framework, held, hmax) in real_models.MODELS.items():
        if only and name not in only:
            continue
        for job in ("torch", "onnx") if framework == "torch" else ("keras_onednn",):
            for h in range(1, hmax + 1):
                cases.append({"_job": job, "model": name, "axis": 0, "h": h, "fixed": held})
        if framework == "keras":
            cases.append({"_job": "keras_onednn", "export_model": name})
    return cases


def model_result(run, case):
    """{"sizes": [output size on the axis], "fail": ["output", class] | None} of a whole model"""
    try:
        spatial = run([case["h"], case["fixed"]])
    except Exception as e:
        return {"sizes": [], "fail": ["output", type(e).__name__]}
    if min(spatial) < 1:
        return {"sizes": [], "fail": ["output", "Empty"]}
    return {"sizes": [spatial[case["axis"]]], "fail": None}


def shape(net, case):
    sizes = [case["fixed"]] * net.rank
    sizes[case["axis"]] = case["h"]
    return sizes


# --------------------------------------------------------------------------
# torch (and its ONNX export)
# --------------------------------------------------------------------------


def torch_layers(net):
    """{layer name: callable(*inputs)} in spec order, channels tracked through concat"""
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import nn

    rank = net.rank
    channels = {"x": 1}
    mods = {}

    def get(params, key, default=None):
        values = netspec.per_axis(params, key, "torch", rank, default)
        return values[0] if isinstance(values[0], str) else tuple(values)

    for name, op, inputs, p in net.layers:
        cin = channels[inputs[0]]
        channels[name] = 1
        if op == "conv":
            mods[name] = getattr(nn, f"Conv{rank}d")(
                cin, 1, get(p, "k"), get(p, "s", 1), get(p, "pad", 0), get(p, "d", 1)
            )
        elif op == "max":
            k = get(p, "k")
            s = get(p, "s") if p.get("s") is not None else k
            mods[name] = getattr(nn, f"MaxPool{rank}d")(
                k, s, get(p, "pad", 0), get(p, "d", 1), ceil_mode=bool(p.get("ceil"))
            )
            channels[name] = cin
        elif op == "avg":
            k = get(p, "k")
            s = get(p, "s") if p.get("s") is not None else k
            mods[name] = getattr(nn, f"AvgPool{rank}d")(k, s, get(p, "pad", 0), ceil_mode=bool(p.get("ceil")))
            channels[name] = cin
        elif op == "convT":
            out_pad = tuple(v or 0 for v in netspec.per_axis(p, "op", "torch", rank, 0))
            mods[name] = getattr(nn, f"ConvTranspose{rank}d")(
                cin, 1, get(p, "k"), get(p, "s", 1), get(p, "pad", 0), out_pad, dilation=get(p, "d", 1)
            )
        elif op == "up":
            mods[name] = nn.Upsample(scale_factor=float(p["scale"]), mode="nearest")
            channels[name] = cin
        elif op == "pad":
            pairs = list(
                zip(
                    netspec.per_axis(p, "b", "torch", rank),
                    netspec.per_axis(p, "e", "torch", rank),
                    strict=False,
                )
            )
            flat = [v for pair in reversed(pairs) for v in pair]
            mods[name] = lambda x, flat=flat: F.pad(x, flat)
            channels[name] = cin
        elif op == "crop":
            pairs = list(
                zip(
                    netspec.per_axis(p, "b", "torch", rank),
                    netspec.per_axis(p, "e", "torch", rank),
                    strict=False,
                )
            )
            # constant slice bounds (a negative end), so the ONNX export has constant Slice inputs
            mods[name] = lambda x, pairs=pairs: x[(..., *(slice(b, -e or None) for b, e in pairs))]
            channels[name] = cin
        elif op == "concat":
            mods[name] = lambda *xs: torch.cat(xs, dim=1)
            channels[name] = sum(channels[i] for i in inputs)
        elif op == "add":
            mods[name] = lambda a, b: a + b
            channels[name] = cin
        elif op == "act":
            mods[name] = nn.ReLU()
            channels[name] = cin
        else:
            raise ValueError(op)
    return mods


def torch_module(net):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = torch_layers(net)
            self.mods = nn.ModuleDict({k: v for k, v in self.calls.items() if isinstance(v, nn.Module)})

        def forward(self, x):
            values = {"x": x}
            for name, _, inputs, _ in net.layers:
                values[name] = self.calls[name](*(values[i] for i in inputs))
            return values[net.layers[-1][0]]

    torch.manual_seed(0)
    return Net().eval()


def sweep(net, case, call, zeros, size_of):
    """run the layers in order on zeros of the case's shape: {"sizes": [...], "fail": [layer, class] | None}"""
    values = {"x": zeros(shape(net, case))}
    sizes = []
    axis = case["axis"]
    for name, _, inputs, _ in net.layers:
        sys.stderr.write(f"@layer {name}\n")
        sys.stderr.flush()
        try:
            out = call(name, *(values[i] for i in inputs))
        except Exception as e:  # the framework's refusal: its class is the record
            return {"sizes": sizes, "fail": [name, type(e).__name__]}
        spatial = size_of(out)
        if min(spatial) < 1:
            return {"sizes": sizes, "fail": [name, "Empty"]}
        values[name] = out
        sizes.append(spatial[axis])
    return {"sizes": sizes, "fail": None}


def torch_handler():
    import torch

    cache = {}

    def handle(idx, case):
        if "model" in case:
            if case["model"] not in cache:
                cache[case["model"]] = real_models.torch_model(case["model"])
            model = cache[case["model"]]
            with torch.no_grad():
                return model_result(lambda sizes: list(model(torch.zeros(1, 3, *sizes)).shape[2:]), case)
        net = NETS[case["net"]]
        if net.name not in cache:
            cache[net.name] = torch_module(net)
        module = cache[net.name]
        with torch.no_grad():
            return sweep(
                net,
                case,
                lambda name, *xs: module.calls[name](*xs),
                lambda sizes: torch.zeros(1, 1, *sizes),
                lambda y: list(y.shape[2:]),
            )

    return handle


def stripped(data):
    """the model with its weights' data removed (their dims stay): architecture only, a few KB"""
    import math

    import onnx

    model = onnx.load_model_from_string(data)
    for init in model.graph.initializer:
        if math.prod(init.dims) > 16:
            for field in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
                init.ClearField(field)
    return model.SerializeToString()


def onnx_handler():
    import io

    import numpy as np
    import onnxruntime as ort
    import torch

    ort.set_default_logger_severity(4)
    cache = {}

    def export(name, module, example, folder):
        buf = io.BytesIO()
        dims = {2 + a: f"d{a}" for a in range(example.dim() - 2)}
        torch.onnx.export(
            module,
            (example,),
            buf,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": dims, "y": dims},
            opset_version=17,
        )
        data = buf.getvalue()
        os.makedirs(os.path.join(OUT, folder), exist_ok=True)
        with open(os.path.join(OUT, folder, f"{name}.onnx"), "wb") as f:
            f.write(stripped(data))
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"])

    def session(net, case):
        if net.name not in cache:
            example = torch.zeros(1, 1, *(fixed_size(net, "torch", a) for a in range(net.rank)))
            cache[net.name] = export(net.name, torch_module(net), example, "onnx")
        return cache[net.name]

    def handle(idx, case):
        if "model" in case:
            name = case["model"]
            if name not in cache:
                example = torch.zeros(1, 3, case["fixed"], case["fixed"])
                cache[name] = export(name, real_models.torch_model(name), example, "models")
            sess = cache[name]
            run = lambda sizes: list(sess.run(None, {"x": np.zeros((1, 3, *sizes), np.float32)})[0].shape[2:])
            return model_result(run, case)
        net = NETS[case["net"]]
        sess = session(net, case)
        try:
            y = sess.run(None, {"x": np.zeros((1, 1, *shape(net, case)), np.float32)})[0]
        except Exception as e:
            return {"sizes": [], "fail": ["output", type(e).__name__]}
        if min(y.shape[2:]) < 1:
            return {"sizes": [], "fail": ["output", "Empty"]}
        return {"sizes": [y.shape[2 + case["axis"]]], "fail": None}

    return handle


# --------------------------------------------------------------------------
# keras
# --------------------------------------------------------------------------


def keras_layers(net):
    import keras

    rank = net.rank
    L = keras.layers
    mods = {}

    def get(params, key, default=None):
        values = netspec.per_axis(params, key, "keras", rank, default)
        return values[0] if isinstance(values[0], str) or values[0] is None else tuple(values)

    for name, op, _, p in net.layers:
        if op == "conv":
            mods[name] = getattr(L, f"Conv{rank}D")(
                1,
                get(p, "k"),
                get(p, "s", 1),
                get(p, "pad", "valid"),
                dilation_rate=get(p, "d", 1),
                name=name,
            )
        elif op in ("max", "avg"):
            cls = getattr(L, f"{'Max' if op == 'max' else 'Average'}Pooling{rank}D")
            mods[name] = cls(get(p, "k"), get(p, "s"), get(p, "pad", "valid"), name=name)
        elif op == "convT":
            mods[name] = getattr(L, f"Conv{rank}DTranspose")(
                1,
                get(p, "k"),
                get(p, "s", 1),
                get(p, "pad", "valid"),
                output_padding=get(p, "op"),
                dilation_rate=get(p, "d", 1),
                name=name,
            )
        elif op == "up":
            mods[name] = getattr(L, f"UpSampling{rank}D")(
                p["scale"] if rank == 1 else (p["scale"],) * rank, name=name
            )
        elif op in ("pad", "crop"):
            pairs = tuple(
                zip(
                    netspec.per_axis(p, "b", "keras", rank),
                    netspec.per_axis(p, "e", "keras", rank),
                    strict=False,
                )
            )
            cls = getattr(L, f"{'ZeroPadding' if op == 'pad' else 'Cropping'}{rank}D")
            mods[name] = cls(pairs[0] if rank == 1 else pairs, name=name)
        elif op == "concat":
            mods[name] = L.Concatenate(name=name)
        elif op == "add":
            mods[name] = L.Add(name=name)
        elif op == "act":
            mods[name] = L.ReLU(name=name)
        else:
            raise ValueError(op)
    return mods


def keras_model(net):
    import keras

    mods = keras_layers(net)
    values = {"x": keras.Input((None,) * net.rank + (1,), name="x")}
    for name, op, inputs, _ in net.layers:
        args = [values[i] for i in inputs]
        values[name] = mods[name](args if op in ("concat", "add") else args[0])
    return keras.Model(values["x"], values[net.layers[-1][0]], name=net.name)


def keras_handler():
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    cache = {}

    def handle(idx, case):
        if "export_model" in case:
            export_keras_model(case["export_model"])
            return None
        if "model" in case:
            if case["model"] not in cache:
                cache[case["model"]] = real_models.keras_model(case["model"], (None, None))
            model = cache[case["model"]]
            return model_result(
                lambda sizes: list(model(np.zeros((1, *sizes, 3), np.float32)).shape[1:-1]), case
            )
        if "export" in case:
            model = keras_model(NETS[case["export"]])
            os.makedirs(os.path.join(OUT, "keras"), exist_ok=True)
            with open(os.path.join(OUT, "keras", f"{case['export']}.json"), "w") as f:
                f.write(model.to_json() + "\n")
            return None
        net = NETS[case["net"]]
        if net.name not in cache:
            cache[net.name] = keras_layers(net)
        mods = cache[net.name]
        ops = {name: op for name, op, _, _ in net.layers}
        return sweep(
            net,
            case,
            lambda name, *xs: mods[name](list(xs) if ops[name] in ("concat", "add") else xs[0]),
            lambda sizes: np.zeros((1, *sizes, 1), np.float32),
            lambda y: list(y.shape[1:-1]),
        )

    return handle


def stable_ids(config):
    """Keras's shared_object_id values (object addresses, new on every run) renumbered in order of
    first appearance: the same links, and the same bytes on every run"""
    numbers = {}

    def number(match):
        return f'"shared_object_id": {numbers.setdefault(match[1], len(numbers) + 1)}'

    return re.sub(r'"shared_object_id": (\d+)', number, config)


def export_keras_model(name):
    """NAME.json (model.to_json()) and NAME.keras with the weights left out (config and metadata),
    its shared_object_id values renumbered (``stable_ids``) so that a rerun gives the same bytes"""
    import zipfile

    model = real_models.keras_model(name)
    folder = os.path.join(OUT, "models")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{name}.json"), "w") as f:
        f.write(model.to_json() + "\n")
    full = os.path.join(folder, f"{name}.full.keras")
    model.save(full)
    with (
        zipfile.ZipFile(full) as source,
        zipfile.ZipFile(os.path.join(folder, f"{name}.keras"), "w") as target,
    ):
        for item in source.infolist():
            if item.filename in ("config.json", "metadata.json"):
                data = source.read(item.filename)
                if item.filename == "metadata.json":  # a fixed date, so that a rerun gives the same bytes
                    data = json.dumps({**json.loads(data), "date_saved": "2026-01-01@00:00:00"}).encode()
                else:
                    data = stable_ids(data.decode()).encode()
                info = zipfile.ZipInfo(item.filename, date_time=(2026, 1, 1, 0, 0, 0))
                target.writestr(info, data, zipfile.ZIP_DEFLATED)
    os.remove(full)


def make_handler(job, tmpdir):
    if job == "torch":
        return torch_handler()
    if job == "onnx":
        return onnx_handler()
    return keras_handler()


_LAYER = re.compile(r"@layer (\S+)")


def crashed(item, message):
    found = _LAYER.search(message)
    return {"sizes": None, "fail": [found.group(1) if found else None, "CRASH"]}


def job_cost(job, items):
    return len(items) * (8 if job.startswith("keras") else 1)


# --------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------


def compact(net, framework, results):
    """one record from the per-h results (in h order)"""
    names = ["output"] if framework == "onnx" else [name for name, *_ in net.layers]
    columns = {name: [None] * len(results) for name in names}
    labels = []
    for h, result in enumerate(results, start=1):
        for name, size in zip(names, result["sizes"] or [], strict=False):
            columns[name][h - 1] = size
        labels.append(":".join(map(str, result["fail"])) if result["fail"] else "")
    return {
        "outcome": netspec.encode_labels(labels),
        "sizes": {n: netspec.encode(c) for n, c in columns.items()},
    }


def main():
    ap = argparse.ArgumentParser()
    oracle.add_arguments(ap)
    ap.add_argument("--out", default=os.path.join(OUT, "records.json"))
    ap.add_argument("--only", help="comma-separated net names (a trial run; give --out elsewhere)")
    args = ap.parse_args()
    if args.worker:
        oracle.serve(args.worker, args.tmp, args.start, make_handler)
        return

    import tempfile

    cases = generate(args.only.split(",") if args.only else None)
    per_job = oracle.group_by_job(cases)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        results = oracle.run_all(__file__, per_job, td, args.jobs, crashed, job_cost)
    grouped = {}
    for job, items in per_job.items():
        for (_, case), result in zip(items, results.get(job, []), strict=True):
            if "export" in case or "export_model" in case:
                continue
            framework = next(f for f, j in JOB.items() if j == job)
            key = (case.get("net") or case["model"], framework, case["axis"])
            grouped.setdefault(key, {"fixed": case["fixed"], "results": []})["results"].append(result)
    records, models = {}, {}
    for (name, framework, axis), group in grouped.items():
        record = {"fixed": group["fixed"], "hmax": len(group["results"])}
        if name in NETS:
            record.update(compact(NETS[name], framework, group["results"]))
            records.setdefault(name, {}).setdefault(framework, {})[str(axis)] = record
        else:
            record.update(compact(None, "onnx", group["results"]))  # the output's size only
            models.setdefault(name, {}).setdefault(framework, {})[str(axis)] = record
    for path, data in ((args.out, records), (os.path.join(os.path.dirname(args.out), "models.json"), models)):
        if data:
            with open(path, "w") as f:
                json.dump(data, f, separators=(",", ":"), sort_keys=True)
                f.write("\n")
    oracle.log(
        f"wrote {len(grouped)} records to {args.out}, {os.path.getsize(args.out)} bytes, {time.time() - t0:.1f}s"
    )


if __name__ == "__main__":
    main()
