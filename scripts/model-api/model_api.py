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
- ``POST /login`` starts a session: 200 ``{"access_token": "..."}`` with a ``sid`` cookie
  (``Set-Cookie: sid=...; Path=/; HttpOnly``) and the same id in ``X-Session``
  (``handle_login``). With ``MODEL_API_AUTH=1`` (serve.sh sets it from ``AUTH=1``),
  ``POST /predict`` answers 401 unless it carries ``Authorization: Bearer <token>`` or the
  ``sid`` cookie of a session (``authorized``).
- ``POST /predict/`` (trailing slash) redirects to ``/predict`` with 307, as FastAPI and
  Starlette do by default (``redirect_slashes``); the Flask app has an explicit route.
- ``GET /stats`` answers what this process received: images, batches by size, logins, the
  sessions /predict saw and the requests it refused (``STATS.snapshot()``), so a test can
  check the server's side of a load test. Counts are per process: run one worker
  (serve.sh's default) to read them all from one place.

The error messages are the ones blast's built-in target (``src/serve/model.rs``) gives.
The scikit-learn model is trained by ``train.py`` and loaded once per process (``model()``).
"""

from __future__ import annotations

import functools
import json
import math
import os
import secrets
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


# Whether POST /predict requires a session (serve.sh: AUTH=1).
AUTH = os.environ.get("MODEL_API_AUTH") == "1"


class Stats:
    """What this process received on ``/image``, ``/batch``, ``/login`` and (with ``AUTH``)
    ``/predict``; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images = 0
        self._batch_sizes: Counter[int] = Counter()
        self._tokens: dict[str, str] = {}  # access token -> session id
        self._sids: set[str] = set()
        self._used: set[str] = set()  # session ids /predict was authorized by
        self._unauthorized = 0

    def login(self) -> tuple[str, str]:
        """A new session: ``(access_token, session_id)``."""
        token, sid = secrets.token_urlsafe(24), secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = sid
            self._sids.add(sid)
        return token, sid

    def authorized(self, authorization: str | None, sid: str | None) -> bool:
        """Whether a request with this ``Authorization`` header and ``sid`` cookie belongs to
        a session; counts the sessions seen and the requests refused."""
        token = None
        if authorization and authorization.lower().startswith("bearer "):
            token = authorization[len("bearer "):].strip()
        with self._lock:
            session = self._tokens.get(token) if token else None
            if session is None and sid in self._sids:
                session = sid
            if session is None:
                self._unauthorized += 1
                return False
            self._used.add(session)
            return True

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
                "logins": len(self._sids),
                "sessions_used": len(self._used),
                "unauthorized": self._unauthorized,
            }


STATS = Stats()


UNAUTHORIZED = {"error": "unauthorized: log in with POST /login"}


def handle_login() -> tuple[int, dict, str]:
    """``POST /login``: the status, the document and the session id for the ``sid`` cookie
    and the ``X-Session`` header."""
    token, sid = STATS.login()
    return 200, {"access_token": token}, sid


def authorized(authorization: str | None, sid: str | None) -> bool:
    """Whether ``POST /predict`` may answer: always without ``AUTH``."""
    return not AUTH or STATS.authorized(authorization, sid)


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
