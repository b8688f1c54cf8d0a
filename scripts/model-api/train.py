"""Trains the heart-disease classifier that the model-API servers load.

The article serves a scikit-learn model trained on the UCI heart-disease data. That data is
not shipped here and nothing may be downloaded, so this script makes a synthetic stand-in of
the same shape: every feature drawn within its documented UCI range (integers, except oldpeak:
0.0-6.2 with one decimal), and a label that follows a few known risk factors plus noise. The
point is a real model with a real prediction cost behind the API, not medicine.

    python train.py [MODEL_PATH]     # default: model_api.DEFAULT_MODEL_PATH

setup.sh runs it once, and again when this file or requirements.txt changes. Fixed seed, so
the same versions produce the same model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from model_api import DEFAULT_MODEL_PATH, FEATURES

ROWS = 2000
SEED = 42

# Inclusive UCI ranges, in FEATURES order (the table in shared/README.md).
RANGES = {
    "age": (29, 77),
    "sex": (0, 1),
    "cp": (0, 3),
    "trestbps": (94, 200),
    "chol": (126, 564),
    "fbs": (0, 1),
    "restecg": (0, 2),
    "thalach": (71, 202),
    "exang": (0, 1),
    "oldpeak": (0.0, 6.2),
    "slope": (0, 2),
    "ca": (0, 4),
    "thal": (0, 3),
}

# Roughly the UCI means and spreads for the continuous measurements; the rest are uniform.
BELL = {
    "age": (54, 9),
    "trestbps": (131, 17),
    "chol": (246, 52),
    "thalach": (150, 23),
    "oldpeak": (1.0, 1.2),
}

# The label's log-odds: weight * (value - centre) per risk factor. Higher age, male sex, high
# blood pressure and cholesterol, exercise angina, ST depression and narrowed vessels raise
# the risk; a high maximum heart rate and typical chest pain (cp 0 is "asymptomatic" in UCI,
# so higher cp is lower risk) lower it.
RISK = {
    "age": (0.05, 54),
    "sex": (0.9, 0.5),
    "cp": (-0.7, 1.5),
    "trestbps": (0.015, 131),
    "chol": (0.004, 246),
    "thalach": (-0.035, 150),
    "exang": (1.1, 0.5),
    "oldpeak": (0.7, 1.0),
    "ca": (0.8, 1.0),
    "thal": (0.5, 1.5),
}


def synthetic_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` feature rows within the UCI ranges and their 0/1 labels."""
    rng = np.random.default_rng(seed)
    columns = []
    for name in FEATURES:
        low, high = RANGES[name]
        if name in BELL:
            mean, spread = BELL[name]
            column = np.clip(rng.normal(mean, spread, rows), low, high)
        else:
            column = rng.integers(low, high, endpoint=True, size=rows).astype(np.float64)
        column = np.round(column, 1) if name == "oldpeak" else np.round(column)
        columns.append(column)
    x = np.column_stack(columns)
    logit = sum(w * (x[:, FEATURES.index(n)] - c) for n, (w, c) in RISK.items())
    logit = logit + rng.normal(0.0, 0.8, rows)  # what the features cannot explain
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return x, y


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MODEL_PATH
    x, y = synthetic_data(ROWS, SEED)
    for i, name in enumerate(FEATURES):
        low, high = RANGES[name]
        assert low <= x[:, i].min() and x[:, i].max() <= high, name
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_train, y_train)
    accuracy = model.score(x_test, y_test)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    joblib.dump(model, tmp)
    tmp.replace(out)  # a half-written model is never picked up
    print(
        f"train.py: {ROWS} synthetic rows, {y.mean():.0%} positive, "
        f"held-out accuracy {accuracy:.2f} -> {out}"
    )


if __name__ == "__main__":
    main()
