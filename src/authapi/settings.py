"""Configuration: one `Settings` object read from `AUTHAPI_*` environment variables.

Validators refuse unsafe or inconsistent configuration at start, so a bad value
is one clear line (`config_error_line`) instead of a traceback later. Values that
only make sense for local development are allowed but reported by
`Settings.dev_warnings()`, which the app logs loudly at start.
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias
from urllib.parse import urlsplit

import limits
from cryptography.fernet import Fernet
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from authapi.client_secret import ec_p256_key_problem
from authapi.redirects import RedirectAllowList
from authapi.relying_party import RelyingParty, Unusable, off_reason, relying_party
from authapi.store.topology import parse_redis_url

Algorithm: TypeAlias = Literal["ES256", "EdDSA", "RS256", "HS256"]
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
BUILT_IN_PAGES_PATH = "/account"
MIN_HS256_SECRET_BYTES = 32
MIN_CLIENT_SECRET_CHARS = 16


def usable_cpus() -> int:
    """CPUs this process may run on (a container's limit, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
GOOGLE_ISSUER = "https://accounts.google.com"
APPLE_ISSUER = "https://appleid.apple.com"
APPLE_SETTINGS = ("apple_client_id", "apple_team_id", "apple_key_id", "apple_private_key")


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


class SignedClientSecret(BaseModel):
    """A client secret the service signs itself (Sign in with Apple): an ES256 JWT from
    the team's private key (authapi.client_secret)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    team_id: str = Field(min_length=1, max_length=64)
    key_id: str = Field(min_length=1, max_length=64)
    private_key: SecretStr  # PEM (Apple's .p8 file): an EC P-256 private key
    audience: str  # the provider's issuer, as its token endpoint expects


class KnownEndpoints(BaseModel):
    """A provider's endpoints, known in advance: no discovery document is fetched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class OidcProvider(BaseModel):
    """One OpenID Connect provider (an entry of AUTHAPI_OIDC_PROVIDERS, or a preset)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    issuer: str
    client_id: str = Field(min_length=1, max_length=512)
    client_secret: SecretStr
    scopes: list[str] = ["openid", "email", "profile"]
    display_name: str | None = Field(default=None, max_length=64)
    # other spellings of the issuer that its id_tokens may carry (Google's bare host name)
    issuer_aliases: list[str] = []
    # native apps' client ids (iOS, Android) whose id_tokens POST …/id-token accepts, besides
    # client_id; empty: that endpoint accepts only tokens issued to client_id
    audiences: list[Annotated[str, Field(min_length=1, max_length=512)]] = []
    # whether a native app must send the nonce its token carries (as a SHA-256): "required"
    # (Apple); "optional" where an SDK sets a nonce the app cannot choose (Google on iOS)
    native_nonce: Literal["required", "optional"] = "required"
    # how the provider returns to the callback: a GET with the query, or a POSTed form
    # (Apple's `form_post`, needed for it to send the user's name)
    response_mode: Literal["query", "form_post"] = "query"
    # Apple's server-to-server notifications (consent revoked, account deleted) are accepted
    # at POST /auth/oauth/{name}/notifications (authapi.services.oidc_signin)
    notifications: bool = False
    # presets only (Apple): a secret signed per use instead of client_secret, and endpoints
    # known without discovery
    signed_secret: SignedClientSecret | None = Field(default=None, exclude=True)
    endpoints: KnownEndpoints | None = Field(default=None, exclude=True)

    @field_validator("issuer")
    @classmethod
    def _https_issuer(cls, issuer: str) -> str:
        parts = urlsplit(issuer)
        if parts.query or parts.fragment or not parts.hostname:
            raise ValueError(f"issuer {issuer!r} is not a URL like https://accounts.example.com")
        if parts.scheme != "https" and not is_loopback_http(issuer):
            raise ValueError(f"issuer {issuer!r} must use https (http only on localhost)")
        # kept as written: issuers compare exactly, and some end in "/" (Auth0's do)
        return issuer

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, scopes: list[str]) -> list[str]:
        if "openid" not in scopes:
            raise ValueError("scopes must include 'openid'")
        if any(not scope or " " in scope for scope in scopes):
            raise ValueError("each scope is one word")
        return scopes

    @property
    def label(self) -> str:
        return self.display_name or self.name.capitalize()

    @property
    def native_audiences(self) -> list[str]:
        """The audiences a native app's id_token may name: the web client and the apps."""
        return [self.client_id, *self.audiences]


class Settings(BaseSettings):
    """Every knob of the service. The README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="AUTHAPI_", extra="ignore", frozen=True)

    # --- where things live ---------------------------------------------------
    data_dir: Path = Path("authapi-data")
    database_url: str | None = None
    # "transaction" behind a pooler in transaction mode (PgBouncer): no prepared statements
    database_pool_mode: Literal["session", "transaction"] = "session"
    redis_url: str | None = None
    redis_prefix: str = Field(default="authapi", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    # --- identity of this service -------------------------------------------
    # the API's own public base: endpoints, provider callbacks, metadata, the cookie's site
    public_url: str = "http://127.0.0.1:8000"
    # where emailed links open (<app_url>/verify-email, /reset-password); None: built-in pages
    app_url: str | None = None
    issuer: str | None = None
    audience: str = "authapi"
    client_id: str = "authapi"

    # --- browsers ------------------------------------------------------------
    allowed_origins: Annotated[list[str], NoDecode] = []
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = []
    proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    rate_limit_ipv6_prefix: int = Field(default=64, ge=32, le=128)
    cookie_secure: bool | None = None
    refresh_cookie_name: str = Field(default="authapi_refresh", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    # --- accounts and passwords ---------------------------------------------
    require_verified_email: bool = True
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    hash_workers: int = Field(default_factory=lambda: usable_cpus(), ge=1, le=64)
    password_min_length: int = Field(default=15, ge=8, le=64)
    password_max_bytes: int = Field(default=1024, ge=256, le=4096)
    verification_token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    reset_token_ttl_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    login_rate_limit_per_ip: str = "30/minute;300/hour"
    login_rate_limit_per_account: str = "10/minute;50/hour;100/day"
    login_rate_limit_per_account_ip: str = "5/minute;20/hour;50/day"
    register_rate_limit_per_ip: str = "10/hour"
    refresh_rate_limit_per_session: str = "60/minute"
    email_rate_limit_per_address: str = "5/hour"
    email_rate_limit_per_ip: str = "30/hour"

    # --- two-factor authentication ------------------------------------------
    mfa_issuer_name: str = Field(default="authapi", min_length=1, max_length=64, pattern=r"^[^:]+$")
    mfa_challenge_ttl_seconds: int = Field(default=300, ge=1, le=1800)
    mfa_challenge_max_attempts: int = Field(default=5, ge=1, le=20)
    mfa_rate_limit_per_user: str = "10/15minutes;30/day"
    mfa_rate_limit_per_session: str = "10/15minutes;30/day"

    # --- passkeys (WebAuthn): authapi.relying_party ---------------------------
    webauthn_rp_id: str | None = None
    webauthn_rp_name: str = Field(default="authapi", min_length=1, max_length=64)
    webauthn_origins: Annotated[list[str], NoDecode] = []
    passkey_challenge_ttl_seconds: int = Field(default=300, ge=30, le=600)
    passkey_rate_limit_per_ip: str = "60/minute;600/hour"

    # --- sign-in with OpenID Connect providers ------------------------------
    oidc_providers: list[OidcProvider] = []
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_audiences: Annotated[list[str], NoDecode] = []
    apple_client_id: str | None = Field(default=None, min_length=1, max_length=512)
    apple_team_id: str | None = Field(default=None, min_length=1, max_length=64)
    apple_key_id: str | None = Field(default=None, min_length=1, max_length=64)
    apple_private_key: SecretStr | None = None
    apple_audiences: Annotated[list[str], NoDecode] = []
    allowed_redirects: Annotated[list[str], NoDecode] = []
    oidc_state_ttl_seconds: int = Field(default=600, ge=30, le=600)
    # a native app's one-time authorization code (RFC 8252), between redirect and exchange
    oidc_code_ttl_seconds: int = Field(default=60, ge=10, le=600)
    oidc_http_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    oidc_rate_limit_per_ip: str = "30/minute;300/hour"
    oidc_cache_seconds: int = Field(default=3600, ge=60, le=24 * 3600)

    # --- tokens --------------------------------------------------------------
    jwt_algorithm: Algorithm = "ES256"
    signing_key_file: Path | None = None
    jwt_secret: SecretStr | None = None
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=10, le=24 * 3600)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    session_lifetime_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=300)
    clock_leeway_seconds: int = Field(default=10, ge=0, le=300)
    keys_reload_seconds: int = Field(default=60, ge=0, le=3600)
    encryption_keys: Annotated[list[SecretStr], NoDecode] = []

    # --- email ---------------------------------------------------------------
    smtp_url: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    email_from: str = "authapi <no-reply@localhost>"
    outbox_poll_seconds: float = Field(default=5.0, ge=0.05, le=300)
    outbox_retry_seconds: float = Field(default=30.0, ge=0.05, le=3600)

    # --- operations ----------------------------------------------------------
    introspection_clients: Annotated[list[SecretStr], NoDecode] = []
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    audit_retention_days: int = Field(default=365, ge=1, le=10 * 365)
    session_retention_days: int = Field(default=90, ge=1, le=10 * 365)

    # --- HTTP ----------------------------------------------------------------
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] | None = None

    # ------------------------------------------------------------------------
    @field_validator(
        "allowed_origins",
        "encryption_keys",
        "allowed_redirects",
        "introspection_clients",
        "webauthn_origins",
        "google_audiences",
        "apple_audiences",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        networks = []
        for item in _split_commas(value):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except (TypeError, ValueError):
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return networks

    @field_validator(
        "login_rate_limit_per_ip",
        "login_rate_limit_per_account",
        "login_rate_limit_per_account_ip",
        "register_rate_limit_per_ip",
        "refresh_rate_limit_per_session",
        "email_rate_limit_per_address",
        "email_rate_limit_per_ip",
        "mfa_rate_limit_per_user",
        "mfa_rate_limit_per_session",
        "oidc_rate_limit_per_ip",
        "passkey_rate_limit_per_ip",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            limits.parse_many(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate like '5/hour' or '10/15minutes;30/day'"
            ) from None
        return value

    @field_validator("refresh_rate_limit_per_session")
    @classmethod
    def _one_window(cls, value: str) -> str:
        if len(limits.parse_many(value)) != 1:
            raise ValueError(f"{value!r} must be one rate like '60/minute' (a single window)")
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _explicit_origins(cls, origins: list[str]) -> list[str]:
        cleaned = []
        for origin in origins:
            if origin == "*":
                raise ValueError("'*' is not allowed: list each origin (credentials are on)")
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
            cleaned.append(_origin_of(origin))
        return cleaned

    @field_validator("introspection_clients")
    @classmethod
    def _client_pairs(cls, clients: list[SecretStr]) -> list[SecretStr]:
        ids = []
        for position, client in enumerate(clients, start=1):
            client_id, _, secret = client.get_secret_value().partition(":")
            if not client_id or len(secret) < MIN_CLIENT_SECRET_CHARS:
                raise ValueError(
                    f"entry #{position} must be id:secret with a secret of at least "
                    f"{MIN_CLIENT_SECRET_CHARS} characters"
                )
            ids.append(client_id)
        if len(ids) != len(set(ids)):
            raise ValueError("each client id may appear once")
        return clients

    @field_validator("allowed_redirects")
    @classmethod
    def _redirect_entries(cls, entries: list[str]) -> list[str]:
        RedirectAllowList(entries)  # raises ValueError naming the first bad entry
        return entries

    @field_validator("public_url", "app_url", "issuer")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError(f"{url!r} must not have a query or fragment")
        return url.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if url.startswith(("postgres://", "postgresql://")):
            # accept the common libpq spelling and pick the async driver ourselves
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("use postgresql+asyncpg://… or sqlite+aiosqlite:///…")
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str | None) -> str | None:
        if url is not None:
            parse_redis_url(url)
        return url

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            parts = urlsplit(url.get_secret_value())
            if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
                raise ValueError("use smtp://[user:pass@]host:port, smtp+starttls://… or smtps://…")
        return url

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.get_secret_value().encode())
            except ValueError:
                raise ValueError(
                    f"key #{position} is not 32 random bytes in URL-safe base64 "
                    "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                ) from None
        return keys

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.jwt_secret is not None:
            if self.jwt_algorithm != "HS256":
                raise ValueError("AUTHAPI_JWT_SECRET is only used with AUTHAPI_JWT_ALGORITHM=HS256")
            if len(self.jwt_secret.get_secret_value().encode()) < MIN_HS256_SECRET_BYTES:
                raise ValueError(
                    f"AUTHAPI_JWT_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256"
                )
        if self.signing_key_file is not None:
            if self.jwt_algorithm == "HS256":
                raise ValueError(
                    "AUTHAPI_SIGNING_KEY_FILE holds a private key; HS256 uses AUTHAPI_JWT_SECRET"
                )
            if not self.signing_key_file.is_file():
                raise ValueError(f"AUTHAPI_SIGNING_KEY_FILE {self.signing_key_file} does not exist")
        if self.database_pool_mode == "transaction" and not self.effective_database_url.startswith(
            "postgresql"
        ):
            raise ValueError(
                "AUTHAPI_DATABASE_POOL_MODE=transaction is for PostgreSQL behind a pooler: "
                "set AUTHAPI_DATABASE_URL"
            )
        if self.redis_url is not None and not self.encryption_keys:
            # A shared deployment needs one shared secret; a generated file per
            # instance would make every instance reject the others' refresh tokens.
            raise ValueError("AUTHAPI_ENCRYPTION_KEYS is required when AUTHAPI_REDIS_URL is set")
        if (self.google_client_id is None) != (self.google_client_secret is None):
            raise ValueError(
                "AUTHAPI_GOOGLE_CLIENT_ID and AUTHAPI_GOOGLE_CLIENT_SECRET go together"
            )
        given = [name for name in APPLE_SETTINGS if getattr(self, name) is not None]
        if given and len(given) != len(APPLE_SETTINGS):
            raise ValueError(
                "Sign in with Apple needs all of "
                + ", ".join(f"AUTHAPI_{name.upper()}" for name in APPLE_SETTINGS)
            )
        if self.apple_private_key is not None:
            problem = ec_p256_key_problem(self.apple_private_key.get_secret_value())
            if problem is not None:
                raise ValueError(f"AUTHAPI_APPLE_PRIVATE_KEY: {problem}")
        names = [provider.name for provider in self.identity_providers]
        if len(names) != len(set(names)):
            raise ValueError("AUTHAPI_OIDC_PROVIDERS: each provider needs its own name")
        if self.refresh_token_ttl_seconds > self.session_lifetime_seconds:
            raise ValueError(
                "AUTHAPI_REFRESH_TOKEN_TTL_SECONDS exceeds AUTHAPI_SESSION_LIFETIME_SECONDS"
            )
        if (
            self.issuer is not None
            and self.app_url is None
            and _origin_of(self.issuer) != _origin_of(self.public_url)
        ):
            # The configuration of releases before AUTHAPI_APP_URL, where PUBLIC_URL
            # named the application's pages and ISSUER the API: guessing which is
            # which would move endpoints or emailed links, so start refuses instead.
            raise ValueError(
                f"AUTHAPI_PUBLIC_URL ({self.public_url}) is on another host than AUTHAPI_ISSUER "
                f"({self.issuer}) and AUTHAPI_APP_URL is unset: AUTHAPI_PUBLIC_URL is now the "
                "API's own base (endpoints, callbacks, metadata) and AUTHAPI_APP_URL is where "
                "emailed links open; set both (the README's Production setup shows how)"
            )
        try:
            _ = self.relying_party
        except Unusable as exc:
            raise ValueError(f"AUTHAPI_WEBAUTHN_RP_ID / AUTHAPI_WEBAUTHN_ORIGINS: {exc}") from None
        return self

    # --- derived values -----------------------------------------------------
    @cached_property
    def relying_party(self) -> RelyingParty | None:
        """Who this service is to passkeys; None when they are off (see authapi.relying_party)."""
        return relying_party(
            public_url=self.public_url,
            rp_id=self.webauthn_rp_id,
            origins=self.webauthn_origins,
            name=self.webauthn_rp_name,
        )

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'authapi.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_log_format(self) -> Literal["json", "console"]:
        """Readable lines for the embedded default, JSON lines once a real database is set."""
        if self.log_format is not None:
            return self.log_format
        return "console" if self.database_url is None else "json"

    @property
    def effective_issuer(self) -> str:
        return self.issuer or self.public_url

    @property
    def effective_app_url(self) -> str:
        """Where emailed links open: AUTHAPI_APP_URL, or the built-in pages."""
        return self.app_url or f"{self.public_url}{BUILT_IN_PAGES_PATH}"

    @property
    def redirect_targets(self) -> list[str]:
        """Where a provider sign-in may send the browser back: AUTHAPI_ALLOWED_REDIRECTS (the
        first is the default), then the built-in pages, which are this service's own."""
        return [*self.allowed_redirects, f"{self.public_url}{BUILT_IN_PAGES_PATH}/"]

    @property
    def effective_cookie_secure(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_url.startswith("https://")

    @property
    def identity_providers(self) -> list[OidcProvider]:
        """AUTHAPI_OIDC_PROVIDERS, plus Google when its client is configured."""
        providers = list(self.oidc_providers)
        if self.google_client_id is not None and self.google_client_secret is not None:
            providers.append(
                OidcProvider(
                    name="google",
                    display_name="Google",
                    issuer=GOOGLE_ISSUER,
                    client_id=self.google_client_id,
                    client_secret=self.google_client_secret,
                    issuer_aliases=["accounts.google.com"],
                    audiences=self.google_audiences,
                    # Google Sign-In for iOS puts a nonce of its own choosing in the token
                    native_nonce="optional",
                )
            )
        if self.apple_client_id is not None:
            providers.append(self._apple())
        return providers

    def _apple(self) -> OidcProvider:
        """Sign in with Apple: fixed endpoints, a signed client secret, form_post."""
        client_id, team_id = self.apple_client_id, self.apple_team_id
        key_id, private_key = self.apple_key_id, self.apple_private_key
        assert client_id is not None  # _consistent: all four or none
        assert team_id is not None
        assert key_id is not None
        assert private_key is not None
        return OidcProvider(
            name="apple",
            display_name="Apple",
            issuer=APPLE_ISSUER,
            client_id=client_id,
            client_secret=SecretStr(""),  # never sent: signed_secret is
            scopes=["openid", "email", "name"],
            audiences=self.apple_audiences,
            native_nonce="required",
            # Apple sends the name (first sign-in only) in a POSTed form, never in a query
            response_mode="form_post",
            notifications=True,
            signed_secret=SignedClientSecret(
                team_id=team_id, key_id=key_id, private_key=private_key, audience=APPLE_ISSUER
            ),
            endpoints=KnownEndpoints(
                authorization_endpoint=f"{APPLE_ISSUER}/auth/authorize",
                token_endpoint=f"{APPLE_ISSUER}/auth/token",
                jwks_uri=f"{APPLE_ISSUER}/auth/keys",
            ),
        )

    @property
    def introspection_credentials(self) -> dict[str, str]:
        """Client id -> secret, from AUTHAPI_INTROSPECTION_CLIENTS."""
        pairs = (client.get_secret_value().partition(":") for client in self.introspection_clients)
        return {client_id: secret for client_id, _, secret in pairs}

    @cached_property
    def cross_site_origins(self) -> frozenset[str]:
        """Allowed origins on another site than the API: their pages cannot use the cookie."""
        from authapi.sites import same_site  # the suffix list is read only when needed

        return frozenset(
            origin.lower()
            for origin in self.allowed_origins
            if not same_site(origin, self.public_url)
        )

    @property
    def csrf_allowed_origins(self) -> frozenset[str]:
        """Origins allowed to use the refresh cookie: the allow-list plus the public URL's."""
        return frozenset([*self.allowed_origins, _origin_of(self.public_url)])

    def configuration_notices(self) -> list[str]:
        """Defaults that changed meaning between releases; each is logged as a warning at start."""
        notices = []
        if self.app_url is None and self.database_url is not None:
            notices.append(
                f"AUTHAPI_APP_URL is unset: emailed links open the built-in pages at "
                f"{self.effective_app_url}; if your application serves /verify-email and "
                "/reset-password, set AUTHAPI_APP_URL to its base (set it either way to "
                "silence this)"
            )
        return notices

    def dev_warnings(self) -> list[str]:
        """Development conveniences in effect; each is logged as a warning at start."""
        warnings = []
        if self.database_url is None:
            warnings.append(f"embedded SQLite database at {self.effective_database_url}")
        if self.redis_url is None:
            warnings.append("in-process token store: sessions live in this one process only")
        if self.smtp_url is None:
            warnings.append(
                f"console email: messages are printed and written to {self.data_dir / 'outbox'}, "
                "not delivered"
            )
        if not self.effective_cookie_secure:
            warnings.append("refresh cookie without Secure (plain-http development only)")
        if not self.encryption_keys:
            warnings.append(f"no AUTHAPI_ENCRYPTION_KEYS: using a generated key in {self.data_dir}")
        if self.signing_key_file is None and self.jwt_secret is None:
            warnings.append("no signing key configured: generated keys are kept in the database")
        for provider in self.identity_providers:
            if is_loopback_http(provider.issuer):
                warnings.append(
                    f"OpenID provider {provider.name!r} at {provider.issuer} over plain http"
                )
        if self.relying_party is None:
            warnings.append(
                f"passkeys are off: {off_reason(self.public_url)}; give AUTHAPI_PUBLIC_URL a "
                "domain name (http://localhost:8000 works for development)"
            )
        if self.bcrypt_rounds < 10:
            warnings.append(f"bcrypt cost {self.bcrypt_rounds} is below 10 (tests only)")
        return warnings


def config_error_line(error: ValidationError) -> str:
    """Render a settings ValidationError as one line naming the variables."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        message = item["msg"].removeprefix("Value error, ")
        # model-level checks name their variables in the message themselves
        if not item["loc"]:
            parts.append(message)
            continue
        first, *rest = item["loc"]
        # inside a JSON value: AUTHAPI_OIDC_PROVIDERS[0].client_id
        inner = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in rest)
        parts.append(f"AUTHAPI_{str(first).upper()}{inner}: {message}")
    return "invalid configuration: " + "; ".join(parts)
