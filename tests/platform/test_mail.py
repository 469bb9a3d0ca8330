"""Mail backends: SMTP against a real sink, the console backend in memory."""

from __future__ import annotations

import logging
import socket
import time
import uuid

import pytest

from proveo.platform.devservers import SmtpSink
from proveo.platform.mail import (
    DEFAULT_FROM,
    ConsoleMailer,
    MailError,
    Message,
    SmtpMailer,
    build_email,
)


def _mailer(sink: SmtpSink, **overrides: object) -> SmtpMailer:
    settings = {
        "smtp_host": sink.host,
        "smtp_port": str(sink.port),
        "smtp_starttls": "false",
        "mail_from": "Proveo <no-reply@proveo.test>",
    }
    settings.update({k: str(v) for k, v in overrides.items()})
    return SmtpMailer.from_settings(settings)


def test_smtp_delivers_text_and_html_in_utf8(fresh_mail: SmtpSink) -> None:
    tag = uuid.uuid4().hex
    _mailer(fresh_mail).send(
        Message(
            to="ana@example.com",
            subject="Verificación de tu cuenta — Tecnología",
            text="Hola Ana, tu código es ñandú-42.\nhttps://proveo.test/v/abc",
            html="<p>Hola <b>Ana</b>, tu código es ñandú-42.</p>",
            headers={"X-Correlation-ID": tag},
        )
    )

    received = fresh_mail.wait_for(lambda m: m["X-Correlation-ID"] == tag)
    assert received["Subject"] == "Verificación de tu cuenta — Tecnología"
    assert received["To"] == "ana@example.com"
    assert received["From"] == "Proveo <no-reply@proveo.test>"
    assert received["Message-ID"].endswith("@proveo.test>")
    assert received["Date"]
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "ñandú-42.\nhttps://proveo.test/v/abc" in plain.get_content()
    assert "<b>Ana</b>" in html.get_content()
    assert plain.get_content_charset() == "utf-8"


def test_smtp_text_only_message_is_not_multipart(fresh_mail: SmtpSink) -> None:
    tag = uuid.uuid4().hex
    _mailer(fresh_mail).send(
        Message("bo@example.com", "Plain", "Sólo texto", headers={"X-Tag": tag})
    )
    received = fresh_mail.wait_for(lambda m: m["X-Tag"] == tag)
    assert received.get_content_type() == "text/plain"
    assert received.get_content().strip() == "Sólo texto"


def test_smtp_to_a_closed_port_raises_mail_error_quickly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    mailer = SmtpMailer("127.0.0.1", port, None, None, False, timeout=5)

    started = time.monotonic()
    with pytest.raises(MailError) as caught:
        mailer.send(Message("a@example.com", "s", "t"))
    elapsed = time.monotonic() - started
    print(f"SMTP to a closed port failed after {elapsed * 1000:.1f} ms")
    assert not caught.value.permanent
    assert elapsed < mailer.timeout  # refused at once, not timed out


@pytest.mark.parametrize(
    "message",
    [
        Message("a@example.com", "line\nbreak", "t"),
        Message("a@example.com", "s", "t", headers={"Subject": "override"}),
        Message("a@example.com", "s", "t", headers={"X-Evil": "a\r\nBcc: x@y.z"}),
    ],
)
def test_malformed_messages_raise_value_error(message: Message) -> None:
    with pytest.raises(ValueError):
        build_email(message, DEFAULT_FROM).as_bytes()


def test_from_settings_defaults() -> None:
    mailer = SmtpMailer.from_settings({"smtp_host": "mail.internal"})
    assert (mailer.port, mailer.user, mailer.starttls) == (25, None, False)
    assert mailer.mail_from == DEFAULT_FROM
    tls = SmtpMailer.from_settings(
        {
            "smtp_host": "h",
            "smtp_port": "587",
            "smtp_user": "u",
            "smtp_password": "p",
            "smtp_starttls": "true",
        }
    )
    assert (tls.port, tls.user, tls.password, tls.starttls) == (587, "u", "p", True)


def test_console_mailer_logs_and_keeps_the_last_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailer = ConsoleMailer.from_settings({"mail_console_keep": "2"})
    caplog.set_level(logging.INFO, logger="proveo.mail")
    for n in range(3):
        mailer.send(Message(f"user{n}@example.com", f"Asunto {n}", f"enlace {n}"))

    assert [m.to for m in mailer.sent] == ["user1@example.com", "user2@example.com"]
    records = [r for r in caplog.records if r.name == "proveo.mail"]
    assert len(records) == 3
    last = records[-1]
    assert "enlace 2" in last.getMessage()
    assert last.mail_to == "user2@example.com"  # type: ignore[attr-defined]
    assert last.mail_subject == "Asunto 2"  # type: ignore[attr-defined]


def test_console_mailer_prints_plain_text_unless_told_not_to(
    capsys: pytest.CaptureFixture[str],
) -> None:
    link = "http://127.0.0.1:8000/api/v1/users/verify-email/abc"
    ConsoleMailer.from_settings({}).send(
        Message("a@example.com", "Confirma", f"Hola:\n\n{link}\n\nAdiós")
    )
    err = capsys.readouterr().err
    assert "Mail to a@example.com: Confirma" in err
    assert f"\n{link}\n" in err  # the link alone on its line, no escaped break
    ConsoleMailer.from_settings({"mail_console_plain": "false"}).send(
        Message("b@example.com", "Silencio", "texto")
    )
    assert "b@example.com" not in capsys.readouterr().err
