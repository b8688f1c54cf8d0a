"""The model API as the article serves it: Flask, run by gunicorn's sync workers (serve.sh).

A thin adapter: the contract (routes' answers, validation, messages) is in model_api.py.
The raw body is handed to the shared parser rather than Flask's request.get_json(), so a
missing Content-Type or a malformed body gets the same 400 as on the other frameworks.
"""

from flask import Flask, redirect, request

import model_api

model_api.model()  # load in each worker at start, not on its first request

app = Flask(__name__)


@app.get("/health")
def health():
    return model_api.HEALTH


@app.post("/predict")
def predict():
    if not model_api.authorized(request.headers.get("Authorization"), request.cookies.get("sid")):
        return model_api.UNAUTHORIZED, 401
    status, document = model_api.handle_predict(request.get_data(cache=False))
    return document, status


@app.post("/predict/")
def predict_slash():
    # Flask redirects only the other way (a route ending in "/" hit without it); this is
    # FastAPI's and Starlette's 307 for the trailing slash, so all three answer alike.
    return redirect("/predict", code=307)


@app.post("/login")
def login():
    status, document, sid = model_api.handle_login()
    response = app.make_response((document, status, {"X-Session": sid}))
    response.set_cookie("sid", sid, path="/", httponly=True)
    return response


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
