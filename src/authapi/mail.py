"""Outgoing email: the message format and the two transports behind one `Mailer`.

- `ConsoleMailer` (embedded default): prints each message and writes it as an
  .eml file to `<data dir>/outbox/`, where the README's walkthrough reads links.
- `SmtpMailer`: aiosmtplib, plain / STARTTLS / implicit TLS per AUTHAPI_SMTP_URL.

Nothing here is called by a request: requests write to the durable outbox
(`authapi.outbox`), whose sender hands messages to a `Mailer`.
Every message has a plain-text and an HTML part.
"""

from __future__ import annotations

import html
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


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    link: str | None = None  # the one URL the HTML part makes clickable


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def text_to_html(text: str, link: str | None = None) -> str:
    """The HTML part: the same words, paragraphs kept, and only `link` clickable.

    Other URL-like text (a user agent quoted in a security notice, say) stays
    plain text: our own emails must never carry a link someone else chose.
    """
    anchor = html.escape(link) if link else None
    paragraphs = []
    for paragraph in text.strip().split("\n\n"):
        escaped = html.escape(paragraph)
        if anchor:
            escaped = escaped.replace(anchor, f'<a href="{anchor}">{anchor}</a>')
        paragraphs.append("<p>" + escaped.replace("\n", "<br>\n") + "</p>")
    return (
        '<!DOCTYPE html>\n<html><body style="font-family: sans-serif; line-height: 1.5">\n'
        + "\n".join(paragraphs)
        + "\n</body></html>\n"
    )


def build_message(email: Email, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="authapi")
    # 8bit keeps links on one line (quoted-printable would fold and escape them)
    message.set_content(email.text, cte="8bit")
    message.add_alternative(text_to_html(email.text, email.link), subtype="html", cte="8bit")
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
        text = message.get_body(preferencelist=("plain",))
        print(
            f"\n----- email to {message['To']} (console mode, not sent) -> {self._outbox / name}\n"
            f"Subject: {message['Subject']}\n\n{text.get_content() if text else ''}",
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
