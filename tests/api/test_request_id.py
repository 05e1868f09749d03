"""Request ids and the access line (authapi.middleware.Edge).

A sane `X-Request-ID` is echoed; a missing or unsafe one is replaced by 32 hex
digits. Each request writes one `authapi.access` record carrying that id, the
route template and no query string. The middleware does not touch the database
or the token store, so one backend is enough here.
"""

from __future__ import annotations

import logging
import re
import uuid

import pytest

from tests.conftest import Api, bearer

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def backend() -> str:
    return "embedded"


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="authapi.access")
    return caplog


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "authapi.access"]


class TestRequestIdHeader:
    @pytest.mark.parametrize("value", ["abc-123", "edge.7f3e:01_x", "R" * 128])
    async def test_a_sane_id_is_echoed(self, api: Api, value: str) -> None:
        response = await api.client.get("/healthz", headers={"X-Request-ID": value})
        assert response.headers["x-request-id"] == value

    async def test_one_is_made_when_absent(self, api: Api) -> None:
        first = await api.client.get("/healthz")
        second = await api.client.get("/healthz")
        assert HEX32.fullmatch(first.headers["x-request-id"])
        assert first.headers["x-request-id"] != second.headers["x-request-id"]

    @pytest.mark.parametrize(
        "value",
        [
            b"R" * 129,
            b"has space",
            b"semi;colon",
            b"<script>",
            b"abc\r\nX-Injected: yes",
            b"abc\nSet-Cookie: authapi_refresh=x",
            "ünïcode".encode(),
            b"",
        ],
    )
    @pytest.mark.requirement("ASVS-16.4.1")
    async def test_an_unsafe_id_is_replaced(self, api: Api, value: bytes) -> None:
        response = await api.client.get("/healthz", headers={"X-Request-ID": value})
        assert HEX32.fullmatch(response.headers["x-request-id"])
        assert "x-injected" not in response.headers
        assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]

    async def test_error_answers_carry_it_too(self, api: Api) -> None:
        response = await api.client.get("/users/me", headers={"X-Request-ID": "err-1"})
        assert response.status_code == 401
        assert response.headers["x-request-id"] == "err-1"
        missing = await api.client.get("/no/such/page", headers={"X-Request-ID": "err-2"})
        assert missing.status_code == 404
        assert missing.headers["x-request-id"] == "err-2"


class TestAccessLine:
    @pytest.mark.requirement("ASVS-16.2.1", "ASVS-16.3.2")
    async def test_one_record_with_id_route_template_and_no_query(
        self, api: Api, access: pytest.LogCaptureFixture
    ) -> None:
        identity = uuid.uuid4()
        response = await api.client.delete(
            f"/users/me/identities/{identity}?token=query-secret&code=135792",
            headers={**bearer("garbage-access-token"), "X-Request-ID": "trace-42"},
        )
        assert response.status_code == 401
        (record,) = access_records(access)
        fields = vars(record)
        assert record.levelno == logging.INFO
        assert fields["request_id"] == "trace-42"
        assert fields["method"] == "DELETE"
        assert fields["route"] == "/users/me/identities/{identity_id}"
        assert fields["status"] == 401
        assert fields["duration_ms"] >= 0
        assert fields["client_ip"] == "203.0.113.10"
        assert record.getMessage() == "DELETE /users/me/identities/{identity_id} 401"
        text = f"{record.getMessage()} {vars(record)}"
        for leaked in (str(identity), "query-secret", "135792", "garbage-access-token", "?"):
            assert leaked not in text

    @pytest.mark.requirement("ASVS-16.3.3")
    async def test_generated_id_is_the_one_logged(
        self, api: Api, access: pytest.LogCaptureFixture
    ) -> None:
        response = await api.client.post("/auth/login", json={"email": "x"})
        assert response.status_code == 422
        (record,) = access_records(access)
        fields = vars(record)
        assert fields["request_id"] == response.headers["x-request-id"]
        assert fields["route"] == "/auth/login"
        assert fields["status"] == 422

    async def test_unmatched_path_is_logged_without_its_query(
        self, api: Api, access: pytest.LogCaptureFixture
    ) -> None:
        await api.client.get("/no/such/page?token=query-secret")
        (record,) = access_records(access)
        fields = vars(record)
        assert fields["route"] == "/no/such/page"
        assert fields["status"] == 404
        assert "query-secret" not in f"{record.getMessage()} {vars(record)}"

    @pytest.mark.requirement("ASVS-16.2.4")
    async def test_lines_written_during_the_request_carry_the_id(
        self, api: Api, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The id is in a contextvar for the request and gone after it."""
        from authapi.logs import request_id_var

        seen: list[str | None] = []

        class Spy(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(request_id_var.get())

        spy = Spy()
        logger = logging.getLogger("authapi.access")
        logger.addHandler(spy)
        caplog.set_level(logging.INFO, logger="authapi.access")
        try:
            await api.client.get("/healthz", headers={"X-Request-ID": "ctx-7"})
        finally:
            logger.removeHandler(spy)
        assert seen == ["ctx-7"]
        assert request_id_var.get() is None


class TestUnexpectedErrors:
    """An exception nothing handles (a bug) is a problem+json 500 with the request id,
    logged once with it, and the app returns normally, so the server keeps the
    connection (issue 12, item 22). httpx's ASGITransport raises whatever escapes the
    app, so a 500 answer at all shows that nothing escaped."""

    @pytest.mark.requirement("ASVS-16.3.4", "ASVS-16.5.1", "ASVS-16.5.3")
    async def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
        self, api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tokens = await api.signed_in()

        async def broken(session_id: str, user_id: str) -> None:
            raise RuntimeError("a bug, with password=hunter2 in its message")

        monkeypatch.setattr(api.app.state.resources.store, "session_profile", broken)
        caplog.set_level(logging.INFO)
        response = await api.client.get(
            "/users/me", headers={**bearer(tokens.access), "X-Request-ID": "bug-report-1"}
        )

        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "internal_error"
        assert "hunter2" not in response.text
        assert response.headers["x-request-id"] == "bug-report-1"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["strict-transport-security"].startswith("max-age=")
        logged = [record for record in caplog.records if record.exc_info]
        assert len(logged) == 1, [record.getMessage() for record in logged]
        assert logged[0].getMessage() == "unhandled error on GET /users/me"
        (line,) = access_records(caplog)
        assert (line.__dict__["status"], line.__dict__["request_id"]) == (500, "bug-report-1")

        monkeypatch.undo()
        assert (await api.me(tokens.access)).status_code == 200  # the app is fine
