"""One fresh process per measurement: imports, model load, first prediction, then warm timings.

    python -m bench.probe KIND RUNTIME MODEL_DIR IMAGES_DIR [--repeat N]     (KIND: ours | original)

Prints JSON lines: {"first": true, ...phases} as soon as the first prediction is made (the parent
times the cold start from process start to that line), then {"warm": [...seconds...], "batch": ...}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("AAW", "ECLW", "FAW")


def _say(**payload: object) -> None:
    print(json.dumps(payload), flush=True)


def ours(runtime: str, model_dir: str, paths: list[Path], repeat: int) -> None:
    os.environ["CLASSIFIER_LAZY_INIT"] = "1"
    sys.path.insert(0, str(PROJECT_ROOT / "lambda_src"))
    # The cold start in phases, so the benchmark can say where it goes (the parent adds the
    # interpreter's own start-up: the total minus these).
    started = time.perf_counter()
    import classifier.handler  # noqa: F401 - the handler's imports are part of its cold start
    from classifier.imaging import decode
    from classifier.model import load_classifier

    imported = time.perf_counter()
    model = load_classifier(model_dir, runtime, CLASSES)
    loaded = time.perf_counter()
    allowed = ("JPEG",)
    model.predict(decode(paths[0].read_bytes(), size=(224, 224), allowed_formats=allowed)[None])
    predicted = time.perf_counter()
    _say(first=True, imports=imported - started, load=loaded - imported, first_prediction=predicted - loaded)

    import numpy as np

    images = [p.read_bytes() for p in paths]

    warm = []
    for i in range(repeat):
        started = time.perf_counter()
        model.predict(decode(images[i % len(images)], size=(224, 224), allowed_formats=allowed)[None])
        warm.append(time.perf_counter() - started)
    inference = []
    pixels = decode(images[0], size=(224, 224), allowed_formats=allowed)[None]
    for _ in range(repeat):
        started = time.perf_counter()
        model.predict(pixels)
        inference.append(time.perf_counter() - started)
    decoding = []
    for i in range(repeat):
        started = time.perf_counter()
        decode(images[i % len(images)], size=(224, 224), allowed_formats=allowed)
        decoding.append(time.perf_counter() - started)
    batch = np.repeat(pixels, 10, axis=0)
    model.predict(batch)
    started = time.perf_counter()
    for _ in range(3):
        model.predict(batch)
    batched = (time.perf_counter() - started) / 30
    _say(warm=warm, inference=inference, decode=decoding, inference_batched_per_image=batched)


def original(model_dir: str, paths: list[Path], repeat: int) -> None:
    os.environ.setdefault("TABLE_NAME", "unused")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    os.environ["MODEL_DIR"] = model_dir
    sys.path.insert(0, str(PROJECT_ROOT))
    from bench import original_handler

    original_handler.classify(paths[0].read_bytes())
    _say(first=True)
    images = [p.read_bytes() for p in paths]
    warm = []
    for i in range(repeat):
        started = time.perf_counter()
        original_handler.classify(images[i % len(images)])
        warm.append(time.perf_counter() - started)
    _say(warm=warm)


def main() -> None:
    kind, runtime, model_dir, images_dir = sys.argv[1:5]
    repeat = int(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[5] == "--repeat" else 20
    # Only the first image is read before the first prediction: reading the rest is the
    # benchmark's business, not part of any cold start.
    paths = sorted(Path(images_dir).glob("*.jpg"))
    if kind == "original":
        original(model_dir, paths, repeat)
    else:
        ours(runtime, model_dir, paths, repeat)


if __name__ == "__main__":
    main()
