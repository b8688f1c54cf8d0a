"""The model API on bare Starlette (what FastAPI is built on), run by uvicorn (serve.sh).

A thin adapter: the contract is in model_api.py. ``POST /predict/`` gets Starlette's own
307 to ``/predict`` (the router's ``redirect_slashes``). Comparing it with fastapi_app.py shows
what FastAPI's routing and serialisation layer costs on top of Starlette.
"""

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import model_api

model_api.model()  # load at start, not on the first request


async def health(request: Request) -> JSONResponse:
    return JSONResponse(model_api.HEALTH)


async def predict(request: Request) -> JSONResponse:
    if not model_api.authorized(request.headers.get("authorization"), request.cookies.get("sid")):
        return JSONResponse(model_api.UNAUTHORIZED, status_code=401)
    status, document = model_api.handle_predict(await request.body())
    return JSONResponse(document, status_code=status)


async def login(request: Request) -> JSONResponse:
    status, document, sid = model_api.handle_login()
    response = JSONResponse(document, status_code=status, headers={"X-Session": sid})
    response.set_cookie("sid", sid, path="/", httponly=True)
    return response


async def batch(request: Request) -> JSONResponse:
    status, document = model_api.handle_batch(await request.body())
    return JSONResponse(document, status_code=status)


async def image(request: Request) -> JSONResponse:
    async with request.form() as form:
        part = form.get("image")
        data = await part.read() if isinstance(part, UploadFile) else None
    status, document = model_api.handle_image(data)
    return JSONResponse(document, status_code=status)


async def stats(request: Request) -> JSONResponse:
    return JSONResponse(model_api.STATS.snapshot())


app = Starlette(
    routes=[
        Route("/health", health, methods=["GET"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/login", login, methods=["POST"]),
        Route("/batch", batch, methods=["POST"]),
        Route("/image", image, methods=["POST"]),
        Route("/stats", stats, methods=["GET"]),
    ]
)
