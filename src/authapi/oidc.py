"""The relying-party side of OpenID Connect: one `OidcClient` per configured provider.

It speaks the authorization-code flow with PKCE (S256) to one issuer: reads the
discovery document, builds the authorization URL, exchanges the code, and
verifies the id_token. What it trusts comes from the configured issuer only:
the discovery document must name that issuer, and keys come from its `jwks_uri`.

id_token checks (OpenID Connect Core §3.1.3.7): one of the asymmetric algorithms
the provider announces (never `none` or HS*), a key of the provider's JWKS with
the token's `kid`, `iss` equal to the issuer, `aud` containing our client id,
`azp` equal to it when present or when there are several audiences, `exp`, an
`iat` no older than the sign-in state, and the `nonce` we sent. A native app's
id_token (`native_identity`) may name any of the provider's `audiences` instead, and
carries the SHA-256 of the nonce the app sends.

Caching: the discovery document and the JWKS are kept for `cache_seconds`. A
token with a `kid` we do not know triggers one JWKS refetch (the provider may
have rotated its keys), but at most one per `refetch_interval_seconds`, so a
flood of made-up `kid`s cannot turn into a flood of requests to the provider.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import httpx
import jwt

from authapi.client_secret import ClientSecretSigner
from authapi.settings import OidcProvider, is_loopback_http

log = logging.getLogger("authapi.oidc")

# asymmetric only: an HS* id_token would be "signed" with our own client secret
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_DOCUMENT_BYTES = 512 * 1024


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with something unusable."""


class ProviderRefused(Exception):
    """The provider's token endpoint refused the code (its `error` is the message)."""


class InvalidIdToken(Exception):
    """The id_token failed a check; the message says which (for logs, not for users)."""


@dataclass(frozen=True)
class Metadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    signing_algorithms: frozenset[str]
    basic_auth: bool  # client_secret_basic supported (else client_secret_post)
    # RFC 9207: the provider promises to name itself (`iss`) in every authorization response
    iss_parameter_supported: bool = False


@dataclass(frozen=True)
class ProviderTokens:
    id_token: str
    access_token: str | None


@dataclass(frozen=True)
class NativeIdentity:
    identity: ExternalIdentity
    expires_at: float  # the id_token's `exp`: how long it must be remembered as used


