"""openapi.json is generated from the app and committed; this keeps them equal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from authapi.openapi import openapi_document

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"


@pytest.mark.requirement("ASVS-2.1.1")
def test_committed_openapi_json_matches_the_app() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == openapi_document(), "openapi.json is stale: run `make openapi`"


def test_authorize_button_uses_the_password_flow_of_auth_token() -> None:
    schemes = openapi_document()["components"]["securitySchemes"]
    flows = [scheme["flows"] for scheme in schemes.values() if scheme["type"] == "oauth2"]
    assert flows == [{"password": {"scopes": {}, "tokenUrl": "/auth/token"}}]


# answered from the settings alone: nothing in them can fail
ERROR_FREE = {("get", "/auth/oauth/providers")}


def test_every_route_declares_its_error_responses() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            statuses = {int(status) for status in operation["responses"]}
            errors = {status for status in statuses if status >= 400}
            if path.startswith(("/auth", "/users")) and (method, path) not in ERROR_FREE:
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


# what generated clients call each operation: changing one breaks their users' code
OPERATION_IDS = {
    ("post", "/auth/register"): "register",
    ("post", "/auth/verify-email"): "verify_email",
    ("post", "/auth/verify-email/resend"): "resend_verification_email",
    ("post", "/auth/forgot-password"): "forgot_password",
    ("post", "/auth/reset-password"): "reset_password",
    ("post", "/auth/login"): "login",
    ("post", "/auth/login/mfa"): "complete_mfa",
    ("post", "/auth/token"): "oauth_token",
    ("post", "/auth/refresh"): "refresh",
    ("post", "/auth/logout"): "logout",
    ("post", "/auth/logout-all"): "logout_everywhere",
    ("get", "/auth/sessions"): "list_sessions",
    ("delete", "/auth/sessions/{session_id}"): "revoke_session",
    ("post", "/auth/introspect"): "introspect_token",
    ("post", "/auth/revoke"): "revoke_token",
    ("get", "/auth/oauth/providers"): "list_providers",
    ("post", "/auth/oauth/{provider}/id-token"): "sign_in_with_id_token",
    ("get", "/auth/oauth/{provider}/authorize"): "start_provider_sign_in",
    ("get", "/auth/oauth/{provider}/callback"): "finish_provider_sign_in",
    ("post", "/auth/oauth/{provider}/callback"): "finish_provider_sign_in_form_post",
    ("post", "/auth/oauth/{provider}/notifications"): "receive_provider_notification",
    ("post", "/auth/passkeys/registration/options"): "passkey_registration_options",
    ("post", "/auth/passkeys/registration"): "register_passkey",
    ("post", "/auth/passkeys/authentication/options"): "passkey_sign_in_options",
    ("post", "/auth/passkeys/authentication"): "sign_in_with_passkey",
    ("get", "/users/me/passkeys"): "list_passkeys",
    ("patch", "/users/me/passkeys/{passkey_id}"): "rename_passkey",
    ("delete", "/users/me/passkeys/{passkey_id}"): "delete_passkey",
    ("get", "/auth/mfa"): "get_mfa_status",
    ("post", "/auth/mfa/totp/setup"): "start_totp_setup",
    ("post", "/auth/mfa/totp/confirm"): "confirm_totp_setup",
    ("post", "/auth/mfa/totp/disable"): "disable_totp",
    ("post", "/auth/mfa/recovery-codes"): "regenerate_recovery_codes",
    ("get", "/users/me"): "get_current_user",
    ("delete", "/users/me"): "delete_current_user",
    ("post", "/users/me/password"): "change_password",
    ("post", "/users/me/email"): "change_email",
    ("get", "/users/me/identities"): "list_identities",
    ("post", "/users/me/identities"): "link_identity",
    ("delete", "/users/me/identities/{identity_id}"): "unlink_identity",
    ("get", "/users/me/events"): "list_events",
    ("get", "/.well-known/jwks.json"): "get_jwks",
    ("get", "/.well-known/oauth-authorization-server"): "get_authorization_server_metadata",
    ("get", "/healthz"): "check_health",
    ("get", "/readyz"): "check_readiness",
}


def test_operation_ids_are_stable_and_readable() -> None:
    found = {
        (method, path): operation["operationId"]
        for path, operations in openapi_document()["paths"].items()
        for method, operation in operations.items()
    }
    assert found == OPERATION_IDS


def test_introspection_declares_http_basic_not_a_header_parameter() -> None:
    document = openapi_document()
    operation = document["paths"]["/auth/introspect"]["post"]
    (requirement,) = operation["security"]
    (scheme_name,) = requirement
    scheme = document["components"]["securitySchemes"][scheme_name]
    assert (scheme["type"], scheme["scheme"]) == ("http", "basic")
    names = {parameter["name"].lower() for parameter in operation.get("parameters", [])}
    assert "authorization" not in names


def test_the_oauth_endpoints_require_a_form_body_and_show_their_own_errors() -> None:
    paths = openapi_document()["paths"]
    for path in ("/auth/token", "/auth/introspect", "/auth/revoke"):
        operation = paths[path]["post"]
        body = operation["requestBody"]
        assert body["required"] is True, path
        assert list(body["content"]) == ["application/x-www-form-urlencoded"], path
        assert "422" not in operation["responses"], f"{path} never answers 422"
        examples = operation["responses"]["400"]["content"]["application/json"]["examples"]
        errors = {example["value"]["error"] for example in examples.values()}
        assert errors <= {"invalid_request", "invalid_grant", "unsupported_grant_type"}, path
    introspect = paths["/auth/introspect"]["post"]["responses"]
    assert "invalid_grant" not in json.dumps(introspect)
    shown = introspect["200"]["content"]["application/json"]["examples"]
    assert {example["value"]["active"] for example in shown.values()} == {True, False}


def test_openapi_spec_validator_accepts_the_document() -> None:
    from openapi_spec_validator import validate

    validate(json.loads(COMMITTED.read_text(encoding="utf-8")))  # raises on the first fault
