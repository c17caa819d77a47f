"""A handler written the way the original guide wrote it, for comparison only (never deployed).

Its habits, reproduced on purpose: the model loads with TensorFlow at import and predicts one
image at a time with `model.predict`; the JPEG is decoded in full before resizing; the day's count
comes from a Scan of the whole table followed by a Put; the date is computed once, at import.
It reads the same SQS/EventBridge events and the same model folder as our function.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import numpy as np
import tensorflow as tf
from PIL import Image

MODEL_DIR = os.environ.get("MODEL_DIR", "/opt/model")
CLASSES = os.environ.get("CLASS_NAMES", "AAW,ECLW,FAW").split(",")
model = tf.keras.models.load_model(os.path.join(MODEL_DIR, "model.keras"), compile=False)
s3 = boto3.client("s3")
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
# The original computed the date once, at import: a warm container keeps yesterday's date.
DATE = datetime.now(ZoneInfo(os.environ.get("TIMEZONE", "Africa/Lagos"))).strftime("%Y-%m-%d")
MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def classify(data: bytes) -> tuple[str, float]:
    image = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224))
    x = np.asarray(image, dtype=np.float32)[..., ::-1] - MEAN_BGR  # resnet50.preprocess_input
    probabilities = model.predict(np.expand_dims(x, 0), verbose=0)[0]
    best = int(np.argmax(probabilities))
    return CLASSES[best], float(probabilities[best])


def record(table: Any, key: str, class_name: str, confidence: float) -> int:
    items = table.scan()["Items"]  # one page: wrong past 1 MB, slower with every prediction stored
    count = sum(1 for item in items if item.get("ClassName") == class_name and item.get("PredictionDate") == DATE) + 1
    table.put_item(
        Item={
            "PredictionDate": DATE,
            "ClassPredictionID": f"{class_name}_{uuid.uuid4().hex}",
            "ClassName": class_name,
            "Count_ClassName": count,
            "ObjectKey": key,
            "ConfidenceScore": f"{round(confidence * 100)}%",
            "Confidence": Decimal(str(round(confidence, 6))),
        }
    )
    return count


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for message in event["Records"]:
        detail = json.loads(message["body"])["detail"]
        obj = s3.get_object(Bucket=detail["bucket"]["name"], Key=detail["object"]["key"])
        class_name, confidence = classify(obj["Body"].read())
        record(table, detail["object"]["key"], class_name, confidence)
    return {"batchItemFailures": []}
