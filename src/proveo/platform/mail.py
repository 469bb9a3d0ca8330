"""Outgoing mail: a ``Mailer`` protocol with console and SMTP backends.

Mail is sent from worker jobs (the outbox), so ``send`` raises ``MailError`` on
transient failures and the job is retried; a malformed message is a bug and
raises ``ValueError`` instead.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import IO, Protocol

from proveo.platform.errors import ServiceUnavailable

__all__ = [
    "DEFAULT_FROM",
    "ConsoleMailer",
    "MailError",
    "Mailer",
    "Message",
    "SmtpMailer",
    "build_email",
]

DEFAULT_FROM = "Proveo <no-reply@proveo.local>"
log = logging.getLogger("proveo.mail")

# Headers the builder owns; letting callers set them would produce broken or
# spoofed messages.
_RESERVED = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


class MailError(ServiceUnavailable):
    """Delivery failed; ``permanent`` is true when the server refused for good.

    Transient failures (connection refused, timeouts, 4xx replies) are worth
    retrying; permanent ones (5xx replies such as an unknown recipient) are not.
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Message:
    """One e-mail to one recipient, with a plain-text and optional HTML body."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Mailer(Protocol):
    """A way to deliver ``Message`` objects."""

    def send(self, message: Message) -> None:
        """Deliver ``message`` or raise ``MailError`` (retriable)."""


def build_email(message: Message, mail_from: str) -> EmailMessage:
    """Build a MIME message: UTF-8, multipart/alternative when HTML is given.

    Raises:
        ValueError: a header is malformed (e.g. contains a line break) or
            reserved.
    """
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "proveo.local"
    email["Message-ID"] = make_msgid(domain=domain)
    for name, value in message.headers.items():
        if name.lower() in _RESERVED:
            raise ValueError(f"header {name!r} is set by the mailer")
        email[name] = value
    email.set_content(message.text, subtype="plain", charset="utf-8")
    if message.html is not None:
        email.add_alternative(message.html, subtype="html", charset="utf-8")
    return email


class ConsoleMailer:
    """Logs each message instead of sending it (development).

    The last ``keep`` messages stay in ``sent`` so the dev command and tests
    can show verification links without a mail server.
    """

    def __init__(self, keep: int = 100, *, plain: IO[str] | None = None) -> None:
        self.sent: deque[Message] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._plain = plain

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> ConsoleMailer:
        """Build; ``mail_console_keep`` bounds the in-memory history.

        ``mail_console_plain`` (default on) also writes each message as plain
        text to stderr: in the JSON log line a link is followed by an escaped
        line break that terminals take as part of the link.
        """
        plain = (settings.get("mail_console_plain") or "true").lower() != "false"
        return cls(
            int(settings.get("mail_console_keep") or 100),
            plain=sys.stderr if plain else None,
        )

    def send(self, message: Message) -> None:
        """Log ``message`` as one record on the ``proveo.mail`` logger."""
        with self._lock:
            self.sent.append(message)
            if self._plain is not None:
                rule = "-" * 72
                self._plain.write(
                    f"{rule}\nMail to {message.to}: {message.subject}\n\n"
                    f"{message.text}\n{rule}\n"
                )
                self._plain.flush()
        log.info(
            "mail to %s: %s\n%s",
            message.to,
            message.subject,
            message.text,
            extra={
                "mail_to": message.to,
                "mail_subject": message.subject,
                "mail_text": message.text,
                "mail_html": message.html,
                "mail_headers": dict(message.headers),
            },
        )


def _smtp_failure(exc: Exception) -> MailError:
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= c < 600 for c in codes)
    else:
        permanent = isinstance(code, int) and 500 <= code < 600
    return MailError(f"SMTP delivery failed: {exc}", permanent=permanent)


class SmtpMailer:
    """Delivers through an SMTP server, one connection per message.

    A connection per message keeps worker threads independent and avoids
    stale pooled connections; mail volume here is small.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str | None,
        password: str | None,
        starttls: bool,
        mail_from: str = DEFAULT_FROM,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user or None
        self.password = password or ""
        self.starttls = starttls
        self.mail_from = mail_from
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SmtpMailer:
        """Build from ``smtp_host``, ``smtp_port``, credentials and ``mail_from``."""
        starttls = (settings.get("smtp_starttls") or "false").strip().lower()
        return cls(
            host=settings["smtp_host"],
            port=int(settings.get("smtp_port") or 25),
            user=settings.get("smtp_user") or None,
            password=settings.get("smtp_password") or None,
            starttls=starttls in {"1", "true", "yes", "on"},
            mail_from=settings.get("mail_from") or DEFAULT_FROM,
        )

    def send(self, message: Message) -> None:
        """Deliver ``message``.

        Raises:
            MailError: the server was unreachable or refused the message.
            ValueError: the message itself is malformed.
        """
        email = build_email(message, self.mail_from)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user is not None:
                    smtp.login(self.user, self.password)
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise _smtp_failure(exc) from exc
