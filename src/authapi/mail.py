"""Outgoing email: one `Mailer` interface, two transports, and a background sender.

- `ConsoleMailer` (embedded default): prints each message and writes it as an
  .eml file to `<data dir>/outbox/`, where the README's walkthrough reads links.
- `SmtpMailer`: aiosmtplib, plain / STARTTLS / implicit TLS per AUTHAPI_SMTP_URL.

`MailDispatcher.send_later` hands a message to a background task with retries,
so sending never blocks or fails the request that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from authapi.background import Background

log = logging.getLogger("authapi.mail")

RETRY_DELAYS_SECONDS = (1.0, 5.0, 30.0)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def build_message(email: Email, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="authapi")
    # 8bit keeps links on one line (quoted-printable would fold and escape them)
    message.set_content(email.text, cte="8bit")
    return message


class ConsoleMailer:
    def __init__(self, outbox: Path) -> None:
        self._outbox = outbox

    async def send(self, message: EmailMessage) -> None:
        self._outbox.mkdir(parents=True, exist_ok=True)
        # names sort by creation time, so `ls | tail -1` is the newest message
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}.eml"
        (self._outbox / name).write_bytes(bytes(message))
        # Development only (announced at start): the whole message, link included.
        print(
            f"\n----- email (not sent: console mode) -> {self._outbox / name}\n{message}",
            file=sys.stderr,
        )


class SmtpMailer:
    def __init__(self, url: str, *, timeout: float) -> None:
        parts = urlsplit(url)
        self._hostname = parts.hostname or "localhost"
        self._port = parts.port or (
            465 if parts.scheme == "smtps" else 587 if parts.scheme == "smtp+starttls" else 25
        )
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._use_tls = parts.scheme == "smtps"
        self._start_tls = parts.scheme == "smtp+starttls"
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._use_tls,
            start_tls=self._start_tls,
            timeout=self._timeout,
        )


class MailDispatcher:
    """Sends in the background with retries; the caller never waits or fails."""

    def __init__(
        self,
        mailer: Mailer,
        background: Background,
        *,
        sender: str,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    ) -> None:
        self._mailer = mailer
        self._background = background
        self._sender = sender
        self._retry_delays = retry_delays

    def send_later(self, email: Email) -> None:
        self._background.spawn(
            self._deliver(build_message(email, sender=self._sender)), name="email"
        )

    async def _deliver(self, message: EmailMessage) -> None:
        for attempt, delay in enumerate((0.0, *self._retry_delays), start=1):
            await asyncio.sleep(delay)
            try:
                await self._mailer.send(message)
                return
            except (aiosmtplib.SMTPException, OSError) as exc:
                log.warning("email delivery attempt %d failed: %s", attempt, type(exc).__name__)
        log.error("email to one recipient dropped after %d attempts", len(self._retry_delays) + 1)
