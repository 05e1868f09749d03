"""The hot routes, `GET /users/me`, `POST /auth/refresh` and `POST /auth/introspect`,
are `DirectRoute`s: each endpoint takes the `Request`, reads what it needs itself and
returns its `Response`.

FastAPI (0.165) spends 15 to 40 µs per request on each dependency it resolves, about
as much again on a body parameter, and more on its request handler around them; on
these routes that was a third of their CPU (bench/README.md). A `DirectRoute` is
served by its endpoint alone (FastAPI's documented hook, `get_route_handler`), which
reads the bearer token, the JSON body or the form with the helpers here, refusing bad
input through the same exceptions (so the same problems) as FastAPI would. The
OpenAPI document still says what they read: `documented_body` and the `*_SECURITY`
declarations, which authapi.app puts into it. Every other route keeps FastAPI's
parameters: their cost does not matter there, and the document comes for free.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from authapi.api.deps import FORM_URLENCODED, bearer_scheme, form_encoded, introspection_client
from authapi.errors import MalformedRequest

E = TypeVar("E", bound=Callable[..., Any])


class DirectRoute(APIRoute):
    """A route served by its endpoint alone: `endpoint(request) -> Response`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


def direct_route(router: APIRouter, path: str, *, method: str, **options: Any) -> Callable[[E], E]:
    """`@router.get(...)` or `@router.post(...)` for a `DirectRoute`."""

    def register(endpoint: E) -> E:
        router.add_api_route(
            path, endpoint, methods=[method], route_class_override=DirectRoute, **options
        )
        return endpoint

    return register


# the security requirements these routes meet, as their dependencies would declare them
BEARER_SECURITY: dict[str, Any] = {"security": [{bearer_scheme.scheme_name: []}]}
INTROSPECTION_SECURITY: dict[str, Any] = {"security": [{introspection_client.scheme_name: []}]}


def bearer_token(request: Request) -> str | None:
    """The `Authorization: Bearer` credentials, read as `bearer_scheme` reads them."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials:
        return None
    return credentials


M = TypeVar("M", bound=BaseModel)


def _json_media_type(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    main, _, subtype = media_type.partition("/")
    return main == "application" and (subtype == "json" or subtype.endswith("+json"))


# the request bodies the hot routes read themselves, for the document's components
SELF_READ_BODIES: list[type[BaseModel]] = []


def documented_body(model: type[BaseModel], media_type: str, *, required: bool) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its body itself: what FastAPI would write."""
    SELF_READ_BODIES.append(model)
    schema: dict[str, Any] = {"$ref": f"#/components/schemas/{model.__name__}"}
    if not required:
        schema = {"anyOf": [schema, {"type": "null"}], "title": "Body"}
    body: dict[str, Any] = {"content": {media_type: {"schema": schema}}}
    if required:
        body["required"] = True
    return {"requestBody": body}


async def json_body(request: Request, model: type[M]) -> M | None:
    """The body as `model`, None when there is none (or `null`): what FastAPI makes of a
    `model | None = None` body parameter, refused the way FastAPI refuses it (the same
    exceptions, so the same problems). JSON is read by `json.loads`, as FastAPI reads
    it: a lone surrogate escaped in a string is a string, not a malformed body.

    Raises: RequestValidationError (not JSON, not of a JSON media type, not `model`),
    MalformedRequest (not text, or nested too deep to read).
    """
    raw = await request.body()
    if not raw:
        return None
    if not _json_media_type(request.headers.get("content-type")):
        not_an_object = {"type": "model_attributes_type", "loc": ("body",), "input": None}
        raise RequestValidationError([{**not_an_object, "msg": "Input should be an object"}])
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        invalid = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([invalid]) from None
    except (ValueError, RecursionError):
        raise MalformedRequest() from None
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


async def form_parameter(request: Request, name: str) -> str | None:
    """One parameter of a form-encoded body (None if absent), for the hot routes that
    read their own; a urlencoded body is parsed here, without a multipart parser.

    Raises: OAuthError (400 invalid_request: the body is not form-encoded).
    """
    await form_encoded(request)
    if request.headers.get("content-type", "").lower().startswith(FORM_URLENCODED):
        body = (await request.body()).decode("utf-8", "replace")
        values = dict(parse_qsl(body, keep_blank_values=True))
        return values.get(name)
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else None
