"""The FastAPI application of the HTTP edge: its routes, error shape and middleware."""

from __future__ import annotations

from fastapi import FastAPI

from embedtune_server import __version__
from embedtune_server.http import (
    errors,
    feedback_routes,
    index_routes,
    jobs_routes,
    openai_routes,
    tei_routes,
)
from embedtune_server.http.middleware import BodyLimit, RequestMetrics
from embedtune_server.metrics import ServerMetrics
from embedtune_server.services.bundle import Servicers
from embedtune_server.settings import ServerSettings
from embedtune_server.state import StateHolder

# One router per route family; a new family (a /rerank route) is one more entry.
ROUTERS = (
    openai_routes.router,
    tei_routes.router,
    index_routes.router,
    feedback_routes.router,
    jobs_routes.router,
)


def build_app(
    settings: ServerSettings, servicers: Servicers, holder: StateHolder, metrics: ServerMetrics
) -> FastAPI:
    app = FastAPI(
        title="embedtune",
        version=__version__,
        description="OpenAI- and TEI-compatible embeddings, search and feedback, beside the gRPC API.",
        # A path with a trailing slash names no route; a redirect would hide that.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.servicers = servicers
    app.state.holder = holder
    app.state.serving = True
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(RequestMetrics, metrics=metrics)  # added last: outermost, so it sees 413s too
    return app
