"""dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``)
converted to ONNX at run time, so that the same weights run through
onnxruntime (several times faster on CPU than dlib-bin's generic build).

The .dat file is dlib's ``serialize(anet_type)`` output (the network of dlib's
``dnn_face_recognition_ex.cpp``). Its layout, as read by :func:`parse_dlib_net`:

* Integers: one header byte (bit 7: negative, low 4 bits: byte count), then
  that many little-endian bytes. Strings: length (an integer), then bytes.
  ``bool``: the character ``'0'`` or ``'1'``. ``float``/``double``: dlib's
  portable encoding, an integer mantissa then an integer exponent (value =
  mantissa * 2**exponent).
* Tensors (version 2): version, then num_samples, k, nr, nc, then the values as
  little-endian IEEE float32. ``alias_tensor`` (version 1): only the four dims.
* ``add_loss_layer``: version 1, the loss details (``loss_metric_2``: margin,
  distance threshold), then the subnetwork. Every ``add_layer`` writes its
  version (2), then its subnetwork, then its own layer details and state, so
  the file holds the chain of versions from the outermost layer inwards, and
  then the layers' contents from the input layer outwards. ``add_tag_layer``
  and ``add_skip_layer`` write only a version (1): which is which (and their
  tag ids) is fixed by the network type, which :func:`anet_ops` spells out and
  the parser checks position by position against the file.
* The innermost ``add_layer`` (version 3) holds the input layer
  (``input_rgb_image_sized``: mean red/green/blue and the 150x150 size)
  and the first convolution.

Layer semantics (dlib): ``con_`` is a plain convolution (filters OIHW, then
biases), ``affine_`` (batch norm folded at training end) is
``x * gamma[c] + beta[c]``, ``add_prev_`` adds the output of the nearest tag
below it, zero-padding whichever input is smaller in channels, rows or
columns (this network has one such place: 3x3 + 4x4 at the 256-channel
downsampling), ``avg_pool_`` with a 0x0 window averages over everything, and
``fc_`` (no bias) multiplies the flattened input by its (inputs x outputs)
weight matrix. The input layer maps a pixel to ``(value - mean) / 256``.

The ONNX graph takes ``chips``: uint8 (N, 150, 150, 3) RGB aligned face chips
(``dlib.get_face_chip(image, shape, size=150, padding=0.25)``) and returns
``descriptors``: float32 (N, 128), the raw (not normalised) descriptors that
``face_recognition_model_v1.compute_face_descriptor`` returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CONVERTER_VERSION = 1
CHIP_SIZE = 150
_WEIGHTS_NAME = "dlib_face_recognition_resnet_model_v1.dat"


class DlibFormatError(ValueError):
    """The file is not the dlib network this converter knows."""


# -- reading dlib's serialize() format -----------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DlibFormatError(f"unexpected end of file at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def integer(self) -> int:
        head = self._take(1)[0]
        size = head & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer header {head:#x} at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if head & 0x80 else value

    def string(self) -> str:
        return self._take(self.integer()).decode("latin-1")

    def boolean(self) -> bool:
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {ch!r} at byte {self.pos - 1}")
        return ch == b"1"

    def real(self) -> float:
        mantissa = self.integer()
        exponent = self.integer()
        if exponent >= 32000:  # dlib's markers for inf/nan: never in weights
            raise DlibFormatError(f"non-finite float at byte {self.pos}")
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} (expected 2) at byte {self.pos}")
        dims = tuple(self.integer() for _ in range(4))
        count = int(np.prod(dims))
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(dims)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.integer()
        if version != 1:
            raise DlibFormatError(f"alias_tensor version {version} at byte {self.pos}")
        return tuple(self.integer() for _ in range(4))  # type: ignore[return-value]

    def version(self, expected: int, what: str) -> None:
        got = self.integer()
        if got != expected:
            raise DlibFormatError(f"{what}: version {got}, expected {expected}")


@dataclass
class Layer:
    """One computational layer as stored by dlib (innermost first)."""

    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    attrs: dict = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class ParsedNet:
    mean_rgb: tuple[float, float, float]
    size: tuple[int, int]
    ops: list[tuple]  # anet_ops() order: ("layer", Layer) / ("tag", id) / ("skip", id)
    loss: dict


def _layer_details(r: _Reader) -> Layer:
    name = r.string()
    if name == "con_4":
        params = r.tensor().reshape(-1)
        num_filters, nr, nc, stride_y, stride_x, pad_y, pad_x = (r.integer() for _ in range(7))
        filters = r.alias_tensor()
        biases = r.alias_tensor()
        for _ in range(4):  # learning rate / weight decay multipliers
            r.real()
        n_filters = int(np.prod(filters))
        if filters[0] != num_filters or biases[1] != num_filters:
            raise DlibFormatError("con_4: filter/bias shapes disagree")
        if params.size != n_filters + num_filters:
            raise DlibFormatError("con_4: parameter count does not match its shapes")
        return Layer(
            "con",
            {"stride": (stride_y, stride_x), "pad": (pad_y, pad_x), "kernel": (nr, nc)},
            {
                "W": params[:n_filters].reshape(filters),
                "B": params[n_filters:].copy(),
            },
        )
    if name == "affine_":
        params = r.tensor().reshape(-1)
        gamma = r.alias_tensor()
        beta = r.alias_tensor()
        mode = r.integer()
        n = int(np.prod(gamma))
        if mode != 0 or int(np.prod(beta)) != n or params.size != 2 * n:
            raise DlibFormatError("affine_: only CONV_MODE with gamma/beta per channel is known")
        return Layer("affine", {}, {"gamma": params[:n].copy(), "beta": params[n:].copy()})
    if name in ("relu_", "add_prev_"):
        return Layer(name[:-1])
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, stride_y, stride_x, pad_y, pad_x = (r.integer() for _ in range(6))
        return Layer(
            name[:-2],
            {"kernel": (nr, nc), "stride": (stride_y, stride_x), "pad": (pad_y, pad_x)},
        )
    if name == "fc_2":
        num_outputs = r.integer()
        num_inputs = r.integer()
        params = r.tensor()
        weights = r.alias_tensor()
        biases = r.alias_tensor()
        has_bias = r.integer()  # bias_mode: 0 = FC_HAS_BIAS, 1 = FC_NO_BIAS
        for _ in range(4):
            r.real()
        if has_bias != 1 or any(biases):
            raise DlibFormatError("fc_2: only the no-bias fc layer is known")
        if weights[:2] != (num_inputs, num_outputs):
            raise DlibFormatError("fc_2: weight shape does not match inputs/outputs")
        return Layer("fc", {}, {"W": params.reshape(num_inputs, num_outputs).copy()})
    raise DlibFormatError(f"unknown layer type {name!r}")


def _layer_state(r: _Reader, *, input_layer: bool) -> None:
    """Skip what add_layer stores after the details: three flags and empty
    run-time tensors (x_grad, cached_output, params_grad / grad_final)."""
    for _ in range(3):
        r.boolean()
    for _ in range(3):
        r.tensor()
    if input_layer:
        r.integer()  # _sample_expansion_factor


def anet_ops() -> list[tuple]:
    """The layers of dlib's ``anet_type`` innermost first, as
    ("layer", kind, extra) / ("tag", id) / ("skip", id) items."""
    ops: list[tuple] = [
        ("layer", "con", 32),
        ("layer", "affine", None),
        ("layer", "relu", None),
        ("layer", "max_pool", None),
    ]

    def block(n: int) -> list[tuple]:
        # BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>
        return [
            ("layer", "con", n),
            ("layer", "affine", None),
            ("layer", "relu", None),
            ("layer", "con", n),
            ("layer", "affine", None),
        ]

    def ares(n: int) -> list[tuple]:
        # relu<add_prev1<block<N,BN,1,tag1<SUBNET>>>>
        return [("tag", 1), *block(n), ("layer", "add_prev", 1), ("layer", "relu", None)]

    def ares_down(n: int) -> list[tuple]:
        # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,BN,2,tag1<SUBNET>>>>>>>
        return [
            ("tag", 1),
            *block(n),
            ("tag", 2),
            ("skip", 1),
            ("layer", "avg_pool", None),
            ("layer", "add_prev", 2),
            ("layer", "relu", None),
        ]

    levels = [  # alevel4 .. alevel0, innermost first
        [ares(32)] * 3,
        [ares_down(64)] + [ares(64)] * 3,
        [ares_down(128)] + [ares(128)] * 2,
        [ares_down(256)] + [ares(256)] * 2,
        [ares_down(256)],
    ]
    for level in levels:
        for group in level:
            ops.extend(group)
    ops += [("layer", "avg_pool", None), ("layer", "fc", 128)]
    return ops


def parse_dlib_net(path: str | os.PathLike) -> ParsedNet:
    """Read dlib_face_recognition_resnet_model_v1.dat (see the module doc)."""
    r = _Reader(Path(path).read_bytes())
    r.version(1, "add_loss_layer")
    loss_name = r.string()
    if loss_name != "loss_metric_2":
        raise DlibFormatError(f"loss layer {loss_name!r}, expected loss_metric_2")
    loss = {"margin": r.real(), "distance_threshold": r.real()}

    expected = anet_ops()
    # Versions, outermost first: 2 = add_layer, 1 = tag/skip, 3 = the input add_layer.
    chain = []
    while True:
        v = r.integer()
        chain.append(v)
        if v == 3:
            break
        if v not in (1, 2) or len(chain) > len(expected):
            raise DlibFormatError(f"unexpected layer version {v} in the layer chain")
    inner_first = list(reversed(chain[:-1]))  # after the input add_layer
    # The first op of anet_ops() (the first con) lives in the input add_layer.
    if len(inner_first) != len(expected) - 1:
        raise DlibFormatError(
            f"{len(inner_first) + 1} layers in the file, anet_type has {len(expected)}"
        )
    for v, op in zip(inner_first, expected[1:], strict=True):
        if (v == 2) != (op[0] == "layer"):
            raise DlibFormatError("tag/skip layers are not where anet_type has them")

    if r.string() != "input_rgb_image_sized":
        raise DlibFormatError("input layer is not input_rgb_image_sized")
    mean_rgb = (r.real(), r.real(), r.real())
    size = (r.integer(), r.integer())
    if size != (CHIP_SIZE, CHIP_SIZE):
        raise DlibFormatError(f"input size {size}, expected 150x150")

    ops: list[tuple] = []
    for i, op in enumerate(expected):
        if op[0] != "layer":
            ops.append(op)
            continue
        layer = _layer_details(r)
        _layer_state(r, input_layer=(i == 0))
        if layer.kind != op[1]:
            raise DlibFormatError(f"layer {i}: {layer.kind} where anet_type has {op[1]}")
        if layer.kind == "con" and layer.weights["W"].shape[0] != op[2]:
            raise DlibFormatError(f"layer {i}: con with {layer.weights['W'].shape[0]} filters")
        if layer.kind == "add_prev":
            layer.attrs["tag"] = op[2]
        ops.append(("layer", layer))
    if r.pos != len(r.data):
        raise DlibFormatError(f"{len(r.data) - r.pos} bytes left after the network")
    return ParsedNet(mean_rgb=mean_rgb, size=size, ops=ops, loss=loss)


# -- building the ONNX graph ---------------------------------------------------


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    # dlib (and ONNX, floor mode): 1 + (in + 2*pad - window) / stride
    return 1 + (size + 2 * pad - kernel) // stride


def build_onnx(net: ParsedNet, *, source_sha256: str = ""):
    """ONNX ModelProto computing dlib's descriptors for uint8 NHWC chips."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    inits = []
    counter = iter(range(1_000_000))

    def const(name: str, array: np.ndarray) -> str:
        full = f"{name}_{next(counter)}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), full))
        return full

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    # Input layer: (pixel - mean) / 256, NHWC uint8 -> NCHW float.
    x = node("Cast", ["chips"], to=TensorProto.FLOAT)
    x = node("Sub", [x, const("mean_rgb", np.array(net.mean_rgb, np.float32))])
    x = node("Mul", [x, const("inv256", np.array(1.0 / 256.0, np.float32))])
    x = node("Transpose", [x], perm=[0, 3, 1, 2])
    shape = (3, *net.size)  # (C, H, W) of x

    tags: dict[int, tuple[str, tuple]] = {}
    ops = net.ops
    i = 0
    while i < len(ops):
        op = ops[i]
        if op[0] == "tag":
            tags[op[1]] = (x, shape)
            i += 1
            continue
        if op[0] == "skip":
            x, shape = tags[op[1]]
            i += 1
            continue
        layer: Layer = op[1]
        if layer.kind == "con":
            w, b = layer.weights["W"], layer.weights["B"]
            nxt = ops[i + 1] if i + 1 < len(ops) else None
            if nxt and nxt[0] == "layer" and nxt[1].kind == "affine":
                # Fold the affine layer (per output channel) into the convolution.
                g, beta = nxt[1].weights["gamma"], nxt[1].weights["beta"]
                w = (w.astype(np.float64) * g[:, None, None, None]).astype(np.float32)
                b = (b.astype(np.float64) * g + beta).astype(np.float32)
                i += 1
            kh, kw = layer.attrs["kernel"]
            sy, sx = layer.attrs["stride"]
            py, px = layer.attrs["pad"]
            if w.shape[1] != shape[0]:
                raise DlibFormatError(f"con expects {w.shape[1]} channels, gets {shape[0]}")
            x = node(
                "Conv",
                [x, const("W", w), const("B", b)],
                kernel_shape=[kh, kw],
                strides=[sy, sx],
                pads=[py, px, py, px],
            )
            shape = (
                w.shape[0],
                _out_size(shape[1], kh, sy, py),
                _out_size(shape[2], kw, sx, px),
            )
        elif layer.kind == "affine":
            c = shape[0]
            g = layer.weights["gamma"].reshape(1, c, 1, 1)
            beta = layer.weights["beta"].reshape(1, c, 1, 1)
            x = node("Add", [node("Mul", [x, const("gamma", g)]), const("beta", beta)])
        elif layer.kind == "relu":
            x = node("Relu", [x])
        elif layer.kind in ("max_pool", "avg_pool"):
            kh, kw = layer.attrs["kernel"]
            sy, sx = layer.attrs["stride"]
            py, px = layer.attrs["pad"]
            if layer.kind == "avg_pool" and kh == 0 and kw == 0:
                x = node("GlobalAveragePool", [x])
                shape = (shape[0], 1, 1)
            else:
                if layer.kind == "avg_pool" and (py or px):
                    raise DlibFormatError("padded average pooling is not supported")
                x = node(
                    "MaxPool" if layer.kind == "max_pool" else "AveragePool",
                    [x],
                    kernel_shape=[kh, kw],
                    strides=[sy, sx],
                    pads=[py, px, py, px],
                )
                shape = (
                    shape[0],
                    _out_size(shape[1], kh, sy, py),
                    _out_size(shape[2], kw, sx, px),
                )
        elif layer.kind == "add_prev":
            other, other_shape = tags[layer.attrs["tag"]]
            out_shape = tuple(max(a, b) for a, b in zip(shape, other_shape, strict=True))

            def padded(name: str, s: tuple, out_shape=out_shape) -> str:
                if s == out_shape:
                    return name
                pads = [
                    0,
                    0,
                    0,
                    0,
                    0,
                    out_shape[0] - s[0],
                    out_shape[1] - s[1],
                    out_shape[2] - s[2],
                ]
                return node("Pad", [name, const("pads", np.array(pads, np.int64))], mode="constant")

            x = node("Add", [padded(x, shape), padded(other, other_shape)])
            shape = out_shape
        elif layer.kind == "fc":
            w = layer.weights["W"]
            if w.shape[0] != int(np.prod(shape)):
                raise DlibFormatError("fc input size does not match")
            x = node("Flatten", [x], axis=1)
            x = node("MatMul", [x, const("fc_W", w)])
            shape = (w.shape[1],)
        else:  # pragma: no cover - _layer_details only returns the kinds above
            raise DlibFormatError(f"no ONNX mapping for {layer.kind}")
        i += 1
    nodes[-1].output[0] = "descriptors"

    graph = helper.make_graph(
        nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["N", *net.size, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["N", shape[0]])],
        inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="facet.dlib_resnet_onnx",
        producer_version=str(CONVERTER_VERSION),
        doc_string="dlib ResNet face descriptor v1 (Davis King, CC0), converted from dlib's .dat",
    )
    model.ir_version = 8  # readable by any onnxruntime >= 1.14
    helper.set_model_props(
        model,
        {
            "source_file": _WEIGHTS_NAME,
            "source_sha256": source_sha256,
            "converter_version": str(CONVERTER_VERSION),
        },
    )
    onnx.checker.check_model(model)
    return model


