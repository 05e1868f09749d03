"""A real OpenID provider for the OIDC sign-in tests, and a browser that walks through it.

The provider is panva's `oidc-provider` (OpenID-certified; pinned in
tests/oidc_provider/package.json), run by `node tests/oidc_provider/server.mjs` on
127.0.0.1 for the whole session: discovery, JWKS, authorization with PKCE (required),
the code exchange with client_secret_basic, userinfo and RFC 9207's `iss` are the real
thing, so the app is tested against a provider that follows the specifications and not
against our reading of them. Two clients are registered ("authapi-test" and
"authapi-other"), each allowed the app's callback URLs for the provider names "local",
"local2" and "other". Accounts live in the provider's memory: `set_user(sub, **claims)`.
Its development login and consent forms stand in for the user (any `sub` signs in).

Negative id_token tests do not fake the provider: `tamper_next` rewrites the id_token of
the provider's next successful token response only (claims changed or removed, re-signed
with the provider's key, or with a foreign key under the provider's `kid`), everything
else in the flow stays genuine. `request_counts` tells which of the provider's endpoints
the app asked (discovery and JWKS caching, userinfo).

`OidcBrowser` plays the user's browser: the app (the ASGI client of a test, its own
cookies; reached at https://testserver while the app's public URL is PUBLIC_URL) and the
provider (real HTTP, its own cookies, signed out there at the start of every flow).

Node.js or tests/oidc_provider/node_modules missing (`make pytest` installs them): the
tests that use the provider are skipped, or fail with AUTHAPI_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.conftest import PASSWORD, PUBLIC_URL, bearer, service_missing
from tests.processes import stop_process

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
SERVER_SCRIPT = PROVIDER_DIR / "server.mjs"
SERVICE_NAME = "OpenID provider (node tests/oidc_provider)"
START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 5.0
HTTP_TIMEOUT_SECONDS = 5.0

MAIN_CLIENT_ID = "authapi-test"
OTHER_CLIENT_ID = "authapi-other"
NATIVE_CLIENT_ID = "authapi-native"  # a mobile app's: public, PKCE, gets id_tokens itself
NATIVE_REDIRECT = f"{PUBLIC_URL}/native-callback"  # where the "app" catches its code
PROVIDER_NAMES = ("local", "local2", "other")  # the app's provider names the clients allow
DEFAULT_SCOPES = ("openid", "email", "profile")


# the addresses the test apps allow a provider sign-in to return to
REDIRECT = f"{PUBLIC_URL}/signed-in"
REDIRECT_TREE = f"{PUBLIC_URL}/app/"


def oidc_settings(provider: OidcProvider, *names: str, **overrides: Any) -> dict[str, Any]:
    """Settings overrides for an app that knows `provider` under `names` (default "local")."""
    return {
        "oidc_providers": [provider.provider_setting(name) for name in names or ("local",)],
        "allowed_redirects": [REDIRECT, REDIRECT_TREE],
        **overrides,
    }


def callback_url(name: str, public_url: str = PUBLIC_URL) -> str:
    """The app's redirect_uri for the provider called `name`."""
    return f"{public_url}/auth/oauth/{name}/callback"


