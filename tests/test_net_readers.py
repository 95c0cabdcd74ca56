"""The Keras and ONNX readers, on the models make_nets.py exported and on real published U-Nets.

Every model here was built or exported by tests/golden/make_nets.py and swept in its framework for
every input size h recorded in tests/golden/nets/{records,models}.json: the network a reader makes
of the model must accept exactly the sizes the framework ran, and give the same output size.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import time
import tracemalloc
import zipfile
from typing import Any

import pytest
from helpers import GOLDEN, load

from deconv_cli.core.net import keras, keras_config, layers, onnx_checks, solve
from deconv_cli.core.net import onnx as onnx_reader
from deconv_cli.core.net import valid as valid_set
from deconv_cli.core.net.graph import Network
from deconv_cli.core.net.sizes import evaluate
from deconv_cli.errors import DeconvError, ExitCode

NETS_DIR = GOLDEN / "nets"


netspec = load(GOLDEN / "netspec.py")
NETS = {net.name: net for net in netspec.NETS}
RECORDS = json.loads((NETS_DIR / "records.json").read_text())
MODELS = json.loads((NETS_DIR / "models.json").read_text())
KERAS_FILES = sorted((NETS_DIR / "keras").glob("*.json"))
ONNX_FILES = sorted((NETS_DIR / "onnx").glob("*.onnx"))


def needs_onnx() -> None:
    pytest.importorskip("onnx")


def agrees(network: Network, record: dict[str, Any], axis: int, runtime: bool = False) -> None:
    """Per h: the network works exactly where the framework ran, with the same output size.

    With ``runtime`` (ONNX Runtime) the framework may also run sizes below the smallest one deconv
    accepts: its pools truncate toward zero (a window longer than the input still gives one
    output), it passes empty tensors on, and its Add broadcasts a size of 1."""
    sizes_of = record["sizes"].get("output")
    outputs = None if sizes_of is None else netspec.decode(sizes_of, record["hmax"])
    last = network.nodes[-1].name
    smallest = None
    for h, label in enumerate(netspec.decode_labels(record["outcome"]), start=1):
        sizes, failed = netspec.run(network, axis, h)
        smallest = h if smallest is None and failed is None else smallest
        if runtime and failed is not None and not label and smallest is None:
            continue
        assert (failed is None) == (label == ""), (h, failed, label)
        if outputs is not None and not label:
            assert sizes[last] == outputs[h - 1], h


# ---- Keras ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", KERAS_FILES, ids=lambda p: p.stem)
def test_keras_json_reads_as_the_network_of_the_description(path):
    read = keras.network(path.read_text())
    built = netspec.network(NETS[path.stem], "keras")
    by_name = {node.name: node for node in read.nodes[1:]}
    assert read.rank == built.rank
    assert set(by_name) == {node.name for node in built.nodes[1:]}
    for node in built.nodes[1:]:
        got = by_name[node.name]
        assert (got.kind, got.inputs, got.axes) == (node.kind, node.inputs, node.axes), node.name


@pytest.mark.parametrize("path", KERAS_FILES, ids=lambda p: p.stem)
def test_keras_json_valid_sets_equal_the_keras_records(path):
    read = keras.network(path.read_text())
    for axis, record in RECORDS[path.stem]["keras"].items():
        valid = solve.valid(read, int(axis))
        ran = [h for h, label in enumerate(netspec.decode_labels(record["outcome"]), start=1) if not label]
        assert [h for h in range(1, record["hmax"] + 1) if h in valid] == ran


def test_the_keras_io_unet_from_json_and_from_the_keras_file_match_keras():
    models = NETS_DIR / "models"
    from_json = keras.network((models / "keras_io_unet.json").read_text())
    from_file = keras.network((models / "keras_io_unet.keras").read_bytes())
    assert from_json == from_file
    assert [node.kind for node in from_json.nodes].count("conv_transpose") == 8
    agrees(from_json, MODELS["keras_io_unet"]["keras"]["0"], 0)
    assert solve.valid(from_json, 1).json() == {"modulus": 1, "residues": [0], "from": 1, "also": []}


KERAS2 = {
    "class_name": "Model",
    "config": {
        "input_layers": [["x", 0, 0]],
        "layers": [
            {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, None, None, 3]}},
            {
                "class_name": "Conv2D",
                "name": "down",
                "config": {"kernel_size": [3, 3], "strides": [2, 2], "padding": "same"},
                "inbound_nodes": [[["x", 0, 0, {}]]],
            },
            {
                "class_name": "Conv2DTranspose",
                "name": "up",
                "config": {"kernel_size": [3, 3], "strides": [2, 2], "padding": "same"},
                "inbound_nodes": [[["down", 0, 0, {}]]],
            },
            {
                "class_name": "Concatenate",
                "name": "join",
                "config": {"axis": -1},
                "inbound_nodes": [[["x", 0, 0, {}], ["up", 0, 0, {}]]],
            },
        ],
    },
}


def test_keras_2_inbound_nodes_are_read_too():
    read = keras.network(json.dumps(KERAS2))
    assert [(node.name, node.kind, node.inputs) for node in read.nodes] == [
        ("x", "input", ()),
        ("down", "conv", ("x",)),
        ("up", "conv_transpose", ("down",)),
        ("join", "concat", ("x", "up")),
    ]
    assert solve.valid(read, 0).json() == {"modulus": 2, "residues": [0], "from": 2, "also": []}


def _with_layer(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    model = json.loads(json.dumps(KERAS2))
    layer = {
        "class_name": class_name,
        "name": "odd",
        "config": config,
        "inbound_nodes": [[["join", 0, 0, {}]]],
    }
    model["config"]["layers"].append(layer)
    return model


def _channels_first(model: dict[str, Any]) -> dict[str, Any]:
    model["config"]["layers"][3]["config"]["axis"] = 1  # the join then reads the channels
    return model


@pytest.mark.parametrize(
    ("source", "message", "code"),
    [
        (b"{not json", r"not a Keras model \(model.to_json\(\) or a .keras file\)", ExitCode.FAILURE),
        (b"PK\x03\x04 broken", r"not a Keras model", ExitCode.FAILURE),
        (json.dumps({"class_name": "Functional"}), r"no 'config' key", ExitCode.FAILURE),
        (
            _with_layer("Flatten", {}),
            r"layer 'odd' \(Flatten\): deconv does not know how it changes spatial sizes",
            ExitCode.USAGE,
        ),
        (
            _with_layer("Conv2D", {"kernel_size": [3, 3], "strides": [2, 2], "dilation_rate": [2, 2]}),
            r"layer 'odd' \(Conv2D\): keras: strides must be 1 when dilation_rate > 1",
            ExitCode.USAGE,
        ),
        (  # across axes too, as Keras itself checks (Keras 3.15), for the transposed layer as well
            _with_layer(
                "Conv2DTranspose", {"kernel_size": [3, 3], "strides": [2, 1], "dilation_rate": [1, 2]}
            ),
            r"layer 'odd' \(Conv2DTranspose\): keras: strides must be 1 when dilation_rate > 1 "
            r"\(got strides=2,1, dilation_rate=1,2\)",
            ExitCode.USAGE,
        ),
        (
            _with_layer("Conv1D", {"kernel_size": [3]}),
            r"layer 'odd' \(Conv1D\) is 1-D in a network with 2 spatial axes",
            ExitCode.USAGE,
        ),
        (_with_layer("Concatenate", {"axis": 1}), r"joins along axis 1, a spatial axis", ExitCode.USAGE),
        (
            _channels_first(_with_layer("Dense", {"units": 4, "data_format": "channels_first"})),
            r"layer 'odd' \(Dense\): deconv does not know how it changes spatial sizes",
            ExitCode.USAGE,
        ),
        (
            _with_layer(
                "Conv2D", {"kernel_size": [3, 3], "data_format": "channels_first", "padding": "same"}
            ),
            None,
            None,
        ),
    ],
)
def test_keras_models_deconv_cannot_read_give_one_line_errors(source, message, code):
    if message is None:  # channels_first: axis 1 is then the channels, the join reads fine
        model = json.loads(json.dumps(source))
        model["config"]["layers"][3]["config"]["axis"] = 1
        assert keras.network(model).nodes[3].kind == "concat"
        return
    with pytest.raises(DeconvError, match=message) as error:
        keras.network(source)
    assert error.value.exit_code == code
    assert "\n" not in str(error.value)


# ---- Keras: malformed and hostile files -------------------------------------------------------


def _sequential(*layer_list: dict[str, Any]) -> dict[str, Any]:
    first = {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, None, None, 1]}}
    return {"class_name": "Sequential", "config": {"layers": [first, *layer_list]}}


def _zero_padding(padding: Any) -> dict[str, Any]:
    return _sequential({"class_name": "ZeroPadding2D", "config": {"name": "z", "padding": padding}})


def _calling_c(inbound: Any) -> dict[str, Any]:
    """A Functional model whose conv 'c' is called with ``inbound``."""
    model = json.loads(json.dumps(KERAS2))
    model["config"]["layers"][1:] = [
        {"class_name": "Conv2D", "name": "c", "config": {"kernel_size": [3, 3]}, "inbound_nodes": inbound}
    ]
    return model


def _conv(**config: Any) -> dict[str, Any]:
    return _sequential({"class_name": "Conv2D", "config": {"name": "c", "kernel_size": [3, 3], **config}})


def _keras_zip(config: bytes) -> bytearray:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as written:
        written.writestr("config.json", config)
    return bytearray(archive.getvalue())


def _zip_with(patch: str) -> bytes:
    """A .keras file of a well-formed model, then damaged: its deflate data, its encryption flag
    or its compression method (99, AES, which zipfile does not read)."""
    data = _keras_zip(json.dumps(_conv()).encode())
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    if patch == "deflate":
        data[local + 30 + len("config.json")] = 0xFF  # a deflate block of the reserved type 3
    elif patch == "encrypted":
        data[local + 6] |= 1
        data[central + 8] |= 1
    else:
        data[local + 8 : local + 10] = data[central + 10 : central + 12] = struct.pack("<H", 99)
    return bytes(data)


HOSTILE_KERAS = [
    (
        '{"class_name": "Sequential", "config": null}',
        r"not a Keras model: its config has no list of 'layers' \(got null\)",
    ),
    (
        '{"class_name": "Sequential", "config": {"layers": [1]}}',
        r"not a Keras model: layer 0 is 1, not an object",
    ),
    (_zero_padding(None), r"layer 'z' \(ZeroPadding2D\): padding must be an integer \(got null\)"),
    (_zero_padding("abc"), r"layer 'z' \(ZeroPadding2D\): padding must be an integer \(got \"abc\"\)"),
    (_zero_padding([1.5, 2]), r"layer 'z' \(ZeroPadding2D\): padding must be an integer \(got 1.5\)"),
    (
        _zero_padding([[1], [2]]),
        r"layer 'z' \(ZeroPadding2D\): padding must be an int, or per axis an int or a \(begin, end\) "
        r"pair \(got \[\[1\], \[2\]\]\)",
    ),
    (
        {"class_name": "Functional", "config": {"input_layers": [["x", 0, 0]]}},
        r"not a Keras model: its config has no list of 'layers'",
    ),
    (_sequential({"config": {"name": "c"}}), r"not a Keras model: layer 1 \('c'\) has no 'class_name'"),
    (
        _sequential({"class_name": "Conv2D", "name": "c"}),
        r"not a Keras model: layer 1 \('c'\) has no 'config'",
    ),
    (
        _sequential({"class_name": "Conv2D", "config": {}}),
        r"not a Keras model: layer 1 \(Conv2D\) has no 'name'",
    ),
    (
        _sequential({"class_name": "Resizing", "config": {"name": "r", "width": 8}}),
        r"layer 'r' \(Resizing\) has no 'height'",
    ),
    (
        _sequential(
            {
                "class_name": "Conv2DTranspose",
                "config": {"name": "t", "kernel_size": 3, "output_padding": "x"},
            }
        ),
        r"layer 't' \(Conv2DTranspose\): output_padding must be an integer \(got \"x\"\)",
    ),
    (
        _calling_c([[["x"]]]),
        r"not a Keras model: layer 'c', inbound node 0: an input is not \[layer, node, tensor, kwargs\] "
        r"\(got \[\"x\"\]\)",
    ),
    (_calling_c("abc"), r"not a Keras model: layer 'c': its inbound_nodes is \"abc\", not a list"),
    (
        _calling_c([{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x"]}}]}]),
        r"not a Keras model: layer 'c', inbound node 0: its keras_history is not \[layer, node, tensor\]",
    ),
    (
        json.dumps(_conv()).replace('"kernel_size": [3, 3]', f'"kernel_size": [{"9" * 5000}, 3]'),
        r"layer 'c' \(Conv2D\): kernel_size must be an integer of at most 9 digits "
        r"\(got 9999999999\.\.\. \(5000 digits\)\)",
    ),
    (_conv(strides=[10**9, 1]), r"strides must be an integer of at most 9 digits \(got 1000000000\)"),
    ('{"config":' + "[" * 100_000 + "]" * 100_000 + "}", r"not a Keras model .*: maximum recursion depth"),
    (_zip_with("deflate"), r"not a Keras model .*: Error -3 while decompressing data: invalid block type"),
    (_zip_with("encrypted"), r"not a Keras model: its config.json is encrypted"),
    (_zip_with("method 99"), r"not a Keras model .*: That compression method is not supported"),
]


@pytest.mark.parametrize(("source", "message"), HOSTILE_KERAS)
def test_malformed_keras_models_give_one_line_runtime_errors(source, message):
    with pytest.raises(DeconvError, match=message) as error:
        keras.network(source if isinstance(source, str | bytes) else json.dumps(source))
    assert error.value.exit_code == ExitCode.FAILURE
    assert "\n" not in str(error.value)
    assert len(str(error.value)) < 300


def test_keras_parameters_of_nine_digits_are_still_read():
    read = keras.network(json.dumps(_conv(kernel_size=[999_999_999, 3], padding="same")))
    assert read.nodes[1].axes[0](5) == 5


def test_a_keras_structure_no_check_foresees_still_gives_one_line():
    nested: Any = {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(DeconvError, match=r"not a readable Keras model: RecursionError") as error:
        keras.network(_calling_c([{"args": [nested]}]))
    assert error.value.exit_code == ExitCode.FAILURE


def test_a_bug_in_deconvs_layer_arithmetic_stays_a_traceback(monkeypatch):
    def broken(*args: Any) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(layers, "_framework", broken)  # inside layers.conv
    with pytest.raises(TypeError, match="a bug"):
        keras.network(json.dumps(_conv()))


def test_a_keras_zip_bomb_is_refused_by_its_declared_size_without_inflating(monkeypatch):
    monkeypatch.setattr(keras_config, "MAX_CONFIG", 64 << 10)
    bomb = bytes(_keras_zip(b'{"config": "' + b" " * (8 << 20) + b'"}'))
    assert len(bomb) < 64 << 10
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(
            DeconvError, match=r"not a Keras model: its config.json inflates to \d+ bytes, past the 65536"
        ) as error:
            keras.network(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.value.exit_code == ExitCode.FAILURE
    assert peak < 1 << 20
    assert time.perf_counter() - started < 1


# ---- ONNX -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ONNX_FILES, ids=lambda p: p.stem)
def test_onnx_exports_of_the_golden_nets_match_onnx_runtime_and_torch(path):
    needs_onnx()
    read = onnx_reader.network(path.read_bytes())
    for axis, record in RECORDS[path.stem]["onnx"].items():
        agrees(read, record, int(axis), runtime=True)
    built = netspec.network(NETS[path.stem], "torch")
    for axis in RECORDS[path.stem]["torch"]:
        for h in range(1, 200):
            assert solve.works(read, int(axis), h) == (netspec.run(built, int(axis), h)[1] is None), h


@pytest.mark.parametrize("name", ["pix2pix", "pytorch_unet", "pytorch_unet_bilinear"])
def test_real_pytorch_unets_exported_to_onnx_match_torch_and_onnx_runtime(name):
    needs_onnx()
    read = onnx_reader.network((NETS_DIR / "models" / f"{name}.onnx").read_bytes())
    agrees(read, MODELS[name]["torch"]["0"], 0)
    agrees(read, MODELS[name]["onnx"]["0"], 0, runtime=True)


def test_pix2pix_takes_multiples_of_256_and_one_more():
    needs_onnx()
    read = onnx_reader.network((NETS_DIR / "models" / "pix2pix.onnx").read_bytes())
    assert solve.valid(read, 0).json() == {"modulus": 256, "residues": [0, 1], "from": 256, "also": []}


def test_pytorch_unet_pads_to_the_skip_so_every_size_from_16_works():
    needs_onnx()
    read = onnx_reader.network((NETS_DIR / "models" / "pytorch_unet.onnx").read_bytes())
    pads = [node for node in read.nodes if node.kind == "identity"]
    assert len(pads) == 4
    assert pads[0].params[0][1].startswith("to the size of down3/")
    assert solve.valid(read, 1).json() == {"modulus": 1, "residues": [0], "from": 16, "also": []}


def _model(nodes: list[Any], initializers: list[Any] = (), rank: int = 1) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, *(["n"] * rank)])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], list(initializers))
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


def _ints(name: str, values: list[int]) -> Any:
    from onnx import TensorProto, helper

    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


@pytest.mark.parametrize(
    ("axes", "scales", "sizes"),
    [  # (H, W) -> output for 5 x 7 and 4 x 9, as ONNX Runtime 1.32 gives them
        ([2, 3], [2.0, 1.5], [(10, 10), (8, 13)]),
        ([3], [0.5], [(5, 3), (4, 4)]),
        ([-1, -2], [3.0, 2.0], [(10, 21), (8, 27)]),
        ([1, 2, 3], [1.0, 2.0, 2.0], [(10, 14), (8, 18)]),
    ],
)
def test_opset_18_resize_scales_apply_to_the_axes_listed(axes, scales, sizes):
    needs_onnx()
    from onnx import TensorProto, helper

    values = helper.make_tensor("scales", TensorProto.FLOAT, [len(scales)], scales)
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode="nearest", axes=axes)
    network = onnx_reader.network(_model([node], [values], rank=2))
    for (h, w), size in zip([(5, 7), (4, 9)], sizes, strict=True):
        assert evaluate(network, (h, w)).layers[-1].sizes == size


@pytest.mark.parametrize(("mode", "smallest"), [("reflect", 3), ("edge", 1), ("constant", 1)])
def test_reflection_padding_takes_fewer_than_n_elements_a_side(mode, smallest):
    # ONNX Runtime 1.32 and torch 2.13 both run reflect pads (b, e) exactly when n > max(b, e)
    needs_onnx()
    from onnx import helper

    node = helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode=mode)
    network = onnx_reader.network(_model([node], [_ints("pads", [0, 0, 2, 0, 0, 1])]))
    assert [n for n in range(1, 8) if solve.works(network, 0, n)] == list(range(smallest, 8))
    assert solve.valid(network, 0).start == smallest


@pytest.mark.parametrize("cls", ["GlobalAveragePooling2D", "GlobalMaxPooling2D"])
def test_keras_global_pooling_leaves_1_on_every_spatial_axis(cls):
    # the auditor's Sequential (Conv2D k3 s2, MaxPooling2D 2, Conv2D k3, GlobalAveragePooling2D,
    # Dense) agreed with Keras 3.15 predict on 186 sizes
    model = _sequential(
        {"class_name": "Conv2D", "config": {"name": "c", "kernel_size": [3, 3], "strides": [2, 2]}},
        {"class_name": cls, "config": {"name": "g"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 3}},
    )
    network = keras.network(model)
    assert evaluate(network, (32, 20)).layers[-1].sizes == (1, 1)
    assert solve.valid(network, 0).start == 3  # the conv's kernel


@pytest.mark.parametrize(
    ("axes", "attributes", "sizes"),
    [
        ([2, 3], {}, (1, 1)),
        ([-1], {}, (9, 1)),
        (None, {}, (1, 1)),  # no axes: every axis
        (None, {"noop_with_empty_axes": 1}, (9, 7)),
        ([2, 3], {"keepdims": 0}, (1, 1)),  # the axes go; the layers after see them as 1
    ],
)
def test_onnx_reductions_leave_1_on_the_axes_they_reduce(axes, attributes, sizes):
    # the dynamo exporter's AdaptiveAvgPool2d(1) is ReduceMean over [-2, -1] (agreed with ONNX
    # Runtime on an exported ResNet and a squeeze-and-excitation block)
    needs_onnx()
    from onnx import helper

    inputs = ["x"] if axes is None else ["x", "axes"]
    node = helper.make_node("ReduceMean", inputs, ["y"], name="mean", **attributes)
    network = onnx_reader.network(_model([node], [] if axes is None else [_ints("axes", axes)], rank=2))
    assert evaluate(network, (9, 7)).layers[-1].sizes == sizes


def test_a_resize_to_constant_spatial_sizes_after_the_inputs_n_and_c_is_read():
    # torch's Upsample(size=(20, 30)) exports its sizes as Concat(Shape(x)[:2], [20, 30]); ONNX
    # Runtime 1.32 gives 20 x 30 at every input size
    needs_onnx()
    from onnx import helper

    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "two"], ["nc"]),
        helper.make_node("Concat", ["nc", "spatial"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="up", mode="nearest"),
    ]
    constants = [_ints("zero", [0]), _ints("two", [2]), _ints("spatial", [20, 30])]
    network = onnx_reader.network(_model(nodes, constants, rank=2))
    for size in [(1, 1), (7, 5), (64, 48)]:
        assert evaluate(network, size).layers[-1].sizes == (20, 30)


def test_depth_to_space_multiplies_every_spatial_axis_by_its_block():
    # torch's PixelShuffle(2) exports as DepthToSpace (agreed with ONNX Runtime 1.32 on a model
    # that adds it to an upsampled branch)
    needs_onnx()
    from onnx import helper

    node = helper.make_node("DepthToSpace", ["x"], ["y"], name="shuffle", blocksize=3)
    network = onnx_reader.network(_model([node], rank=2))
    assert evaluate(network, (5, 7)).layers[-1].sizes == (15, 21)


def test_a_resize_to_another_tensors_size_takes_that_size():
    # F.interpolate(low, size=x.shape[2:]) as torch.onnx.export writes it (opsets 17 and 18): an
    # FPN's and DeepLab's ASPP exports agreed with ONNX Runtime 1.32 on 246 sizes each
    needs_onnx()
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("MaxPool", ["x"], ["low"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "two"], ["h"], axis=0),
        helper.make_node("Gather", ["shape", "three"], ["w"], axis=0),
        helper.make_node("Unsqueeze", ["h", "zero"], ["h1"]),
        helper.make_node("Unsqueeze", ["w", "zero"], ["w1"]),
        helper.make_node("Concat", ["h1", "w1"], ["hw"], axis=0),
        helper.make_node("Cast", ["hw"], ["hw64"], to=TensorProto.INT64),
        helper.make_node("Shape", ["low"], ["low_shape"]),
        helper.make_node("Slice", ["low_shape", "zero", "two", "zero"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw64"], ["sizes"], axis=0),
        helper.make_node("Resize", ["low", "", "", "sizes"], ["up"], name="up", mode="nearest"),
        helper.make_node("Add", ["up", "x"], ["y"], name="join"),
    ]
    scalars = [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in (("two", 2), ("three", 3))]
    network = onnx_reader.network(_model(nodes, [*scalars, _ints("zero", [0])], rank=2))
    assert [solve.valid(network, axis).start for axis in (0, 1)] == [2, 2]  # the pool's window
    for size in [(7, 5), (64, 33)]:
        evaluation = evaluate(network, size)
        assert (evaluation.ok, evaluation.layers[-1].sizes) == (True, size)


def test_a_resize_to_a_size_formula_of_a_tensors_dims_follows_the_formula():
    # the dynamo exporter (torch.onnx.export's default in torch 2.13) writes a target size as
    # integer arithmetic on the input's dims; its FPN and ASPP exports agreed with ONNX Runtime 1.32
    # on 246 sizes each. Here ceil(H / 2) = (H + 1) // 2 meets a pool's floor(H / 2): even H only.
    needs_onnx()
    from onnx import TensorProto, helper

    nodes = [helper.make_node("MaxPool", ["x"], ["low"], kernel_shape=[2, 2], strides=[2, 2])]
    for axis, name in ((2, "h"), (3, "w")):
        nodes += [
            helper.make_node("Shape", ["x"], [f"{name}0"], start=axis, end=axis + 1),
            helper.make_node("Squeeze", [f"{name}0"], [f"{name}1"]),
            helper.make_node("Add", [f"{name}1", "one"], [f"{name}2"]),
            helper.make_node("Div", [f"{name}2", "two"], [f"{name}3"]),
            helper.make_node("Reshape", [f"{name}3", "flat"], [f"{name}4"]),
        ]
    nodes += [
        helper.make_node("Concat", ["nc", "h4", "w4"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["up"], name="up", mode="nearest"),
        helper.make_node("Add", ["up", "low"], ["y"], name="join"),
    ]
    scalars = [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in (("one", 1), ("two", 2))]
    constants = [*scalars, _ints("flat", [1]), _ints("nc", [1, 1])]
    network = onnx_reader.network(_model(nodes, constants, rank=2))
    assert valid_set.sentence(solve.valid(network, 0)) == "H = 2m for m >= 1 (2, 4, 6, ...)"
    assert [evaluate(network, size).ok for size in [(6, 8), (7, 8), (6, 9)]] == [True, False, False]


def test_onnx_pad_slice_resize_and_pool_attributes_are_read():
    needs_onnx()
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        helper.make_node("MaxPool", ["p"], ["m"], name="pool", kernel_shape=[3], strides=[2], ceil_mode=1),
        helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("Slice", ["r", "starts", "ends", "axes"], ["s"], name="crop"),
        helper.make_node("Resize", ["s", "", "scales"], ["y"], name="up", mode="nearest"),
    ]
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [3], [1.0, 1.0, 1.5])
    data = _model(
        nodes,
        [
            _ints("pads", [0, 0, 1, 0, 0, 2]),
            _ints("starts", [1]),
            _ints("ends", [-1]),
            _ints("axes", [2]),
            scales,
        ],
    )
    read = onnx_reader.network(data)
    assert [(node.name, node.kind) for node in read.nodes] == [
        ("x", "input"),
        ("pad", "pad"),
        ("pool", "max_pool"),
        ("crop", "crop"),
        ("up", "upsample"),
    ]
    # 10 -> pad 13 -> ceil pool 6 -> crop 4 -> x1.5 = 6
    assert netspec.run(read, 0, 10)[0] == {"x": 10, "pad": 13, "pool": 6, "crop": 4, "up": 6}


@pytest.mark.parametrize(
    ("nodes", "initializers", "message"),
    [
        (
            [("Slice", ["x", "starts", "ends", "axes"], {})],
            [("starts", [0]), ("ends", [8]), ("axes", [2])],
            r"slices 0:8 on axis 2: deconv reads slices that crop from both ends",
        ),
        (
            [("Shape", ["x"], {}), ("Pad", ["x", "o0"], {})],
            [],
            r"node 'n1' \(Pad\): pads is computed at run time from tensor shapes",
        ),
        ([("Flatten", ["x"], {})], [], r"node 'n0' \(Flatten\): deconv does not know how Flatten changes"),
        ([("Concat", ["x", "x"], {"axis": 2})], [], r"concatenates along axis 2, not the channels"),
        (
            [("Conv", ["x", "w"], {"kernel_shape": [3], "dilations": [2], "auto_pad": "SAME_UPPER"})],
            [("w", [1, 1, 1])],
            r"node 'n0' \(Conv\): onnx: dilations must be 1 with auto_pad SAME_\*",
        ),
    ],
)
def test_onnx_graphs_deconv_cannot_read_give_one_line_errors(nodes, initializers, message):
    needs_onnx()
    from onnx import helper

    made = []
    for index, (op, inputs, attributes) in enumerate(nodes):
        outputs = ["y" if index == len(nodes) - 1 else f"o{index}"]
        made.append(helper.make_node(op, inputs, outputs, name=f"n{index}", **attributes))
    with pytest.raises(DeconvError, match=message) as error:
        onnx_reader.network(_model(made, [_ints(name, values) for name, values in initializers]))
    assert "\n" not in str(error.value)


def test_onnx_reading_a_corrupt_file_is_a_runtime_failure():
    needs_onnx()
    with pytest.raises(DeconvError, match=r"not an ONNX model") as error:
        onnx_reader.network(b"\xff\xfe not a protobuf")
    assert error.value.exit_code == ExitCode.FAILURE


def test_without_the_onnx_package_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(
        DeconvError, match=r"needs the onnx package: pip install 'deconv-cli\[onnx\]'"
    ) as error:
        onnx_reader.network(b"")
    assert error.value.exit_code == ExitCode.FAILURE


# ---- ONNX: malformed and hostile graphs -------------------------------------------------------


def _resize_by(scale: float) -> bytes:
    from onnx import TensorProto, helper

    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1.0, 1.0, scale, 2.0])
    return _model([helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up")], [scales], rank=2)


def _upsample_by_nan() -> bytes:
    from onnx import helper

    node = helper.make_node("Upsample", ["x"], ["y"], name="up", scales=[1.0, 1.0, float("nan")])
    return _opset([node], [], 7)  # the opsets whose Upsample takes scales as an attribute


def _pad(pads: list[int], axes: list[int] | None = None) -> bytes:
    from onnx import helper

    inputs, initializers = ["x", "pads"], [_ints("pads", pads)]
    if axes is not None:
        inputs, initializers = [*inputs, "", "axes"], [*initializers, _ints("axes", axes)]
    return _model([helper.make_node("Pad", inputs, ["y"], name="pad1")], initializers, rank=2)


def _uneven_slice() -> bytes:
    from onnx import helper

    node = helper.make_node("Slice", ["x", "starts", "ends"], ["y"], name="crop")
    return _model([node], [_ints("starts", [1, 1]), _ints("ends", [-1])], rank=2)


def _resize_one_axis_to_four_sizes() -> bytes:
    from onnx import helper

    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="resize", axes=[2])
    return _model([node], [_ints("sizes", [1, 1, 8, 8])], rank=2)


def _short_output_shape() -> bytes:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 3], [1.0] * 9)
    node = helper.make_node(
        "ConvTranspose", ["x", "w"], ["y"], name="up", kernel_shape=[3, 3], strides=[2, 2], output_shape=[5]
    )
    return _model([node], [weight], rank=2)


def _auto_pad_not_utf8() -> bytes:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3], [1.0] * 3)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3], auto_pad=b"\xff")
    return _model([node], [weight])


HOSTILE_ONNX = [
    (
        lambda: _resize_by(float("nan")),
        r"node 'up' \(Resize\): scales must be finite numbers \(got \[1.0, 1.0, nan, 2.0\]\)",
    ),
    (
        lambda: _resize_by(float("inf")),
        r"node 'up' \(Resize\): scales must be finite numbers \(got \[1.0, 1.0, inf, 2.0\]\)",
    ),
    (_upsample_by_nan, r"node 'up' \(Upsample\): scales must be finite numbers \(got \[1.0, 1.0, nan\]\)"),
    (
        lambda: _pad([0, 0, 1]),
        r"node 'pad1' \(Pad\): pads has 3 values, expected 2 per axis of a rank-4 input \(8\)",
    ),
    (
        lambda: _pad([0] * 10),
        r"node 'pad1' \(Pad\): pads has 10 values, expected 2 per axis of a rank-4 input \(8\)",
    ),
    (
        lambda: _pad([0] * 8, [2, 3]),
        r"node 'pad1' \(Pad\): pads has 8 values, expected 2 per axis in axes \(4\)",
    ),
    (lambda: _pad([1, 1], [7]), r"node 'pad1' \(Pad\): pads on axis 7, outside a rank-4 input"),
    (
        _uneven_slice,
        r"node 'crop' \(Slice\): starts, ends must have one value per sliced axis \(got starts 2, ends 1\)",
    ),
    (_resize_one_axis_to_four_sizes, r"node 'resize' \(Resize\): sizes has 4 values for the 1 axes in axes"),
    (_short_output_shape, r"node 'up' \(ConvTranspose\): output_shape has 1 values for 2 spatial axes"),
    (_auto_pad_not_utf8, r"node 'conv' \(Conv\): attribute auto_pad is not UTF-8 text \(got b'\\xff'\)"),
]


@pytest.mark.parametrize(("build", "message"), HOSTILE_ONNX)
def test_malformed_onnx_graphs_give_one_line_runtime_errors(build, message):
    needs_onnx()
    with pytest.raises(DeconvError, match=message) as error:
        onnx_reader.network(build())
    assert error.value.exit_code == ExitCode.FAILURE
    assert "\n" not in str(error.value)


def test_an_onnx_structure_no_check_foresees_still_gives_one_line():
    needs_onnx()
    from onnx import helper

    nodes = [helper.make_node("Relu", ["x"], [], name="no_output")]
    with pytest.raises(
        DeconvError, match=r"not a readable ONNX model: IndexError: list index out of range"
    ) as error:
        onnx_reader.network(_model(nodes))
    assert error.value.exit_code == ExitCode.FAILURE


def test_a_bug_in_deconvs_layer_arithmetic_on_an_onnx_model_stays_a_traceback(monkeypatch):
    needs_onnx()
    from onnx import helper

    def broken(*args: Any) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(layers, "Term", broken)  # inside layers.pad
    with pytest.raises(TypeError, match="a bug"):
        onnx_reader.network(_model([helper.make_node("Pad", ["x", "pads"], ["y"])], [_ints("pads", [0] * 6)]))


def _constant_of_shape(shape: list[int], output: str) -> list[Any]:
    from onnx import TensorProto, helper

    zero = helper.make_tensor("zero", TensorProto.INT64, [1], [0])
    return [
        helper.make_node("ConstantOfShape", [f"{output}_shape"], [output], value=zero),
        _ints(f"{output}_shape", shape),
    ]


def test_a_constant_too_large_to_fold_is_not_computed_when_nothing_needs_it(monkeypatch):
    needs_onnx()
    import onnx.reference  # noqa: F401  (imported before memory is counted)
    from onnx import helper

    monkeypatch.setattr(onnx_checks, "FOLD_LIMIT", 1000)
    make, shape = _constant_of_shape([1000, 1000], "big")  # 8 MB of int64 once computed
    nodes = [
        make,
        helper.make_node("ReduceSum", ["big"], ["sum"], keepdims=0),
        helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2]),
    ]
    data = _model(nodes, [shape])
    tracemalloc.start()
    try:
        read = onnx_reader.network(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [node.kind for node in read.nodes] == ["input", "max_pool"]
    assert peak < 2 << 20


def test_a_constant_too_large_to_fold_that_deconv_needs_is_named(monkeypatch):
    needs_onnx()
    from onnx import helper

    monkeypatch.setattr(onnx_checks, "FOLD_LIMIT", 4)
    make, shape = _constant_of_shape([6], "pads")  # six zeros, past a limit of four
    nodes = [
        make,
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        helper.make_node("Concat", ["p", "x"], ["y"], name="join", axis=1),
    ]
    with pytest.raises(
        DeconvError,
        match=r"node 'pad' \(Pad\): pads comes from constants deconv does not compute \(an operator it "
        r"does not fold, a result of more than 4 elements, or data stored outside the .onnx file\)",
    ):
        onnx_reader.network(_model(nodes, [shape]))


@pytest.mark.parametrize("location", ["/dev/zero", "/etc/hostname", "weights.bin"])
def test_external_data_is_never_opened(tmp_path, monkeypatch, location):
    needs_onnx()
    import onnx
    from onnx import helper

    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(bytes(64))  # where onnx would look for a relative name
    pads = onnx.TensorProto(name="pads", data_type=onnx.TensorProto.INT64, dims=[4])
    pads.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        pads.external_data.add(key=key, value=value)
    opened = []
    monkeypatch.setattr("builtins.open", lambda *args, **kwargs: opened.append(args) or None)
    with pytest.raises(DeconvError, match=r"pads comes from .* or data stored outside the .onnx file"):
        onnx_reader.network(_model([helper.make_node("Pad", ["x", "pads"], ["y"], name="pad")], [pads]))
    assert opened == []


# ---- end to end: `deconv net MODEL` -----------------------------------------------------------

END_TO_END = [
    ("pix2pix.onnx", "pix2pix", "torch"),
    ("pytorch_unet.onnx", "pytorch_unet", "torch"),
    ("pytorch_unet_bilinear.onnx", "pytorch_unet_bilinear", "torch"),
    ("keras_io_unet.json", "keras_io_unet", "keras"),
    ("keras_io_unet.keras", "keras_io_unet", "keras"),
]


@pytest.mark.parametrize(("file", "model", "framework"), END_TO_END)
def test_deconv_net_on_real_models_gives_the_sizes_the_frameworks_run(cli_run, file, model, framework):
    if file.endswith(".onnx"):
        needs_onnx()
    from deconv_cli.core.net.valid import Valid

    path = str(NETS_DIR / "models" / file)
    code, out, err = cli_run("net", path, "--json")
    assert (code, err) == (0, "")
    valid = [Valid.from_json(axis) for axis in json.loads(out)["valid"]]
    record = MODELS[model][framework]["0"]
    labels = netspec.decode_labels(record["outcome"])
    assert [h for h in range(1, record["hmax"] + 1) if h in valid[0]] == [
        h for h, label in enumerate(labels, start=1) if not label
    ]
    outputs = netspec.decode(record["sizes"]["output"], record["hmax"])
    held = record["fixed"]
    for h in (1, 15, 16, 160, 255, 256, 257, 300):
        code, out, _ = cli_run("net", path, "--in", f"{h},{held}", "--json")
        assert code == (0 if not labels[h - 1] else 1), h
        if code == 0:
            assert json.loads(out)["layers"][-1]["sizes"][0] == outputs[h - 1], h


def _opset(nodes: list[Any], initializers: list[Any], opset: int) -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, "n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model.SerializeToString()


def _transposed_to_ten() -> bytes:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3], [1.0, 2.0, 3.0])
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2], output_shape=[10])
    return _opset([node], [weight], 17)


def test_onnx_conv_transpose_with_output_shape_is_that_size_once_the_input_reaches_it():
    needs_onnx()
    read = onnx_reader.network(_transposed_to_ten())
    # accepted while (n-1)*2 + 3 + (2 - 1) >= 10, the full result plus stride - 1
    assert [netspec.run(read, 0, n)[0].get("up") for n in range(1, 7)] == [None, None, None, 10, 10, 10]


def test_onnx_resize_to_sizes_and_opset_9_upsample_are_read():
    needs_onnx()
    from onnx import TensorProto, helper

    sizes = _ints("sizes", [1, 1, 24])
    resize = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], name="resize", mode="linear")
    assert netspec.run(onnx_reader.network(_opset([resize], [sizes], 13)), 0, 7)[0]["resize"] == 24
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [3], [1.0, 1.0, 3.0])
    upsample = helper.make_node("Upsample", ["x", "scales"], ["y"], name="up")
    assert netspec.run(onnx_reader.network(_opset([upsample], [scales], 9)), 0, 7)[0]["up"] == 21
    pad = helper.make_node("Pad", ["x"], ["y"], name="pad", pads=[0, 0, 2, 0, 0, -1])
    assert netspec.run(onnx_reader.network(_opset([pad], [], 2)), 0, 7)[0]["pad"] == 8


@pytest.mark.onnx
def test_live_onnx_runtime_runs_output_shape_where_the_reader_says():
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    session = ort.InferenceSession(_transposed_to_ten(), providers=["CPUExecutionProvider"])
    read = onnx_reader.network(_transposed_to_ten())
    for n in range(1, 12):
        try:
            got = session.run(None, {"x": np.zeros((1, 1, n), np.float32)})[0].shape[2]
        except Exception:  # ONNX Runtime's refusal
            got = None
        assert got == netspec.run(read, 0, n)[0].get("up"), n
