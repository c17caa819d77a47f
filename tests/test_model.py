"""The model contract is checked at load, and both runtimes serve the same predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifier.imaging import decode
from classifier.model import ModelContractError, load_classifier
from tests.images import jpeg, unusual_images

CLASSES = ("AAW", "ECLW", "FAW")


def copy_model(source: Path, target: Path, **metadata_changes: object) -> Path:
    shutil.copytree(source, target)
    metadata = json.loads((target / "metadata.json").read_text())
    metadata.update(metadata_changes)
    (target / "metadata.json").write_text(json.dumps(metadata))
    return target


def sample_batch() -> np.ndarray:
    images = [jpeg(seed=s) for s in range(6)] + list(unusual_images().values())[:6]
    allowed = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
    return np.stack([decode(data, size=(224, 224), allowed_formats=allowed) for data in images])


@pytest.mark.parametrize("runtime", ["litert", "tensorflow"])
def test_configured_classes_must_match_the_model(tiny_model_dir: Path, runtime: str) -> None:
    with pytest.raises(ModelContractError, match=r"configured classes AAW, FAW differ from the model's AAW, ECLW, FAW"):
        load_classifier(tiny_model_dir, runtime, ("AAW", "FAW"))


def test_metadata_must_exist_and_be_complete(tiny_model_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    shutil.copytree(tiny_model_dir, missing)
    (missing / "metadata.json").unlink()
    with pytest.raises(ModelContractError, match=r"metadata\.json is missing"):
        load_classifier(missing, "litert", CLASSES)

    vague = copy_model(tiny_model_dir, tmp_path / "vague", normalization="guess")
    with pytest.raises(ModelContractError, match="'normalization' must be one of none, unit, symmetric, caffe"):
        load_classifier(vague, "litert", CLASSES)


@pytest.mark.parametrize("runtime", ["litert", "tensorflow"])
def test_output_size_must_equal_the_number_of_classes(tiny_model_dir: Path, tmp_path: Path, runtime: str) -> None:
    four = copy_model(tiny_model_dir, tmp_path / "four", classes=["AAW", "ECLW", "FAW", "OTHER"])

    with pytest.raises(ModelContractError, match=r"output has 3 values but metadata\.json names 4 classes"):
        load_classifier(four, runtime, ("AAW", "ECLW", "FAW", "OTHER"))


@pytest.mark.slow
def test_input_must_be_224x224x3(tmp_path: Path) -> None:
    import keras

    from modelkit.convert import ConversionError, convert

    inputs = keras.Input(shape=(128, 128, 3))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
    directory = tmp_path / "small"
    directory.mkdir()
    keras.Model(inputs, outputs).save(directory / "model.keras")
    (directory / "metadata.json").write_text(json.dumps({"classes": list(CLASSES), "normalization": "unit"}))

    with pytest.raises(ModelContractError, match=r"input must be \(batch, 224, 224, 3\)"):
        load_classifier(directory, "tensorflow", CLASSES)
    with pytest.raises(ConversionError, match=r"the contract is \(batch, 224, 224, 3\)"):
        convert(directory, directory)


def test_both_runtimes_give_the_same_predictions(litert_classifier, tensorflow_classifier) -> None:
    batch = sample_batch()

    lite = litert_classifier.predict(batch)
    full = tensorflow_classifier.predict(batch)

    assert lite.shape == full.shape == (len(batch), 3)
    assert (lite.argmax(1) == full.argmax(1)).all()
    assert np.abs(lite - full).max() < 1e-4
    assert np.allclose(lite.sum(1), 1, atol=1e-5)


def test_batching_gives_the_same_answer_as_one_at_a_time(litert_classifier) -> None:
    batch = sample_batch()

    together = litert_classifier.predict(batch)
    alone = np.concatenate([litert_classifier.predict(batch[i : i + 1]) for i in range(len(batch))])

    assert np.abs(together - alone).max() < 1e-5


def test_unknown_runtime_is_refused(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelContractError, match="unknown inference runtime 'onnx'"):
        load_classifier(tiny_model_dir, "onnx", CLASSES)


@pytest.mark.slow
def test_a_model_fixed_to_batch_one_is_served_one_image_at_a_time(tmp_path: Path) -> None:
    import keras

    from modelkit.convert import convert

    inputs = keras.Input(shape=(224, 224, 3), batch_size=1)
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 7, strides=8)(inputs))
    directory = tmp_path / "batch-one"
    directory.mkdir()
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(features)).save(directory / "model.keras")
    (directory / "metadata.json").write_text(json.dumps({"classes": list(CLASSES), "normalization": "unit"}))

    parity = convert(directory, directory)
    classifier = load_classifier(directory, "litert", CLASSES)
    batch = sample_batch()
    together = classifier.predict(batch)

    assert parity.top1_agreement == 1.0
    assert together.shape == (len(batch), 3)
    assert (
        np.abs(together - np.concatenate([classifier.predict(batch[i : i + 1]) for i in range(len(batch))])).max()
        < 1e-6
    )


@pytest.mark.slow
def test_reduced_scale_decoding_keeps_every_top1_on_real_and_generated_photos(tensorflow_classifier) -> None:
    """The demo-sized contract: the fast JPEG path must not change a single prediction."""
    import io

    import skimage.data
    from PIL import Image

    from tests.images import encode, photo

    photos = [
        Image.fromarray(getattr(skimage.data, n)()).convert("RGB") for n in ("astronaut", "coffee", "chelsea", "rocket")
    ]
    photos += [photo(3000, 2000, seed=s) for s in range(4)]
    big = [p.resize((p.width * 4, p.height * 4)) if p.width < 1500 else p for p in photos]
    fast, full = [], []
    for picture in big:
        data = encode(picture, "JPEG", quality=92)
        fast.append(decode(data, size=(224, 224), allowed_formats=("JPEG",)))
        with Image.open(io.BytesIO(data)) as whole:
            full.append(
                np.asarray(whole.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR, reducing_gap=3.0))
            )

    fast_top1 = tensorflow_classifier.predict(np.stack(fast)).argmax(1)
    full_top1 = tensorflow_classifier.predict(np.stack(full)).argmax(1)

    assert (fast_top1 == full_top1).all()


@pytest.mark.slow
def test_dynamic_int8_conversion_keeps_top1_and_names_itself(tiny_model_dir: Path, tmp_path: Path) -> None:
    from modelkit.convert import TOLERANCE, convert

    parity = convert(tiny_model_dir, tmp_path / "int8", precision="dynamic-int8")
    classifier = load_classifier(tmp_path / "int8", "litert", CLASSES)
    reference = load_classifier(tiny_model_dir, "tensorflow", CLASSES)
    batch = sample_batch()

    assert parity.top1_agreement == 1.0 and parity.max_abs_diff <= TOLERANCE["dynamic-int8"]
    assert classifier.metadata.version == "tiny-seed11-untrained+dynamic-int8"
    assert (classifier.predict(batch).argmax(1) == reference.predict(batch).argmax(1)).mean() >= 0.9
