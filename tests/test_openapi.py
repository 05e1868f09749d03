"""openapi.json is generated from the app and committed; this keeps them equal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from authapi.openapi import openapi_document

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"


def test_committed_openapi_json_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == openapi_document(), "openapi.json is stale: run `make openapi`"


def test_authorize_button_uses_the_password_flow_of_auth_token() -> None:
    schemes = openapi_document()["components"]["securitySchemes"]
    flows = [scheme["flows"] for scheme in schemes.values() if scheme["type"] == "oauth2"]
    assert flows == [{"password": {"scopes": {}, "tokenUrl": "/auth/token"}}]


def test_every_route_declares_its_error_responses() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            statuses = {int(status) for status in operation["responses"]}
            errors = {status for status in statuses if status >= 400}
            if path.startswith(("/auth", "/users")):
                assert errors, f"{method.upper()} {path} declares no error responses"
            for status in errors:
                content = operation["responses"][str(status)].get("content", {})
                assert content, f"{method.upper()} {path} {status} has no documented body"


def integer_schemas(schema: Any) -> list[dict[str, Any]]:
    """Every integer schema inside `schema` (through anyOf, items, properties)."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "integer":
            found.append(schema)
        for value in schema.values():
            found += integer_schemas(value)
    elif isinstance(schema, list):
        for value in schema:
            found += integer_schemas(value)
    return found


def test_every_integer_parameter_is_bounded() -> None:
    """A parameter without a maximum let `before=9223372036854775808` through to the
    database (a 500, issue 12, item 10). With both bounds declared, schemathesis's
    coverage phase sends the values just outside them (tests/live/test_openapi_fuzz.py)."""
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                for schema in integer_schemas(parameter["schema"]):
                    where = f"{method.upper()} {path} {parameter['name']}"
                    assert "minimum" in schema, f"{where} has no minimum"
                    assert "maximum" in schema, f"{where} has no maximum"
