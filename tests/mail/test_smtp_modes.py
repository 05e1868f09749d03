"""SmtpMailer speaks each AUTHAPI_SMTP_URL scheme with the credentials in the URL:
smtp:// (plain), smtp+starttls:// and smtps:// (implicit TLS), verifying the server's
certificate against the trusted CAs (a throwaway CA here, trusted through SSL_CERT_FILE,
which `ssl.create_default_context()` reads when the context is made)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import quote

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authapi.mail import Email, SmtpMailer, build_message
from tests.conftest import unique_email
from tests.mail.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    ProductionApi,
    SmtpService,
    password_authenticator,
)

SCHEMES = ["smtp", "smtp+starttls", "smtps"]
TLS_SCHEMES = ["smtp+starttls", "smtps"]


# --- a throwaway CA and a certificate for 127.0.0.1 ------------------------------------
@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    certificate: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("authapi test CA"))
        .issuer_name(_name("authapi test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(
        ca=folder / "ca.pem", certificate=folder / "server.pem", key=folder / "server.key"
    )
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture
def trust_test_ca(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca))


# --- one server per scheme ------------------------------------------------------------
def server_for(scheme: str, tls_files: TlsFiles) -> SmtpService:
    """An SMTP server for `scheme` that checks the test's username and password.

    Each delivery records who signed in, so a test sees that the client did.
    """
    authenticator = password_authenticator(SMTP_USER, SMTP_PASSWORD)
    if scheme == "smtp":
        return SmtpService(authenticator=authenticator, auth_require_tls=False)
    if scheme == "smtp+starttls":
        # nothing but EHLO/STARTTLS before TLS, and AUTH offered only after it
        return SmtpService(
            authenticator=authenticator,
            auth_required=True,
            tls_context=tls_files.server_context(),
            require_starttls=True,
        )
    # implicit TLS: aiosmtpd does not count it as TLS for AUTH, hence auth_require_tls=False
    return SmtpService(
        authenticator=authenticator,
        auth_require_tls=False,
        ssl_context=tls_files.server_context(),
    )


@pytest.fixture(params=SCHEMES)
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def server(scheme: str, tls_files: TlsFiles) -> AsyncIterator[SmtpService]:
    async with server_for(scheme, tls_files).serving() as service:
        yield service


def url(
    scheme: str, server: SmtpService, *, user: str = SMTP_USER, password: str = SMTP_PASSWORD
) -> str:
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    return f"{scheme}://{credentials}{server.host}:{server.port}"


def a_message(subject: str) -> Email:
    return Email(to=unique_email("smtp"), subject=subject, text="Hello over SMTP.\n")


async def send(mailer_url: str, email: Email) -> None:
    mailer = SmtpMailer(mailer_url, timeout=5)
    await mailer.send(build_message(email, sender="authapi <no-reply@example.com>"))


# --- the tests ------------------------------------------------------------------------
@pytest.mark.usefixtures("trust_test_ca")
class TestEachScheme:
    async def test_delivers_with_the_credentials_from_the_url(
        self, scheme: str, server: SmtpService
    ) -> None:
        email = a_message(f"delivered over {scheme}")
        await send(url(scheme, server), email)

        [delivery] = server.collector.deliveries
        assert delivery.message["To"] == email.to
        assert delivery.message["Subject"] == email.subject
        assert delivery.login == SMTP_USER
        assert delivery.over_tls is (scheme != "smtp")

    async def test_a_wrong_password_fails_the_send(self, scheme: str, server: SmtpService) -> None:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await send(url(scheme, server, password="not the password"), a_message("refused"))
        assert server.collector.deliveries == []


class TestCertificates:
    @pytest.mark.parametrize("scheme", TLS_SCHEMES)
    async def test_a_certificate_from_an_untrusted_ca_is_refused(
        self, scheme: str, server: SmtpService, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        # smtps wraps the handshake's error in SMTPConnectError; STARTTLS raises it as is
        with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError)) as failure:
            await send(url(scheme, server), a_message("untrusted"))
        causes = [failure.value, failure.value.__cause__, failure.value.__context__]
        assert any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes), causes
        assert server.collector.deliveries == []

    def test_ssl_cert_file_decides_what_the_default_context_trusts(
        self, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """What the TLS tests rely on: aiosmtplib builds its context with
        ssl.create_default_context(), which reads SSL_CERT_FILE each time."""
        authority = x509.load_pem_x509_certificate(tls_files.ca.read_bytes())
        subject = authority.subject.rfc4514_string()

        def trusted_subjects() -> set[str]:
            context = ssl.create_default_context()
            return {
                ", ".join("=".join(pair) for rdn in cert["subject"] for pair in rdn)
                for cert in context.get_ca_certs()
            }

        monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca))
        assert trusted_subjects() == {subject.replace("CN=", "commonName=")}
        monkeypatch.delenv("SSL_CERT_FILE")
        assert subject.replace("CN=", "commonName=") not in trusted_subjects()


class TestDowngrades:
    async def test_starttls_url_refuses_a_server_without_starttls(
        self, tls_files: TlsFiles, trust_test_ca: None
    ) -> None:
        plain = server_for("smtp", tls_files)
        plain.start()
        try:
            with pytest.raises(aiosmtplib.SMTPException, match="STARTTLS"):
                await send(url("smtp+starttls", plain), a_message("downgraded"))
            await plain.quiet()
        finally:
            plain.stop()
        assert plain.collector.deliveries == []

    async def test_an_unresponsive_server_fails_the_send_within_the_timeout(self) -> None:
        connections: list[asyncio.StreamWriter] = []

        async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(writer)
            await reader.read()  # until the client gives up

        silent = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        try:
            mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", timeout=0.5)
            started = time.monotonic()
            with pytest.raises(aiosmtplib.SMTPException):
                await mailer.send(build_message(a_message("silence"), sender="a@example.com"))
            assert time.monotonic() - started < 3
        finally:
            silent.close()
            for writer in connections:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            await silent.wait_closed()


class TestThroughTheApp:
    async def test_the_app_delivers_over_starttls_with_url_credentials(
        self, production_api: ProductionApi, tls_files: TlsFiles, trust_test_ca: None
    ) -> None:
        server = server_for("smtp+starttls", tls_files)
        server.start()
        try:
            async with production_api(server, smtp_url=url("smtp+starttls", server)) as api:
                address = await api.create_user()  # needs the emailed link to arrive
            await server.quiet()
        finally:
            server.stop()
        [delivery] = [d for d in server.collector.deliveries if d.message["To"] == address]
        assert delivery.over_tls
        assert delivery.login == SMTP_USER
