"""The model API on FastAPI, run by uvicorn (serve.sh).

A thin adapter: the contract is in model_api.py. ``POST /predict/`` gets FastAPI's own 307
to ``/predict`` (``redirect_slashes``). The endpoint takes the raw Request rather
than a pydantic model, because FastAPI answers a body that fails a pydantic model with 422,
and the article's contract is 400 for a missing or mistyped field. The route is ``async`` so
the short, CPU-bound prediction runs on the event loop instead of hopping to a thread pool.
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

import model_api

model_api.model()  # load at start, not on the first request

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/health")
async def health():
    return model_api.HEALTH


@app.post("/predict")
async def predict(request: Request):
    if not model_api.authorized(request.headers.get("authorization"), request.cookies.get("sid")):
        return JSONResponse(model_api.UNAUTHORIZED, status_code=401)
    status, document = model_api.handle_predict(await request.body())
    return JSONResponse(document, status_code=status)


@app.post("/login")
async def login():
    status, document, sid = model_api.handle_login()
    response = JSONResponse(document, status_code=status, headers={"X-Session": sid})
    response.set_cookie("sid", sid, path="/", httponly=True)
    return response


@app.post("/batch")
async def batch(request: Request):
    status, document = model_api.handle_batch(await request.body())
    return JSONResponse(document, status_code=status)


@app.post("/image")
async def image(request: Request):
    async with request.form() as form:
        part = form.get("image")
        data = await part.read() if isinstance(part, UploadFile) else None
    status, document = model_api.handle_image(data)
    return JSONResponse(document, status_code=status)


@app.get("/stats")
async def stats():
    return model_api.STATS.snapshot()