# -- cache ---------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ConvertedModel:
    onnx_path: Path
    onnx_sha256: str
    source_sha256: str


def ensure_onnx(
    dat_path: str | os.PathLike, cache_dir: str | os.PathLike, *, source_sha256: str | None = None
) -> ConvertedModel:
    """The ONNX conversion of ``dat_path`` in ``cache_dir``, built if missing.

    The file name carries the .dat's sha256; a JSON sidecar records the .dat
    sha256, the converter version and the ONNX file's own sha256, and both are
    checked on every call (a stale, edited or truncated file is rebuilt), and
    the ONNX model's metadata carries the .dat sha256 too."""
    dat_path = Path(dat_path)
    cache_dir = Path(cache_dir)
    src = source_sha256 or _sha256(dat_path)
    stem = f"{dat_path.stem}.{src[:16]}.v{CONVERTER_VERSION}"
    onnx_path = cache_dir / f"{stem}.onnx"
    meta_path = cache_dir / f"{stem}.json"
    if onnx_path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if (
            meta.get("source_sha256") == src
            and meta.get("converter_version") == CONVERTER_VERSION
            and meta.get("onnx_sha256") == _sha256(onnx_path)
        ):
            return ConvertedModel(onnx_path, meta["onnx_sha256"], src)

    model = build_onnx(parse_dlib_net(dat_path), source_sha256=src)
    cache_dir.mkdir(parents=True, exist_ok=True)
    payload = model.SerializeToString()
    onnx_sha = hashlib.sha256(payload).hexdigest()
    for path, content in (
        (onnx_path, payload),
        (
            meta_path,
            json.dumps(
                {
                    "source_file": dat_path.name,
                    "source_sha256": src,
                    "converter_version": CONVERTER_VERSION,
                    "onnx_sha256": onnx_sha,
                },
                indent=2,
            ).encode(),
        ),
    ):
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; web and worker users share the cache
        os.replace(tmp, path)  # atomic: concurrent workers never read half a file
    return ConvertedModel(onnx_path, onnx_sha, src)


class DlibResnetOnnx:
    """onnxruntime session over the converted network."""

    def __init__(
        self,
        dat_path: str | os.PathLike,
        cache_dir: str | os.PathLike,
        *,
        intra_op_threads: int = 1,
        source_sha256: str | None = None,
    ) -> None:
        import onnxruntime as ort

        self.model = ensure_onnx(dat_path, cache_dir, source_sha256=source_sha256)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(intra_op_threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(self.model.onnx_path), options, providers=["CPUExecutionProvider"]
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("source_sha256") != self.model.source_sha256:
            raise DlibFormatError("converted model does not carry the .dat file's sha256")

    def compute(self, chips: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Raw (unnormalised) 128-D descriptors, one per 150x150 RGB chip."""
        if len(chips) == 0:
            return np.zeros((0, 128), np.float32)
        batch = np.ascontiguousarray(np.asarray(chips, dtype=np.uint8))
        if batch.ndim != 4 or batch.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chips must be (N, 150, 150, 3) uint8, got {batch.shape}")
        return self.session.run(["descriptors"], {"chips": batch})[0]