def rsa_private_jwk(kid: str) -> dict[str, Any]:
    """A fresh RSA 2048 private key as a JWK (RS256, use sig)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


# --- the provider -----------------------------------------------------------------------
@dataclass
class OidcProvider:
    """A running provider: its issuer, signing key and clients, and its test-only routes."""

    issuer: str  # http://127.0.0.1:<port> (no trailing slash)
    private_jwk: dict[str, Any]  # the provider's signing key (kid, alg RS256)
    client_id: str
    client_secret: str
    other_client_id: str
    other_client_secret: str

    def _call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = httpx.request(
            method, self.issuer.removesuffix("/") + path, json=body, timeout=HTTP_TIMEOUT_SECONDS
        )
        response.raise_for_status()
        return response

    def set_user(self, sub: str, **claims: Any) -> None:
        """The provider's account `sub` now has exactly these claims (email, name…)."""
        self._call("PUT", f"/test/users/{quote(sub, safe='')}", claims)

    def tamper_next(
        self,
        claims: dict[str, Any] | None = None,
        *,
        sign_with: Literal["provider", "foreign"] = "provider",
        kid: str | None = None,
    ) -> None:
        """Rewrite the id_token of the next successful token response, once.

        `claims` are merged into its payload (None removes a claim); it is re-signed RS256
        with the provider's key or a freshly generated foreign one, under `kid` (default: the
        provider's kid).
        """
        body: dict[str, Any] = {"claims": claims or {}, "sign_with": sign_with}
        if kid is not None:
            body["kid"] = kid
        self._call("PUT", "/test/tamper", body)

    def request_counts(self) -> dict[str, int]:
        """Requests the provider answered, by path (e.g. "/jwks", "/token", "/me")."""
        counts: dict[str, int] = self._call("GET", "/test/requests").json()
        return counts

    def reset_counts(self) -> None:
        self._call("POST", "/test/requests/reset")

    def provider_setting(
        self,
        name: str = "local",
        *,
        client: Literal["main", "other"] = "main",
        scopes: list[str] | None = None,
    ) -> dict[str, Any]:
        """An entry of the app's oidc_providers setting for this provider."""
        client_id, client_secret = (
            (self.client_id, self.client_secret)
            if client == "main"
            else (self.other_client_id, self.other_client_secret)
        )
        return {
            "name": name,
            "issuer": self.issuer,
            "client_id": client_id,
            "client_secret": client_secret,
            "scopes": list(DEFAULT_SCOPES) if scopes is None else scopes,
        }


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextmanager
def start_provider(
    *,
    conform_id_token_claims: bool = True,
    issuer_trailing_slash: bool = False,
    app_urls: tuple[str, ...] = (PUBLIC_URL,),
) -> Iterator[OidcProvider]:
    """Run the provider until the block ends; its clients accept the callbacks of the apps
    at `app_urls` (public URLs).

    conform_id_token_claims=False puts the scope claims (email, email_verified, name) into
    the id_token as well, as Google does; by default the id_token has `sub` and the rest
    comes from userinfo. issuer_trailing_slash=True spells the issuer with a final "/".
    """
    node = shutil.which("node")
    if node is None:
        service_missing(SERVICE_NAME, FileNotFoundError("node is not on PATH"))
    assert node is not None
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        service_missing(
            SERVICE_NAME,
            FileNotFoundError(
                "tests/oidc_provider/node_modules is not installed "
                "(make pytest, or npm ci --prefix tests/oidc_provider)"
            ),
        )
    provider_key = rsa_private_jwk(f"test-{secrets.token_hex(4)}")
    secret, other_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    redirect_uris = [callback_url(name, app) for app in app_urls for name in PROVIDER_NAMES]
    clients = [
        {"client_id": MAIN_CLIENT_ID, "client_secret": secret, "redirect_uris": redirect_uris},
        {
            "client_id": OTHER_CLIENT_ID,
            "client_secret": other_secret,
            "redirect_uris": redirect_uris,
        },
        {"client_id": NATIVE_CLIENT_ID, "redirect_uris": [NATIVE_REDIRECT]},
    ]
    env = {
        **os.environ,
        "OIDC_CLIENTS": json.dumps(clients),
        "OIDC_JWKS": json.dumps({"keys": [provider_key]}),
        "OIDC_CONFORM_ID_TOKEN_CLAIMS": "true" if conform_id_token_claims else "false",
        "OIDC_ISSUER_TRAILING_SLASH": "true" if issuer_trailing_slash else "false",
    }
    with tempfile.TemporaryFile() as log:
        try:
            process = subprocess.Popen(
                [node, str(SERVER_SCRIPT)],
                cwd=PROVIDER_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        except OSError as exc:
            service_missing(SERVICE_NAME, exc)
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:

            def failure(reason: str) -> AssertionError:
                stop_process(process, STOP_TIMEOUT_SECONDS)
                log.seek(0)
                output = log.read().decode("utf-8", errors="replace")
                return AssertionError(f"the OpenID provider {reason}; its stderr:\n{output}")

            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            issuer = None
            while issuer is None:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise failure(f"was not ready within {START_TIMEOUT_SECONDS} s") from None
                if line is None:
                    raise failure(f"exited with {process.wait()} before it was ready")
                if line.startswith("{"):
                    issuer = json.loads(line)["issuer"]
            yield OidcProvider(
                issuer=issuer,
                private_jwk=provider_key,
                client_id=MAIN_CLIENT_ID,
                client_secret=secret,
                other_client_id=OTHER_CLIENT_ID,
                other_client_secret=other_secret,
            )
        finally:
            stop_process(process, STOP_TIMEOUT_SECONDS)
            reader.join(timeout=STOP_TIMEOUT_SECONDS)
            process.stdout.close()


# --- the browser --------------------------------------------------------------------------
_FORM_ACTION = re.compile(r'<form[^>]*\saction="([^"]+)"[^>]*method="post"')
_PROMPT = re.compile(r'<input type="hidden" name="prompt" value="([a-z]+)"')
_INTERACTION_PATH = re.compile(r"^/interaction/([^/]+)$")
_FORM_POST = re.compile(r'<form method="post" action="([^"]+)">')
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"/>')


@dataclass(frozen=True)
class FormPost:
    """The provider's answer as a form its page posts to the app (response_mode=form_post)."""

    action: str
    fields: dict[str, str]


async def walk_provider(
    authorization_url: str, *, sub: str, until: Callable[[str], bool], deny: bool = False
) -> str | FormPost:
    """A browser at the provider, signed out there: signs in as `sub` and consents (or,
    deny=True, aborts), following redirects and forms until a URL for which `until` holds
    (the way back to the app); returns it."""
    url = authorization_url
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False) as provider:
        for _ in range(12):
            if until(url):
                return url
            response = await provider.get(url)
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            posted = _FORM_POST.search(response.text) if response.status_code == 200 else None
            if posted is not None and until(unescape(posted.group(1))):
                # response_mode=form_post: the provider's page posts the answer to the app
                fields = {name: unescape(value) for name, value in _HIDDEN.findall(response.text)}
                return FormPost(action=unescape(posted.group(1)), fields=fields)
            interaction = _INTERACTION_PATH.match(urlsplit(url).path)
            if response.status_code != 200 or interaction is None:
                raise AssertionError(
                    f"unexpected answer from the provider to GET {url}: "
                    f"{response.status_code}\n{response.text[:2000]}"
                )
            if deny:
                url = urljoin(url, f"/interaction/{interaction.group(1)}/abort")
                continue
            action, prompt = _FORM_ACTION.search(response.text), _PROMPT.search(response.text)
            if action is None or prompt is None:
                raise AssertionError(f"no interaction form at {url}:\n{response.text[:2000]}")
            form = {"prompt": prompt.group(1)}
            if form["prompt"] == "login":
                form |= {"login": sub, "password": "any"}
            submitted = await provider.post(urljoin(url, unescape(action.group(1))), data=form)
            assert submitted.is_redirect, (
                f"the provider refused the {form['prompt']} form: "
                f"{submitted.status_code}\n{submitted.text[:2000]}"
            )
            url = urljoin(url, submitted.headers["location"])
        raise AssertionError(f"the provider did not send the browser back to the app (at {url})")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def native_id_token(
    provider: OidcProvider, *, sub: str, token_nonce: str | None, scopes: str = "openid email"
) -> str:
    """What a mobile app gets from the provider's SDK: an id_token issued to the native
    client, through the provider's real authorization and token endpoints (PKCE, no
    client secret). `token_nonce` is the nonce the token will carry (an SDK sends the
    SHA-256 of the app's raw nonce: pass `sha256_hex(raw)`)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "client_id": NATIVE_CLIENT_ID,
        "redirect_uri": NATIVE_REDIRECT,
        "response_type": "code",
        "scope": scopes,
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    if token_nonce is not None:
        params["nonce"] = token_nonce
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as client:
        metadata = (await client.get(f"{provider.issuer}/.well-known/openid-configuration")).json()
        authorization_url = f"{metadata['authorization_endpoint']}?{urlencode(params)}"
        back = await walk_provider(
            authorization_url, sub=sub, until=lambda url: url.startswith(NATIVE_REDIRECT)
        )
        code = parse_qs(urlsplit(back).query)["code"][0]
        response = await client.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": NATIVE_REDIRECT,
                "client_id": NATIVE_CLIENT_ID,
                "code_verifier": verifier,
            },
        )
    assert response.status_code == 200, response.text
    id_token: str = response.json()["id_token"]
    return id_token


class OidcBrowser:
    """A user's browser: the app (a test's ASGI client) and the provider (real HTTP).

    The app's cookies (authapi_oauth, the refresh cookie) live in the app client. At the
    provider every `at_provider` starts without cookies, i.e. signed out there: `sub` is
    always who signs in (a provider session kept from an earlier flow would sign in its
    account instead, without a login form).
    """

    def __init__(self, app: httpx.AsyncClient, *, public_url: str = PUBLIC_URL) -> None:
        self.app = app
        self.public_url = public_url.rstrip("/")

    async def authorize(
        self, provider: str = "local", redirect_to: str | None = None
    ) -> httpx.Response:
        """The app's answer to GET /auth/oauth/{provider}/authorize (not followed)."""
        params = {} if redirect_to is None else {"redirect_to": redirect_to}
        return await self.app.get(
            f"/auth/oauth/{provider}/authorize", params=params, follow_redirects=False
        )

    async def at_provider(
        self, authorization_url: str, *, sub: str, deny: bool = False
    ) -> str | FormPost:
        """Sign in at the provider as `sub` and consent (or, deny=True, abort there).

        Follows the provider's redirects and forms until it sends the browser back to the
        app; returns that URL (code, state and iss in its query, or error=…), or the form
        its page posts to the app (response_mode=form_post).
        """
        return await walk_provider(authorization_url, sub=sub, deny=deny, until=self._is_app)

    def _is_app(self, url: str) -> bool:
        return url == self.public_url or url.startswith(self.public_url + "/")

    async def callback(self, callback_url: str | FormPost) -> httpx.Response:
        """The app's answer to the provider's redirect (not followed). A form_post answer is
        posted, and the app's 303 to its GET callback followed, as a browser does."""
        if isinstance(callback_url, FormPost):
            assert self._is_app(callback_url.action), callback_url.action
            posted = await self.app.post(
                urlsplit(callback_url.action).path, data=callback_url.fields
            )
            assert posted.status_code == 303, posted.text
            callback_url = urljoin(callback_url.action, posted.headers["location"])
        assert self._is_app(callback_url), callback_url
        parts = urlsplit(callback_url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self.app.get(target, follow_redirects=False)

    async def sign_in(
        self, provider: str = "local", *, sub: str, redirect_to: str | None = None
    ) -> httpx.Response:
        """authorize, at_provider, callback: the app's answer to the callback."""
        started = await self.authorize(provider, redirect_to)
        assert started.status_code == 302, started.text
        return await self.callback(await self.at_provider(started.headers["location"], sub=sub))

    async def link(
        self,
        access_token: str,
        provider: str = "local",
        *,
        sub: str,
        redirect_to: str | None = None,
        password: str | None = PASSWORD,
    ) -> httpx.Response:
        """POST /users/me/identities, at_provider, callback: the app's answer to the callback.

        `password` confirms the link (None: an account without one, recently signed in)."""
        started = await self.app.post(
            "/users/me/identities",
            json={"provider": provider, "redirect_to": redirect_to, "password": password},
            headers=bearer(access_token),
        )
        assert started.status_code == 200, started.text
        return await self.callback(
            await self.at_provider(started.json()["authorization_url"], sub=sub)
        )
