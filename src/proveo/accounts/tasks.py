"""Accounts jobs: the verification and password reset mails."""

from __future__ import annotations

from proveo.accounts import service
from proveo.accounts.data import AccountMailRequested
from proveo.platform import events, logs, queue, runtime
from proveo.platform.mail import MailError

__all__ = ["send_account_mail"]

log = logs.get_logger("proveo.accounts.mail")

events.after_commit(AccountMailRequested, "accounts.send_account_mail", queue="mail")


@queue.actor(
    "accounts.send_account_mail",
    queue_name="mail",
    # An SMTP outage must not lose a mail: back off from 1 s up to 10 min
    # between tries, for about a day, before the message is dead-lettered.
    max_retries=160,
    min_backoff=1_000,
    max_backoff=600_000,
    time_limit=60_000,
)
def send_account_mail(user_id: str, kind: str, lang: str) -> None:
    """Issue a one-time token and mail its link (retried while SMTP fails)."""
    services = runtime.services()
    try:
        with services.db.write() as tx:
            sent = service.send_account_mail(
                tx,
                user_id=user_id,
                kind=kind,
                lang=lang,
                mailer=services.mailer,
                public_url=services.settings.public_url,
            )
    except MailError as exc:
        if exc.permanent:  # the server refused for good: retrying cannot help
            log.warning(
                "mail refused", kind=kind, user_id=user_id, error=str(exc)[:200]
            )
            return
        raise
    log.info("account mail", kind=kind, user_id=user_id, sent=sent)
