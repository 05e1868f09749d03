"""Settings: bad values fail with one clear line, lists come comma-separated from the
environment, and the defaults are the documented ones."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from authapi.settings import Settings, config_error_line


def error_line(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    line = config_error_line(caught.value)
    assert "\n" not in line
    assert line.startswith("invalid configuration: ")
    return line


class TestBadValues:
    def test_unknown_algorithm(self) -> None:
        line = error_line(jwt_algorithm="XS256")
        assert "AUTHAPI_JWT_ALGORITHM" in line
        assert "ES256" in line

    @pytest.mark.parametrize(
        "name",
        ["login_rate_limit_per_account", "mfa_rate_limit_per_user", "email_rate_limit_per_ip"],
    )
    def test_bad_rate_is_named(self, name: str) -> None:
        assert f"AUTHAPI_{name.upper()}" in error_line(**{name: "often"})

    def test_refresh_budget_is_one_window(self) -> None:
        line = error_line(refresh_rate_limit_per_session="60/minute;600/hour")
        assert "AUTHAPI_REFRESH_RATE_LIMIT_PER_SESSION" in line
        assert "single window" in line
        assert Settings(refresh_rate_limit_per_session="5/second").refresh_rate_limit_per_session

    def test_short_hs256_secret(self) -> None:
        line = error_line(jwt_algorithm="HS256", jwt_secret="0123456789")
        assert "AUTHAPI_JWT_SECRET" in line
        assert "32 bytes" in line
        assert "0123456789" not in line

    def test_hs256_secret_of_exactly_32_bytes_is_accepted(self) -> None:
        settings = Settings(jwt_algorithm="HS256", jwt_secret="s" * 32)
        assert settings.jwt_secret is not None

    def test_secret_with_an_asymmetric_algorithm(self) -> None:
        line = error_line(jwt_secret="s" * 40)
        assert "AUTHAPI_JWT_SECRET" in line
        assert "HS256" in line

    @pytest.mark.parametrize("origins", ["*", "https://app.example.com,*"])
    def test_wildcard_origin(self, origins: str) -> None:
        line = error_line(allowed_origins=origins)
        assert "AUTHAPI_ALLOWED_ORIGINS" in line
        assert "'*'" in line

    @pytest.mark.parametrize("origin", ["app.example.com", "https://app.example.com/login"])
    def test_origin_that_is_not_an_origin(self, origin: str) -> None:
        assert "AUTHAPI_ALLOWED_ORIGINS" in error_line(allowed_origins=origin)

    def test_bad_encryption_key_is_named_but_not_echoed(self) -> None:
        good = Fernet.generate_key().decode()
        line = error_line(encryption_keys=f"{good},not-a-real-key")
        assert "AUTHAPI_ENCRYPTION_KEYS" in line
        assert "key #2" in line
        assert "not-a-real-key" not in line
        assert good not in line

    def test_redis_without_encryption_keys(self) -> None:
        line = error_line(redis_url="redis://127.0.0.1:6379/0")
        assert "AUTHAPI_ENCRYPTION_KEYS is required when AUTHAPI_REDIS_URL is set" in line

    def test_redis_with_encryption_keys_is_accepted(self) -> None:
        settings = Settings(
            redis_url="redis://127.0.0.1:6379/0", encryption_keys=Fernet.generate_key().decode()
        )
        assert settings.redis_url == "redis://127.0.0.1:6379/0"

    def test_redis_url_with_another_scheme(self) -> None:
        assert "AUTHAPI_REDIS_URL" in error_line(redis_url="http://127.0.0.1:6379")

    @pytest.mark.parametrize(
        "url", ["ftp://mailer:hunter2-secret@mail.example.com", "smtp://", "mail.example.com:25"]
    )
    def test_bad_smtp_url_is_named_without_its_password(self, url: str) -> None:
        line = error_line(smtp_url=url)
        assert "AUTHAPI_SMTP_URL" in line
        assert "hunter2-secret" not in line

    @pytest.mark.parametrize(
        "url",
        [
            "smtp://mail.example.com:25",
            "smtp+starttls://user:pass@mail.example.com:587",
            "smtps://mail.example.com",
        ],
    )
    def test_good_smtp_urls_are_accepted(self, url: str) -> None:
        settings = Settings(smtp_url=url)
        assert settings.smtp_url is not None
        assert settings.smtp_url.get_secret_value() == url

    def test_bad_database_url(self) -> None:
        assert "AUTHAPI_DATABASE_URL" in error_line(database_url="mysql://db.example.com/auth")

    def test_refresh_ttl_longer_than_the_session_lifetime(self) -> None:
        line = error_line(refresh_token_ttl_seconds=7200, session_lifetime_seconds=3600)
        assert "AUTHAPI_REFRESH_TOKEN_TTL_SECONDS" in line

    def test_several_bad_values_are_all_named_on_one_line(self) -> None:
        line = error_line(bcrypt_rounds=3, access_token_ttl_seconds=1)
        assert "AUTHAPI_BCRYPT_ROUNDS" in line
        assert "AUTHAPI_ACCESS_TOKEN_TTL_SECONDS" in line

    def test_bad_trusted_proxy_is_one_readable_line(self) -> None:
        line = error_line(trusted_proxies="10.0.0.0/8,not-an-address")
        assert "AUTHAPI_TRUSTED_PROXIES" in line
        # pydantic's union internals are not something an operator can act on
        assert "LAX-OR-STRICT" not in line
        assert "FUNCTION-" not in line
        assert len(line) < 200, line

    def test_public_url_must_be_http(self) -> None:
        assert "AUTHAPI_PUBLIC_URL" in error_line(public_url="ftp://app.example.com")


class TestEnvironment:
    def test_lists_are_comma_separated(self, monkeypatch: pytest.MonkeyPatch) -> None:
        keys = [Fernet.generate_key().decode() for _ in range(2)]
        monkeypatch.setenv(
            "AUTHAPI_ALLOWED_ORIGINS", " https://app.example.com, https://Admin.Example.com/ ,"
        )
        monkeypatch.setenv("AUTHAPI_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1,2001:db8::/32")
        monkeypatch.setenv("AUTHAPI_ENCRYPTION_KEYS", ",".join(keys))

        settings = Settings()

        assert settings.allowed_origins == ["https://app.example.com", "https://admin.example.com"]
        assert settings.trusted_proxies == [
            ipaddress.ip_network("10.0.0.0/8"),
            ipaddress.ip_network("192.0.2.1/32"),
            ipaddress.ip_network("2001:db8::/32"),
        ]
        assert [key.get_secret_value() for key in settings.encryption_keys] == keys

    def test_empty_list_variable_means_no_entries(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AUTHAPI_ALLOWED_ORIGINS", "")
        monkeypatch.setenv("AUTHAPI_TRUSTED_PROXIES", "")
        settings = Settings()
        assert settings.allowed_origins == []
        assert settings.trusted_proxies == []

    def test_scalars_are_read_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AUTHAPI_JWT_ALGORITHM", "EdDSA")
        monkeypatch.setenv("AUTHAPI_REQUIRE_VERIFIED_EMAIL", "false")
        monkeypatch.setenv("AUTHAPI_ACCESS_TOKEN_TTL_SECONDS", "300")
        monkeypatch.setenv("AUTHAPI_PUBLIC_URL", "https://auth.example.com/")
        settings = Settings()
        assert settings.jwt_algorithm == "EdDSA"
        assert settings.require_verified_email is False
        assert settings.access_token_ttl_seconds == 300
        assert settings.public_url == "https://auth.example.com"
        assert settings.effective_issuer == "https://auth.example.com"

    def test_bad_environment_value_is_one_line_naming_the_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AUTHAPI_ALLOWED_ORIGINS", "https://app.example.com,*")
        with pytest.raises(ValidationError) as caught:
            Settings()
        line = config_error_line(caught.value)
        assert "\n" not in line
        assert "AUTHAPI_ALLOWED_ORIGINS" in line


class TestDefaults:
    @pytest.mark.requirement("ASVS-7.3.1", "ASVS-7.3.2", "NIST-63B-2.1.3", "RFC6750-5.3-a")
    def test_documented_defaults(self) -> None:
        settings = Settings()
        assert settings.jwt_algorithm == "ES256"
        assert settings.access_token_ttl_seconds == 15 * 60
        assert settings.refresh_token_ttl_seconds == 7 * 24 * 3600
        assert settings.session_lifetime_seconds == 30 * 24 * 3600
        assert settings.refresh_reuse_grace_seconds == 10
        assert settings.clock_leeway_seconds == 10
        assert settings.bcrypt_rounds == 12
        assert settings.password_min_length == 15
        assert settings.require_verified_email is True
        assert settings.redis_url is None
        assert settings.smtp_url is None
        assert settings.allowed_origins == []
        assert settings.trusted_proxies == []

    def test_embedded_default_uses_sqlite_in_the_data_dir(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path)
        assert settings.is_sqlite
        assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/authapi.db"

    def test_issuer_defaults_to_the_public_url(self) -> None:
        settings = Settings(public_url="https://auth.example.com")
        assert settings.effective_issuer == "https://auth.example.com"
        named = Settings(issuer="https://id.example.com", app_url="https://app.example.com")
        assert named.effective_issuer == "https://id.example.com"

    def test_emailed_links_open_the_built_in_pages_unless_app_url_is_set(self) -> None:
        assert Settings(public_url="https://auth.example.com").effective_app_url == (
            "https://auth.example.com/account"
        )
        settings = Settings(
            public_url="https://auth.example.com", app_url="https://app.example.com/"
        )
        assert settings.effective_app_url == "https://app.example.com"

    def test_a_configuration_from_before_app_url_fails_at_start_naming_what_to_set(self) -> None:
        # PUBLIC_URL used to name the application's pages, ISSUER the API
        with pytest.raises(ValidationError) as raised:
            Settings(public_url="https://app.example.com", issuer="https://auth.example.com")
        line = config_error_line(raised.value)
        assert "\n" not in line
        assert "AUTHAPI_APP_URL" in line
        assert "AUTHAPI_PUBLIC_URL" in line
        # the same hosts with the two meanings spelled out start
        Settings(
            public_url="https://auth.example.com",
            app_url="https://app.example.com",
            issuer="https://auth.example.com",
        )

    def test_an_unset_app_url_is_announced_in_production_only(self) -> None:
        production = Settings(database_url="postgresql+asyncpg://db/authapi")
        assert any("AUTHAPI_APP_URL" in notice for notice in production.configuration_notices())
        assert Settings().configuration_notices() == []
        chosen = Settings(
            database_url="postgresql+asyncpg://db/authapi", app_url="https://a.example"
        )
        assert chosen.configuration_notices() == []

    @pytest.mark.requirement("NIST-63B-5.1.1-a", "RFC6750-5.3-b")
    def test_cookie_is_secure_exactly_when_the_public_url_is_https(self) -> None:
        assert Settings(public_url="https://auth.example.com").effective_cookie_secure is True
        assert Settings(public_url="http://127.0.0.1:8000").effective_cookie_secure is False
        assert (
            Settings(public_url="http://127.0.0.1:8000", cookie_secure=True).effective_cookie_secure
            is True
        )

    def test_libpq_database_url_gets_the_async_driver(self) -> None:
        settings = Settings(database_url="postgresql://user@db.example.com/auth")
        assert settings.database_url == "postgresql+asyncpg://user@db.example.com/auth"


class TestOpenIdProviders:
    PROVIDER: ClassVar[dict[str, str]] = {
        "name": "corp",
        "issuer": "https://sso.example.com/realms/main/",
        "client_id": "authapi",
        "client_secret": "s3cr3t-value",
    }
    REDIRECTS = "https://app.example.com/signed-in"

    def test_a_provider_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AUTHAPI_OIDC_PROVIDERS", json.dumps([self.PROVIDER]))
        monkeypatch.setenv(
            "AUTHAPI_ALLOWED_REDIRECTS", f"{self.REDIRECTS}, https://app.example.com/app/"
        )
        settings = Settings()
        (provider,) = settings.identity_providers
        assert provider.name == "corp"
        # kept as written: issuers compare exactly (discovery says whether "/" belongs)
        assert provider.issuer == "https://sso.example.com/realms/main/"
        assert provider.scopes == ["openid", "email", "profile"]
        assert provider.label == "Corp"
        assert settings.allowed_redirects == [self.REDIRECTS, "https://app.example.com/app/"]
        assert "s3cr3t-value" not in repr(settings)

    def test_google_needs_only_its_client(self) -> None:
        settings = Settings(
            google_client_id="1234.apps.googleusercontent.com",
            google_client_secret="GOCSPX-x",
            allowed_redirects=[self.REDIRECTS],
        )
        (google,) = settings.identity_providers
        assert (google.name, google.label) == ("google", "Google")
        assert google.issuer == "https://accounts.google.com"
        assert google.issuer_aliases == ["accounts.google.com"]
        assert "openid" in google.scopes
        assert "email" in google.scopes

    def test_google_id_without_secret(self) -> None:
        line = error_line(google_client_id="1234", allowed_redirects=[self.REDIRECTS])
        assert "AUTHAPI_GOOGLE_CLIENT_SECRET" in line

    def test_without_allowed_redirects_a_provider_returns_to_the_built_in_pages(self) -> None:
        settings = Settings(public_url="https://auth.example.com", oidc_providers=[self.PROVIDER])
        assert settings.redirect_targets == ["https://auth.example.com/account/"]

    def test_the_built_in_pages_come_after_the_allowed_redirects(self) -> None:
        settings = Settings(
            public_url="https://auth.example.com",
            oidc_providers=[self.PROVIDER],
            allowed_redirects=[self.REDIRECTS],
        )
        assert settings.redirect_targets == [self.REDIRECTS, "https://auth.example.com/account/"]

    def test_names_are_unique(self) -> None:
        line = error_line(
            oidc_providers=[self.PROVIDER, {**self.PROVIDER, "issuer": "https://other.example"}],
            allowed_redirects=[self.REDIRECTS],
        )
        assert "own name" in line

    @pytest.mark.parametrize(
        ("field", "value", "says"),
        [
            ("issuer", "http://sso.example.com", "https"),
            ("issuer", "https://sso.example.com/?x=1", "not a URL"),
            ("scopes", ["email"], "openid"),
            ("name", "Corp SSO", "name"),
            ("client_id", "", "client_id"),
        ],
    )
    def test_bad_provider(self, field: str, value: Any, says: str) -> None:
        line = error_line(
            oidc_providers=[{**self.PROVIDER, field: value}], allowed_redirects=[self.REDIRECTS]
        )
        assert "AUTHAPI_OIDC_PROVIDERS" in line
        assert says in line
        assert "s3cr3t-value" not in line

    def test_plain_http_on_localhost_is_a_development_setting(self) -> None:
        settings = Settings(
            oidc_providers=[{**self.PROVIDER, "issuer": "http://127.0.0.1:9000"}],
            allowed_redirects=[self.REDIRECTS],
        )
        assert any("plain http" in warning for warning in settings.dev_warnings())
        https = Settings(oidc_providers=[self.PROVIDER], allowed_redirects=[self.REDIRECTS])
        assert not any("plain http" in warning for warning in https.dev_warnings())

    @pytest.mark.parametrize(
        "entry", ["/signed-in", "//evil.example/", "https://a@app.example.com/", "javascript:x"]
    )
    def test_bad_allowed_redirect(self, entry: str) -> None:
        line = error_line(allowed_redirects=[entry])
        assert "AUTHAPI_ALLOWED_REDIRECTS" in line

    def test_state_lives_at_most_ten_minutes(self) -> None:
        assert Settings().oidc_state_ttl_seconds == 600
        assert "AUTHAPI_OIDC_STATE_TTL_SECONDS" in error_line(oidc_state_ttl_seconds=601)


@pytest.mark.requirement("NIST-63B-4.2.1.2-b")
def test_reset_links_live_an_hour_by_default_and_a_day_at_most() -> None:
    assert Settings().reset_token_ttl_seconds == 3600
    assert Settings(reset_token_ttl_seconds=24 * 3600).reset_token_ttl_seconds == 24 * 3600
    with pytest.raises(ValidationError):
        Settings(reset_token_ttl_seconds=24 * 3600 + 1)


class TestRelyingParty:
    """Passkeys: the RP id and origins default from the public URL; a pair no browser
    accepts stops the start with one line; defaults that cannot work turn passkeys off."""

    def test_defaults_come_from_the_public_url(self) -> None:
        party = Settings(public_url="https://auth.example.com/base").relying_party
        assert party is not None
        assert (party.id, party.origins) == ("auth.example.com", ("https://auth.example.com",))

    def test_a_shared_domain_with_the_applications_origins(self) -> None:
        party = Settings(
            public_url="https://auth.example.com",
            webauthn_rp_id="example.com",
            webauthn_origins="https://app.example.com, https://auth.example.com",
        ).relying_party
        assert party is not None
        assert party.id == "example.com"
        assert party.origins == ("https://app.example.com", "https://auth.example.com")

    def test_localhost_over_plain_http_is_allowed(self) -> None:
        party = Settings(public_url="http://localhost:8000").relying_party
        assert party is not None
        assert party.origins == ("http://localhost:8000",)

    @pytest.mark.parametrize(
        ("values", "said"),
        [
            ({"webauthn_rp_id": "example.org"}, "outside the relying-party id 'example.org'"),
            ({"webauthn_rp_id": "10.0.0.1"}, "not a domain name"),
            ({"webauthn_origins": "http://app.example.com"}, "plain http"),
            ({"webauthn_origins": "https://evil.test"}, "outside the relying-party id"),
            (
                {"webauthn_rp_id": "example.com", "webauthn_origins": "ftp://x.example.com"},
                "not an origin",
            ),
        ],
    )
    def test_a_pair_no_browser_accepts_fails_at_start(
        self, values: dict[str, str], said: str
    ) -> None:
        line = error_line(public_url="https://app.example.com", **values)
        assert "AUTHAPI_WEBAUTHN_RP_ID / AUTHAPI_WEBAUTHN_ORIGINS" in line
        assert said in line

    @pytest.mark.parametrize(
        "public_url", ["http://127.0.0.1:8000", "http://auth.internal", "http://[::1]:8000"]
    )
    def test_defaults_that_cannot_work_turn_passkeys_off_loudly(self, public_url: str) -> None:
        settings = Settings(public_url=public_url)
        assert settings.relying_party is None
        (warning,) = [w for w in settings.dev_warnings() if w.startswith("passkeys are off")]
        assert "AUTHAPI_PUBLIC_URL" in warning


class TestNativeAudiences:
    def test_a_provider_entry_lists_its_apps_and_its_nonce_rule(self) -> None:
        entry = {
            "name": "corp",
            "issuer": "https://sso.example.com",
            "client_id": "web",
            "client_secret": "s",
            "audiences": ["ios", "android"],
        }
        (provider,) = Settings(oidc_providers=[entry]).identity_providers
        assert provider.native_audiences == ["web", "ios", "android"]
        assert provider.native_nonce == "required"
        assert "AUTHAPI_OIDC_PROVIDERS" in error_line(
            oidc_providers=[{**entry, "native_nonce": "sometimes"}]
        )

    def test_the_google_preset_takes_its_apps_from_a_list_and_lets_the_sdk_choose_the_nonce(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AUTHAPI_GOOGLE_AUDIENCES", "1-ios.apps.googleusercontent.com, 2-and")
        settings = Settings(google_client_id="web", google_client_secret="s")
        (google,) = settings.identity_providers
        assert google.native_audiences == ["web", "1-ios.apps.googleusercontent.com", "2-and"]
        assert google.native_nonce == "optional"
