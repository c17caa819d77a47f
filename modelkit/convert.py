"""Convert a model folder's Keras model to a LiteRT flatbuffer, and prove the two agree.

Run at image build (and by the local cloud): loads `model.keras`, checks the contract against
`metadata.json`, converts, then runs both on a calibration set and fails unless top-1 agrees on
every image and probabilities differ by at most `tolerance`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_SHAPE = (224, 224, 3)
# How far the converted model may drift from Keras on the calibration set, by precision. Top-1
# must agree on every image whatever the precision. int8 weights move probabilities by an amount
# that depends on the model (the demo ResNet-50: up to ~0.21), so that gate is looser: opting in
# to dynamic-int8 trades probability fidelity for speed, never the predicted class.
TOLERANCE = {"float32": 1e-4, "dynamic-int8": 0.25}


class ConversionError(RuntimeError):
    pass


@dataclass(frozen=True)
class Parity:
    images: int
    top1_agreement: float
    max_abs_diff: float


def calibration_set(count: int = 16, seed: int = 0) -> np.ndarray:
    """uint8 RGB images with structure (gradients, blocks, noise), not just noise."""
    rng = np.random.default_rng(seed)
    h, w, _ = INPUT_SHAPE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for i in range(count):
        base = np.stack([(xx * (i + 1)) % 256, (yy * (i + 2)) % 256, ((xx + yy) * (i + 3)) % 256], axis=-1)
        noise = rng.normal(0, 20 + 5 * i, size=INPUT_SHAPE)
        images.append(np.clip(base + noise, 0, 255))
    return np.stack(images).astype(np.uint8)


def _function_code_on_path() -> None:
    """Build-time checks use the function's own code (lambda_src/classifier), as the image lays it out."""
    function_code = str(Path(__file__).resolve().parent.parent / "lambda_src")
    if function_code not in sys.path:
        sys.path.insert(0, function_code)


def normalize(batch: np.ndarray, normalization: str) -> np.ndarray:
    """The function's own normalisation, so build-time checks feed the model what the function will."""
    _function_code_on_path()
    from classifier.model import normalize as function_normalize

    return function_normalize(batch, normalization)


def convert(model_dir: Path, out_dir: Path, precision: str = "float32", tolerance: float | None = None) -> Parity:
    import keras
    import tensorflow as tf

    if precision not in TOLERANCE:
        raise ConversionError(f"precision must be one of {', '.join(TOLERANCE)}, got {precision!r}")
    tolerance = TOLERANCE[precision] if tolerance is None else tolerance
    metadata = json.loads((model_dir / "metadata.json").read_text())
    model = keras.models.load_model(model_dir / "model.keras", compile=False)
    if tuple(model.input_shape[1:]) != INPUT_SHAPE:
        raise ConversionError(f"model input is {model.input_shape}, the contract is (batch, 224, 224, 3)")
    if model.output_shape[-1] != len(metadata["classes"]):
        raise ConversionError(
            f"model has {model.output_shape[-1]} outputs, metadata names {len(metadata['classes'])} classes"
        )

    with tempfile.TemporaryDirectory() as scratch:
        # Keras 3 -> SavedModel with a dynamic batch dimension -> LiteRT flatbuffer.
        saved = Path(scratch) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if precision == "dynamic-int8":
            # Weights stored as int8, activations quantised on the fly (XNNPACK's QD8 kernels).
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        try:
            flatbuffer = converter.convert()
        except Exception as err:
            raise ConversionError(f"LiteRT conversion failed: {err}; use inferenceRuntime: tensorflow") from err

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "model.tflite").write_bytes(flatbuffer)
    if out_dir.resolve() != model_dir.resolve():
        shutil.copy(model_dir / "metadata.json", out_dir / "metadata.json")
    if precision != "float32":
        # Records name the model that made them: a quantised model is a different model.
        converted = {
            **metadata,
            "version": f"{metadata.get('version', 'unversioned')}+{precision}",
            "precision": precision,
        }
        (out_dir / "metadata.json").write_text(json.dumps(converted, indent=2))

    parity = check_parity(model, out_dir)
    if parity.top1_agreement < 1.0 or parity.max_abs_diff > tolerance:
        raise ConversionError(
            f"LiteRT model disagrees with Keras: top-1 agreement {parity.top1_agreement:.1%}, max probability "
            f"difference {parity.max_abs_diff:.2e} (allowed {tolerance:.0e}); use inferenceRuntime: tensorflow"
        )
    return parity


def check_parity(model: object, model_dir: Path) -> Parity:
    """Keras against the converted model as the function serves it (LiteRTClassifier: the same
    normalisation, batching and fixed-batch handling)."""
    _function_code_on_path()
    from classifier.model import LiteRTClassifier, ModelMetadata

    metadata = ModelMetadata.load(model_dir)
    images = calibration_set()
    expected = np.asarray(model(normalize(images, metadata.normalization), training=False))  # type: ignore[operator]
    got = LiteRTClassifier(model_dir, metadata).predict(images)
    agreement = float(np.mean(np.argmax(expected, 1) == np.argmax(got, 1)))
    return Parity(len(images), agreement, float(np.max(np.abs(expected - got))))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--precision", choices=tuple(TOLERANCE), default="float32")
    parser.add_argument("--tolerance", type=float, default=None, help="override the precision's default")
    args = parser.parse_args(argv)
    try:
        parity = convert(args.model_dir, args.out_dir, args.precision, args.tolerance)
    except ConversionError as err:
        print(f"conversion failed: {err}", file=sys.stderr)
        return 1
    print(
        f"converted {args.model_dir} -> {args.out_dir}/model.tflite ({args.precision}); "
        f"parity on {parity.images} images: top-1 {parity.top1_agreement:.0%}, max diff {parity.max_abs_diff:.1e}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
