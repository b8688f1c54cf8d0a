"""The article's model API contract, shared by the Flask, FastAPI and Starlette apps.

Each app is a thin adapter from its framework to the two functions here, so a framework
comparison measures the frameworks and not three slightly different validators:

- ``GET /health`` answers 200 ``{"status": "ok"}`` (``HEALTH``).
- ``POST /predict`` takes a JSON object with the 13 UCI heart-disease features and answers
  200 ``{"diagnosis": "heart-disease"}`` or ``{"diagnosis": "no-disease"}``; a body that is not
  JSON, not an object, lacks a feature or has one that is not a number (a bool, string or null
  included) answers 400 ``{"error": "..."}`` (``handle_predict``). Extra fields are ignored.
- ``POST /batch`` takes ``{"instances": [row, ...]}`` (TF Serving's shape), each row an object
  as ``/predict`` takes, and answers 200 ``{"predictions": [diagnosis, ...]}``, one per row in
  order; anything else is 400 with the first problem (``handle_batch``).
- ``POST /image`` takes ``multipart/form-data`` with a file part named ``image`` and answers
  200 ``{"bytes": n}``; no such part is 400 (``handle_image``).
- ``GET /stats`` answers what this process received: images, and batches by size
  (``STATS.snapshot()``), so a test can check the server's side of a load test. Counts are
  per process: run one worker (serve.sh's default) to read them all from one place.

The error messages are the ones blast's built-in target (``src/serve/model.rs``) gives.
The scikit-learn model is trained by ``train.py`` and loaded once per process (``model()``).
"""

from __future__ import annotations

import functools
import json
import math
import os
import threading
from collections import Counter
from pathlib import Path

import joblib
import numpy as np

# The features POST /predict requires, in the order the model takes them (and checks them).
FEATURES = (
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
)

# Where setup.sh has train.py write the model: inside the git-ignored virtualenv, because a
# pickled scikit-learn model belongs to the scikit-learn version that wrote it.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / ".venv" / "model" / "heart.joblib"

HEALTH = {"status": "ok"}

# Class 1 of the trained model means heart disease.
_DIAGNOSES = ({"diagnosis": "no-disease"}, {"diagnosis": "heart-disease"})


def model_path() -> Path:
    """The model file: ``$MODEL_API_MODEL`` if set, else the one setup.sh trains."""
    return Path(os.environ.get("MODEL_API_MODEL", DEFAULT_MODEL_PATH))


@functools.cache
def model():
    """The trained classifier, loaded on first use and kept for the life of the process.

    The apps call this at import so that loading is not paid by the first request.
    """
    path = model_path()
    if not path.is_file():
        raise SystemExit(f"model-api: no model at {path}: run scripts/model-api/setup.sh")
    return joblib.load(path)


def validate(payload: object) -> tuple[np.ndarray | None, str | None]:
    """A decoded JSON body as ``(features, None)``, or ``(None, reason)`` when it is invalid."""
    if not isinstance(payload, dict):
        return None, "body must be a JSON object"
    values = np.empty((1, len(FEATURES)), dtype=np.float64)
    for i, name in enumerate(FEATURES):
        if name not in payload:
            return None, f"missing field: {name}"
        value = payload[name]
        # bool is an int subclass in Python, but true is not a number in JSON.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"field {name} must be a number"
        try:
            number = float(value)
        except OverflowError:  # an integer literal too large for a float
            number = math.inf
        if not math.isfinite(number):  # Python's json accepts NaN and Infinity
            return None, f"field {name} must be a finite number"
        values[0, i] = number
    return values, None


def parse(body: bytes) -> tuple[np.ndarray | None, str | None]:
    """A raw request body as ``(features, None)``, or ``(None, reason)``."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        return None, f"malformed JSON: {e}"
    return validate(payload)


def predict(features: np.ndarray) -> dict:
    """The diagnosis for one validated feature row."""
    return _DIAGNOSES[int(model().predict(features)[0])]


def handle_predict(body: bytes) -> tuple[int, dict]:
    """``POST /predict``: the status code and the JSON document to answer ``body`` with."""
    features, error = parse(body)
    if error is not None:
        return 400, {"error": error}
    return 200, predict(features)


class Stats:
    """What this process received on ``/image`` and ``/batch``; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images = 0
        self._batch_sizes: Counter[int] = Counter()

    def image(self) -> None:
        with self._lock:
            self._images += 1

    def batch(self, size: int) -> None:
        with self._lock:
            self._batch_sizes[size] += 1

    def snapshot(self) -> dict:
        """``{"images": n, "batches": n, "batch_sizes": {"size": count, ...}}``."""
        with self._lock:
            sizes = {str(k): v for k, v in sorted(self._batch_sizes.items())}
            return {
                "images": self._images,
                "batches": sum(self._batch_sizes.values()),
                "batch_sizes": sizes,
            }


STATS = Stats()


def handle_batch(body: bytes) -> tuple[int, dict]:
    """``POST /batch``: a prediction per row of ``{"instances": [...]}``, or 400."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as e:
        return 400, {"error": f"malformed JSON: {e}"}
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        return 400, {"error": "body must be a JSON object with an instances list"}
    instances = payload["instances"]
    if not instances:
        return 400, {"error": "instances must not be empty"}
    rows = np.empty((len(instances), len(FEATURES)), dtype=np.float64)
    for i, instance in enumerate(instances):
        features, error = validate(instance)
        if error is not None:
            return 400, {"error": f"instances[{i}]: {error}"}
        rows[i] = features[0]
    STATS.batch(len(instances))
    labels = model().predict(rows)
    return 200, {"predictions": [_DIAGNOSES[int(c)]["diagnosis"] for c in labels]}


def handle_image(data: bytes | None) -> tuple[int, dict]:
    """``POST /image``: ``data`` is the ``image`` part's content, None when there was none."""
    if data is None:
        return 400, {"error": "multipart/form-data with a file part named image expected"}
    STATS.image()
    return 200, {"bytes": len(data)}