@dataclass(frozen=True)
class ExternalIdentity:
    """Who the provider says signed in. `issuer` is the configured one (not an alias)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


T = TypeVar("T")


@dataclass
class _Cached(Generic[T]):
    value: T
    fetched_at: float


class OidcClient:
    def __init__(
        self,
        config: OidcProvider,
        http: httpx.AsyncClient,
        *,
        cache_seconds: float,
        leeway_seconds: float,
        max_age_seconds: float,
        refetch_interval_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._http = http
        self._cache_seconds = cache_seconds
        self._leeway = leeway_seconds
        self._max_age = max_age_seconds
        self._refetch_interval = refetch_interval_seconds
        self._clock = clock
        self._metadata: _Cached[Metadata] | None = None
        self._jwks: _Cached[dict[str, Any]] | None = None
        self._lock = asyncio.Lock()
        self._client_secret: Callable[[], str] = config.client_secret.get_secret_value
        if config.signed_secret is not None:
            self._client_secret = ClientSecretSigner(
                config.signed_secret, client_id=config.client_id, clock=clock
            )
        if config.endpoints is not None:
            # a preset whose endpoints are fixed and known (Apple): nothing to discover
            self._metadata = _Cached(
                Metadata(
                    authorization_endpoint=config.endpoints.authorization_endpoint,
                    token_endpoint=config.endpoints.token_endpoint,
                    jwks_uri=config.endpoints.jwks_uri,
                    userinfo_endpoint=None,
                    signing_algorithms=frozenset({"RS256"}),
                    basic_auth=False,  # client_secret_post, as Apple takes it
                ),
                fetched_at=math.inf,  # never stale
            )

    @property
    def name(self) -> str:
        return self.config.name

    # --- discovery and keys ------------------------------------------------------------
    async def metadata(self) -> Metadata:
        """Raises: ProviderUnavailable."""
        cached = self._fresh_metadata()
        if cached is not None:
            return cached
        async with self._lock:
            return await self._metadata_unlocked()

    def _fresh_metadata(self) -> Metadata | None:
        cached = self._metadata
        if cached is None or self._clock() - cached.fetched_at >= self._cache_seconds:
            return None
        return cached.value

    async def _metadata_unlocked(self) -> Metadata:
        cached = self._fresh_metadata()  # another task may have fetched it while we waited
        if cached is not None:
            return cached
        # Discovery §4: a terminating "/" of the issuer goes before the suffix is appended
        base = self.config.issuer.removesuffix("/")
        document = await self._get_json(f"{base}/.well-known/openid-configuration")
        metadata = self._parse_metadata(document)
        self._metadata = _Cached(metadata, self._clock())
        return metadata

    def _parse_metadata(self, document: dict[str, Any]) -> Metadata:
        # Discovery §4.3: the document must name the issuer we asked (no mix-up)
        named = document.get("issuer")
        if named != self.config.issuer:
            hint = ""
            if isinstance(named, str) and named.rstrip("/") == self.config.issuer.rstrip("/"):
                hint = f" (set the provider's issuer exactly as it spells it: {named})"
            raise ProviderUnavailable(
                f"discovery document names issuer {named!r}, not {self.config.issuer!r}{hint}"
            )
        endpoints = {}
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            endpoints[field] = self._endpoint(document.get(field), field)
        userinfo = document.get("userinfo_endpoint")
        algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        auth_methods = document.get("token_endpoint_auth_methods_supported") or [
            "client_secret_basic"
        ]
        return Metadata(
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"],
            jwks_uri=endpoints["jwks_uri"],
            userinfo_endpoint=self._endpoint(userinfo, "userinfo_endpoint") if userinfo else None,
            signing_algorithms=SIGNING_ALGORITHMS & {str(alg) for alg in algorithms},
            basic_auth="client_secret_basic" in auth_methods
            or "client_secret_post" not in auth_methods,
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported")
            is True,
        )

    def _endpoint(self, url: Any, field: str) -> str:
        if not isinstance(url, str):
            raise ProviderUnavailable(f"discovery document has no {field}")
        parts = urlsplit(url)
        secure = parts.scheme == "https" or (
            is_loopback_http(url) and is_loopback_http(self.config.issuer)
        )
        if not secure or not parts.hostname:
            raise ProviderUnavailable(f"discovery document's {field} is not an https URL")
        return url

    async def _keys(self, *, refetch: bool) -> dict[str, Any]:
        cached = self._jwks
        if cached is not None and not self._jwks_due(cached, refetch=refetch):
            return cached.value
        async with self._lock:
            if self._jwks is not None and self._jwks is not cached:
                # another task fetched them while we waited: one fetch serves all
                return self._jwks.value
            metadata = await self._metadata_unlocked()
            document = await self._get_json(metadata.jwks_uri)
            keys = document if isinstance(document.get("keys"), list) else {"keys": []}
            self._jwks = _Cached(keys, self._clock())
            return keys

    def _jwks_due(self, cached: _Cached[dict[str, Any]], *, refetch: bool) -> bool:
        age = self._clock() - cached.fetched_at
        return age >= self._cache_seconds or (refetch and age >= self._refetch_interval)

    async def _signing_key(self, kid: str | None, algorithm: str) -> Any:
        keys = await self._keys(refetch=False)
        jwk = _find_key(keys, kid)
        if jwk is None:
            # the provider may have rotated its keys: look again (throttled)
            keys = await self._keys(refetch=True)
            jwk = _find_key(keys, kid)
        if jwk is None:
            raise InvalidIdToken(f"no key with kid {kid!r} in the provider's JWKS")
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", algorithm) != algorithm:
            raise InvalidIdToken("the key with this kid is not for this algorithm")
        try:
            return jwt.PyJWK(jwk, algorithm=algorithm).key
        except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
            raise InvalidIdToken(f"unusable key: {exc}") from None

    async def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._http.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"GET {url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"GET {url}: HTTP {response.status_code}")
        return _json_object(response, url)

    # --- the flow ----------------------------------------------------------------------
    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """Raises: ProviderUnavailable."""
        metadata = await self.metadata()
        parameters = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if self.config.response_mode == "form_post":
            parameters["response_mode"] = "form_post"
        query = urlencode(parameters)
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return f"{metadata.authorization_endpoint}{separator}{query}"

    async def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> ProviderTokens:
        """Trade the authorization code for tokens.

        Raises: ProviderUnavailable, ProviderRefused.
        """
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        secret = self._client_secret()
        headers = {"Accept": "application/json"}
        if metadata.basic_auth:
            # RFC 6749 §2.3.1: both parts are form-encoded before the Basic encoding
            pair = f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {"client_id": self.config.client_id, "client_secret": secret}
        try:
            response = await self._http.post(
                metadata.token_endpoint,
                data=form,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"token endpoint: {type(exc).__name__}") from None
        if response.status_code in (400, 401):
            error = _json_object(response, "token endpoint", lenient=True).get("error")
            raise ProviderRefused(str(error or f"HTTP {response.status_code}")[:64])
        if response.status_code != 200:
            raise ProviderUnavailable(f"token endpoint: HTTP {response.status_code}")
        body = _json_object(response, "token endpoint")
        id_token, access_token = body.get("id_token"), body.get("access_token")
        if not isinstance(id_token, str):
            raise ProviderRefused("no id_token in the token response")
        return ProviderTokens(
            id_token=id_token,
            access_token=access_token if isinstance(access_token, str) else None,
        )

    async def identity(self, tokens: ProviderTokens, *, nonce: str) -> ExternalIdentity:
        """Verify the id_token and read who signed in (asking userinfo for a missing email).

        Raises: InvalidIdToken, ProviderUnavailable.
        """
        claims = await self.verify_id_token(tokens.id_token, nonce=nonce)
        if "email" not in claims and tokens.access_token is not None:
            claims = {**claims, **await self._userinfo(tokens.access_token, claims["sub"])}
        return self._identity_of(claims)

    async def native_identity(self, id_token: str, *, nonce: str | None) -> NativeIdentity:
        """Who a native app's id_token (from the platform's SDK) says signed in.

        The audience may be any of the provider's native client ids. The app sends the
        raw nonce it gave the SDK and the token carries its SHA-256 (hex), as Apple's and
        Google's SDKs do: the raw value in the token, or no nonce in it when the app sent
        one, is refused; without one from the app, the provider's `native_nonce` rule
        says whether the token may be taken (an SDK that sets its own nonce).

        Raises: InvalidIdToken, ProviderUnavailable.
        """
        claims = await self._verified_claims(id_token, audiences=self.config.native_audiences)
        sent = claims.get("nonce")
        if nonce is not None:
            expected = hashlib.sha256(nonce.encode()).hexdigest()
            if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
                raise InvalidIdToken("nonce is not the SHA-256 of the app's nonce")
        elif self.config.native_nonce == "required":
            raise InvalidIdToken("the app sent no nonce, and this provider requires one")
        return NativeIdentity(self._identity_of(claims), expires_at=float(claims["exp"]))

    async def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The id_token's claims, after every check of the module docstring.

        Raises: InvalidIdToken, ProviderUnavailable.
        """
        claims = await self._verified_claims(id_token, audiences=[self.config.client_id])
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, nonce):
            raise InvalidIdToken("nonce does not match")
        return claims

    async def _verified_claims(self, id_token: str, *, audiences: list[str]) -> dict[str, Any]:
        """The claims of an id_token signed by the provider, for one of `audiences`, fresh,
        about a usable subject (every check but the nonce)."""
        claims = await self._signed_claims(
            id_token, audiences=audiences, required=["iss", "sub", "aud", "exp", "iat"]
        )
        named = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(named) > 1 or azp is not None) and azp not in audiences:
            raise InvalidIdToken("azp is not our client id")
        issued_at = claims["iat"]
        if not isinstance(issued_at, int | float) or (
            issued_at < self._clock() - self._max_age - self._leeway
        ):
            raise InvalidIdToken("iat is older than the sign-in")
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise InvalidIdToken("sub is not a string of 1 to 255 characters")
        return claims

    async def verify_notification(self, payload: str) -> dict[str, Any]:
        """The claims of a server-to-server notification (Apple's: a JWT the provider signs,
        for one of our client ids, with its `events`).

        Raises: InvalidIdToken, ProviderUnavailable.
        """
        return await self._signed_claims(
            payload,
            audiences=self.config.native_audiences,
            required=["iss", "aud", "iat", "events"],
        )

    async def _signed_claims(
        self, token: str, *, audiences: list[str], required: list[str]
    ) -> dict[str, Any]:
        """The claims of a JWT signed with a key of the provider's JWKS (an asymmetric
        algorithm it announces), from its issuer, for one of `audiences`, unexpired."""
        metadata = await self.metadata()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"unreadable: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in metadata.signing_algorithms:
            raise InvalidIdToken(f"algorithm {algorithm!r} is not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidIdToken("kid is not a string")
        key = await self._signing_key(kid, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audiences,
                issuer=[self.config.issuer, *self.config.issuer_aliases],
                leeway=self._leeway,
                options={"require": required},
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"{type(exc).__name__}: {exc}") from None
        return claims

    def _identity_of(self, claims: dict[str, Any]) -> ExternalIdentity:
        email = claims.get("email")
        name = claims.get("name")
        return ExternalIdentity(
            issuer=self.config.issuer,
            subject=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            # some providers (Apple) send the string "true"
            email_verified=claims.get("email_verified") is True
            or claims.get("email_verified") == "true",
            name=name[:200] if isinstance(name, str) else None,
        )

    async def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        metadata = await self.metadata()
        if metadata.userinfo_endpoint is None:
            return {}
        info = await self._get_json(
            metadata.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"}
        )
        # Core §5.3.2: a userinfo answer about someone else must not be used
        if info.get("sub") != subject:
            raise InvalidIdToken("userinfo sub differs from the id_token's")
        return {key: info[key] for key in ("email", "email_verified", "name") if key in info}


def _find_key(keys: dict[str, Any], kid: str | None) -> dict[str, Any] | None:
    candidates = [key for key in keys.get("keys", []) if isinstance(key, dict)]
    if kid is None:
        signing = [key for key in candidates if key.get("use", "sig") == "sig"]
        return signing[0] if len(signing) == 1 else None
    return next((key for key in candidates if key.get("kid") == kid), None)


def _json_object(response: httpx.Response, where: str, *, lenient: bool = False) -> dict[str, Any]:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(f"{where}: answer too large")
    try:
        value = json.loads(response.content)
    except ValueError:
        if lenient:
            return {}
        raise ProviderUnavailable(f"{where}: answer is not JSON") from None
    if not isinstance(value, dict):
        if lenient:
            return {}
        raise ProviderUnavailable(f"{where}: answer is not a JSON object")
    return value
