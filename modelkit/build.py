"""Models made in code (no weights are ever downloaded).

- `demo`: the original architecture, a ResNet-50 backbone with a dense softmax head over the
  classes, 224x224 RGB, Caffe-style normalisation like keras.applications.resnet50. Its weights
  are seeded and UNTRAINED: predictions are meaningless, timings and plumbing are real. Its
  batch-norm statistics are calibrated on generated images, so activations stay in range and the
  untrained network still gives varied, unsaturated probabilities (a fresh ResNet-50 otherwise
  saturates its softmax on every input, which would make the demo and parity checks vacuous).
- `tiny`: the same contract in a few thousand parameters, for tests.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

DEFAULT_CLASSES = ("AAW", "ECLW", "FAW")
INPUT_SHAPE = (224, 224, 3)


def _metadata(classes: Sequence[str], normalization: str, version: str) -> str:
    return json.dumps(
        {
            "classes": list(classes),
            "normalization": normalization,
            "version": version,
            "input_shape": list(INPUT_SHAPE),
        },
        indent=2,
    )


def _calibrate_batch_norm(model: object, normalization: str) -> None:
    """Set every BatchNormalization's moving statistics from one pass over generated images.

    With momentum 0, a single forward pass in training mode stores each layer's batch statistics
    as its moving statistics; the inputs each layer sees then equal what inference will feed it.
    """
    import keras

    from modelkit.convert import calibration_set, normalize

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]  # type: ignore[attr-defined]
    if not layers:
        return
    momentum = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(normalize(calibration_set(32, seed=1), normalization), training=True)  # type: ignore[operator]
    for layer, value in zip(layers, momentum, strict=True):
        layer.momentum = value


def _center_head(model: object, normalization: str, spread: float = 2.0) -> None:
    """Centre and scale the untrained head's logits over generated images, so no class wins
    every image by accident of initialisation: the demo shows all classes and real counts."""
    import keras
    import numpy as np

    from modelkit.convert import calibration_set, normalize

    head = model.get_layer("classes")  # type: ignore[attr-defined]
    features = keras.Model(model.inputs, head.input)(normalize(calibration_set(48, seed=2), normalization))  # type: ignore[attr-defined]
    kernel, bias = head.get_weights()
    logits = np.asarray(features) @ kernel + bias
    scale = spread / max(float(logits.std(axis=0).mean()), 1e-6)
    head.set_weights([kernel * scale, (bias - logits.mean(axis=0)) * scale])


def build_model(kind: str, out_dir: Path, classes: Sequence[str] = DEFAULT_CLASSES, seed: int = 7) -> Path:
    """Write `model.keras` and `metadata.json` into out_dir; return out_dir."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    if kind == "demo":
        backbone = keras.applications.ResNet50(weights=None, include_top=False, input_tensor=inputs, pooling="avg")
        features = backbone.output
        normalization = "caffe"
    elif kind == "tiny":
        x = keras.layers.Conv2D(8, 5, strides=4, activation="relu")(inputs)
        x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
        features = keras.layers.GlobalAveragePooling2D()(x)
        normalization = "unit"
    else:
        raise ValueError(f"unknown model kind {kind!r}; use demo or tiny")
    outputs = keras.layers.Dense(len(classes), activation="softmax", name="classes")(features)
    model = keras.Model(inputs, outputs, name=f"{kind}_classifier")
    _calibrate_batch_norm(model, normalization)
    _center_head(model, normalization)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    (out_dir / "metadata.json").write_text(_metadata(classes, normalization, f"{kind}-seed{seed}-untrained"))
    return out_dir


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("demo", "tiny"))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--classes", default=",".join(DEFAULT_CLASSES))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    build_model(args.kind, args.out_dir, tuple(args.classes.split(",")), args.seed)
    print(f"wrote {args.kind} model to {args.out_dir}")


if __name__ == "__main__":
    main()
