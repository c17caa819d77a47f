"""The model: its declared contract (metadata.json), and the two runtimes that serve it.

A model folder holds `metadata.json` and the model itself: `model.tflite` for the LiteRT runtime,
`model.keras` for the TensorFlow runtime. The metadata declares the classes in output order, the
input size and how pixels are normalised, so nothing about the model is guessed here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

METADATA = "metadata.json"
TFLITE = "model.tflite"
KERAS = "model.keras"
INPUT_SHAPE = (224, 224, 3)
RUNTIMES = ("litert", "tensorflow")

# Per-channel transforms from uint8 RGB to what the network was trained on.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
NORMALIZATIONS = ("none", "unit", "symmetric", "caffe")


class ModelContractError(RuntimeError):
    """The model does not match what the function was configured for; the message says how."""


@dataclass(frozen=True)
class ModelMetadata:
    classes: tuple[str, ...]
    normalization: str
    version: str
    input_shape: tuple[int, int, int] = INPUT_SHAPE

    @classmethod
    def load(cls, model_dir: Path) -> ModelMetadata:
        path = model_dir / METADATA
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelContractError(
                f"{path} is missing: a model folder declares its classes and normalisation there"
            ) from None
        except json.JSONDecodeError as err:
            raise ModelContractError(f"{path} is not valid JSON: {err.msg}") from None
        classes = raw.get("classes")
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
            raise ModelContractError(f"{path}: 'classes' must be a non-empty list of class names")
        normalization = raw.get("normalization")
        if normalization not in NORMALIZATIONS:
            raise ModelContractError(f"{path}: 'normalization' must be one of {', '.join(NORMALIZATIONS)}")
        shape = tuple(raw.get("input_shape", INPUT_SHAPE))
        if shape != INPUT_SHAPE:
            raise ModelContractError(f"{path}: input_shape must be {list(INPUT_SHAPE)}, got {list(shape)}")
        return cls(tuple(classes), normalization, str(raw.get("version", "unversioned")))


def normalize(batch: np.ndarray, normalization: str) -> np.ndarray:
    """uint8 RGB (N, H, W, 3) -> float32 input as the model expects."""
    x = batch.astype(np.float32)
    if normalization == "unit":
        return x / 255.0
    if normalization == "symmetric":
        return x / 127.5 - 1.0
    if normalization == "caffe":
        return x[..., ::-1] - _CAFFE_MEAN_BGR
    return x


class Classifier(Protocol):
    metadata: ModelMetadata

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """uint8 RGB (N, 224, 224, 3) -> probabilities (N, classes)."""
        ...


def _check_shapes(
    input_shape: Sequence[int | None], output_shape: Sequence[int | None], metadata: ModelMetadata, what: str
) -> None:
    if tuple(input_shape[1:]) != INPUT_SHAPE:
        raise ModelContractError(f"{what}: input must be (batch, 224, 224, 3), got {tuple(input_shape)}")
    if output_shape[-1] != len(metadata.classes):
        raise ModelContractError(
            f"{what}: output has {output_shape[-1]} values but metadata.json names {len(metadata.classes)} classes"
        )


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LiteRTClassifier:
    """A LiteRT (TensorFlow Lite) flatbuffer on the LiteRT interpreter."""

    def __init__(self, model_dir: Path, metadata: ModelMetadata, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        path = model_dir / TFLITE
        if not path.is_file():
            raise ModelContractError(f"{path} is missing: the litert runtime needs a converted model")
        self.metadata = metadata
        # The interpreter runs on one thread unless told otherwise; use every CPU the function has
        # (Lambda gives about one vCPU per 1769 MB, so ~4 at the default 7 GB).
        self._interpreter = Interpreter(model_path=str(path), num_threads=threads or available_cpus())
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        signature = list(self._input.get("shape_signature", self._input["shape"]))
        _check_shapes(signature, list(self._output["shape"]), metadata, str(path))
        # A model exported with a fixed batch of 1 is served one image at a time.
        self._fixed_batch = int(signature[0]) if signature[0] not in (-1, None) else None
        self._batch = 0
        self._resize(self._fixed_batch or 1)

    def _resize(self, n: int) -> None:
        if n != self._batch:
            if self._fixed_batch is None:
                self._interpreter.resize_tensor_input(self._input["index"], [n, *INPUT_SHAPE])
            self._interpreter.allocate_tensors()
            self._batch = n

    def _run(self, x: np.ndarray) -> np.ndarray:
        self._resize(len(x))
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output["index"]))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = normalize(batch, self.metadata.normalization).astype(self._input["dtype"], copy=False)
        if self._fixed_batch is not None:
            return np.concatenate([self._run(x[i : i + 1]) for i in range(len(x))])
        return self._run(x)


class TensorFlowClassifier:
    """The Keras model on TensorFlow."""

    def __init__(self, model_dir: Path, metadata: ModelMetadata) -> None:
        import keras

        path = model_dir / KERAS
        if not path.is_file():
            raise ModelContractError(f"{path} is missing: the tensorflow runtime needs the Keras model")
        self.metadata = metadata
        self._model = keras.models.load_model(path, compile=False)
        _check_shapes(list(self._model.input_shape), list(self._model.output_shape), metadata, str(path))

    def predict(self, batch: np.ndarray) -> np.ndarray:
        x = normalize(batch, self.metadata.normalization)
        # Calling the model directly avoids predict()'s per-call dataset setup on small batches.
        return np.asarray(self._model(x, training=False))


def load_classifier(model_dir: str | Path, runtime: str, class_names: Sequence[str]) -> Classifier:
    """Load and validate the model once; any mismatch fails the cold start with a clear message."""
    directory = Path(model_dir)
    metadata = ModelMetadata.load(directory)
    if tuple(class_names) != metadata.classes:
        raise ModelContractError(
            f"configured classes {', '.join(class_names)} differ from the model's "
            f"{', '.join(metadata.classes)} (metadata.json, in output order)"
        )
    if runtime == "litert":
        return LiteRTClassifier(directory, metadata)
    if runtime == "tensorflow":
        return TensorFlowClassifier(directory, metadata)
    raise ModelContractError(f"unknown inference runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
