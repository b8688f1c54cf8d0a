"""The model API as the article serves it: Flask, run by gunicorn's sync workers (serve.sh).

A thin adapter: the contract (routes' answers, validation, messages) is in model_api.py.
The raw body is handed to the shared parser rather than Flask's request.get_json(), so a
missing Content-Type or a malformed body gets the same 400 as on the other frameworks.
"""

from flask import Flask, request

import model_api

model_api.model()  # load in each worker at start, not on its first request

app = Flask(__name__)


@app.get("/health")
def health():
    return model_api.HEALTH


@app.post("/predict")
def predict():
    status, document = model_api.handle_predict(request.get_data(cache=False))
    return document, status


@app.post("/batch")
def batch():
    status, document = model_api.handle_batch(request.get_data(cache=False))
    return document, status


@app.post("/image")
def image():
    part = request.files.get("image")
    status, document = model_api.handle_image(None if part is None else part.read())
    return document, status


@app.get("/stats")
def stats():
    return model_api.STATS.snapshot()
