"""`create_app(settings)`: the only place that wires the parts together."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from authapi import __version__
from authapi.api import auth, mfa, oauth, ops, pages, passkeys, users, wellknown
from authapi.api.deps import introspection_client
from authapi.api.direct import SELF_READ_BODIES, DirectRoute
from authapi.errors import PROBLEM_JSON, Problem, ValidationFailed, install_error_handlers, problems
from authapi.logs import configure_logging
from authapi.middleware import BodySizeLimit, CrossSiteNotice, Edge
from authapi.resources import Resources
from authapi.settings import Settings

DESCRIPTION = """
Self-hosted authentication: accounts, sign-in, short-lived JWT access tokens
(RFC 9068, verifiable offline through `/.well-known/jwks.json`) and rotating,
revocable refresh tokens.

Errors are `application/problem+json` with a stable `code`. Use **Authorize**
with your email and password to try the protected endpoints.
"""


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Resources.open(settings) as resources:
            app.state.resources = resources
            yield

    app: FastAPI = FastAPIOffline(
        title="authapi",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"persistAuthorization": False, "displayRequestDuration": True},
    )
    install_error_handlers(app)
    # added innermost first: the last one added wraps all the others
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Requested-With"],
            max_age=600,
        )
    if settings.cross_site_origins:
        app.add_middleware(
            CrossSiteNotice, origins=settings.cross_site_origins, api_url=settings.public_url
        )
    app.add_middleware(
        Edge,
        https=settings.public_url.startswith("https://"),
        trusted_proxies=settings.trusted_proxies,
        proxy_header=settings.proxy_header,
    )
    routers = (
        auth.router,
        oauth.router,
        mfa.router,
        passkeys.router,
        users.router,
        wellknown.router,
        ops.router,
        pages.router,
    )
    add_routes(app, routers)
    pages.mount_static(app)
    _document_problems(
        app, paths_in_order=[getattr(route, "path", "") for r in routers for route in r.routes]
    )
    return app


def add_routes(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """The routers' routes as entries of the app's own table, the hot ones first.

    FastAPI keeps an included router as one nested entry that, to serve a request,
    matches the path against each of its routes, and again to pick the one that serves
    it: `/users/me` was found after about 60 route matches, a fifth of its CPU. Our
    routers are plain groups (their prefix and tags are already in each route, and
    nothing is added when they are included), so their routes can be entries of the
    app's table themselves. The hot routes (the `DirectRoute`s: what clients and resource
    servers call on every request or every few minutes) go first: only exact paths, so
    where they stand changes what matches nothing else.
    """
    routes = [route for router in routers for route in router.routes]
    hot = [route for route in routes if isinstance(route, DirectRoute)]
    app.router.routes.extend(hot + [route for route in routes if route not in hot])


# the form-encoded OAuth endpoints: every parameter optional to FastAPI, checked by the
# handler and refused in RFC 6749's shape (400 invalid_request), never with a 422
CHECK_THEIR_OWN_PARAMETERS = frozenset({"oauth_token", "introspect_token", "revoke_token"})


def _document_problems(app: FastAPI, *, paths_in_order: Sequence[str]) -> None:
    """Make the OpenAPI document say what is sent: problem+json error bodies, and list
    the paths in the order the routers declare them (not the hot-first order they are
    matched in).

    FastAPI files a response `model` under application/json, and documents its
    own 422 body; ours are problem+json (errors.py), so each error schema moves
    there and the 422s get the Problem schema.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        paths = schema["paths"]
        schema["paths"] = {
            path: paths[path] for path in dict.fromkeys(paths_in_order) if path in paths
        }
        validation = problems(ValidationFailed)[422]
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if operation.get("operationId") in CHECK_THEIR_OWN_PARAMETERS:
                    responses.pop("422", None)
                if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                    responses["422"] = {
                        "description": validation["description"],
                        "content": {
                            PROBLEM_JSON: {
                                **validation["content"][PROBLEM_JSON],
                                "schema": problem_ref,
                            }
                        },
                    }
                for response in responses.values():
                    content = response.get("content", {})
                    if PROBLEM_JSON in content and "application/json" in content:
                        content[PROBLEM_JSON]["schema"] = content.pop("application/json")["schema"]
        # declared by hand on the routes that read it themselves (the hot ones)
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        scheme = introspection_client.model.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
        schemes.setdefault(introspection_client.scheme_name, scheme)
        components = schema["components"].setdefault("schemas", {})
        for model in SELF_READ_BODIES:
            components.setdefault(model.__name__, model.model_json_schema())
        schema["components"]["schemas"] = components = dict(sorted(components.items()))
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components.setdefault("Problem", Problem.model_json_schema())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_environment() -> FastAPI:
    """The uvicorn factory used by `authapi serve` (each worker reads the environment).

    What is built up to here (modules, routes, schemas: most of the heap) lives as long
    as the process, so it is frozen out of the cyclic garbage collector: the server
    leaves cyclic garbage behind on every request, and each full collection walked the
    whole heap, pausing the worker for tens of milliseconds now and then."""
    settings = Settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    logging.getLogger("authapi").debug("configuration loaded")
    app = create_app(settings)
    gc.collect()  # nothing left over from building it gets frozen
    gc.freeze()
    return app
