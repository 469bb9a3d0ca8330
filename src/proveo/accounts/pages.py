"""HTML pages and e-mails of the accounts flows, in Spanish and English.

Everything that comes from users (names, e-mails) or from the URL is passed
through ``html.escape``; tokens are URL-safe base64 but are escaped too. Pages
lead with the user's language and repeat the message in the other one, so a
reader who picked the wrong language is not lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from proveo.accounts.data import User
from proveo.platform.mail import Message

__all__ = [
    "account_mail",
    "reset_done_page",
    "reset_failed_page",
    "reset_form_page",
    "verify_page",
]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
    "color:#1f2933}h1{font-size:1.5rem}.other{color:#616e7c;font-size:.9rem;"
    "border-top:1px solid #e4e7eb;margin-top:2rem;padding-top:1rem}"
    "label{display:block;margin:.75rem 0 .25rem}input{font-size:1rem;padding:.4rem;width:100%}"
    "button{margin-top:1rem;font-size:1rem;padding:.5rem 1rem}.error{color:#b42318}"
)

_TEXT: dict[str, dict[str, str]] = {
    "verified_title": {"es": "Correo verificado", "en": "Email verified"},
    "verified_body": {
        "es": "Gracias, {name}. Tu dirección {email} quedó verificada. Ya puedes cerrar esta página.",
        "en": "Thank you, {name}. Your address {email} is now verified. You can close this page.",
    },
    "already_title": {"es": "Correo ya verificado", "en": "Email already verified"},
    "already_body": {
        "es": "La dirección {email} ya estaba verificada. No necesitas hacer nada más.",
        "en": "The address {email} was already verified. There is nothing else to do.",
    },
    "failed_title": {"es": "La verificación falló", "en": "Verification Failed"},
    "failed_body": {
        "es": "El enlace no es válido o expiró. Solicita un nuevo correo de verificación.",
        "en": "The link is invalid or has expired. Please request a new verification email.",
    },
    "reset_title": {"es": "Elige una nueva contraseña", "en": "Choose a new password"},
    "reset_body": {
        "es": "Cuenta: {email}. La contraseña debe tener entre 8 y 128 caracteres.",
        "en": "Account: {email}. The password must be 8 to 128 characters long.",
    },
    "reset_label": {"es": "Nueva contraseña", "en": "New password"},
    "reset_button": {"es": "Guardar contraseña", "en": "Save password"},
    "reset_done_title": {"es": "Contraseña actualizada", "en": "Password updated"},
    "reset_done_body": {
        "es": "Tu contraseña fue cambiada y se cerraron todas tus sesiones. Ya puedes iniciar sesión.",
        "en": "Your password was changed and all your sessions were signed out. You can log in now.",
    },
    "reset_failed_title": {"es": "Enlace no válido", "en": "Password Reset Failed"},
    "reset_failed_body": {
        "es": "El enlace para restablecer la contraseña no es válido, ya se usó o expiró. "
        "Solicita uno nuevo.",
        "en": "The password reset link is invalid, was already used or has expired. "
        "Please request a new one.",
    },
}


def _t(key: str, lang: str, **values: str) -> str:
    """The text in ``lang`` with ``values`` HTML-escaped into it."""
    return _TEXT[key][lang].format(**{k: escape(v) for k, v in values.items()})


def _other(lang: str) -> str:
    return "en" if lang == "es" else "es"


def _page(lang: str, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{title} — Proveo</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _bilingual(key: str, lang: str, **values: str) -> str:
    other = _other(lang)
    return _page(
        lang,
        _t(f"{key}_title", lang),
        f"<h1>{_t(f'{key}_title', lang)}</h1><p>{_t(f'{key}_body', lang, **values)}</p>"
        f'<div class="other" lang="{other}"><strong>{_t(f"{key}_title", other)}</strong>'
        f"<p>{_t(f'{key}_body', other, **values)}</p></div>",
    )


def verify_page(status: str, lang: str, user: User | None = None) -> str:
    """The page behind a verification link: ``verified``, ``already`` or ``failed``."""
    if status == "verified" and user is not None:
        return _bilingual("verified", lang, name=user.name, email=user.email)
    if status == "already" and user is not None:
        return _bilingual("already", lang, email=user.email)
    return _bilingual("failed", lang)


def reset_form_page(token: str, lang: str, user: User, error: str | None = None) -> str:
    """The form that posts a new password to the confirm endpoint."""
    other = _other(lang)
    error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        f"<h1>{_t('reset_title', lang)}</h1>"
        f"<p>{_t('reset_body', lang, email=user.email)}</p>{error_html}"
        '<form method="post" action="/api/v1/users/password-reset/confirm">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<input type="hidden" name="lang" value="{escape(lang)}">'
        f'<label for="password">{_t("reset_label", lang)} / {_t("reset_label", other)}</label>'
        '<input id="password" name="password" type="password" minlength="8" maxlength="128"'
        ' autocomplete="new-password" required>'
        f'<button type="submit">{_t("reset_button", lang)}</button></form>'
        f'<div class="other" lang="{other}"><p>{_t("reset_body", other, email=user.email)}</p></div>'
    )
    return _page(lang, _t("reset_title", lang), body)


def reset_done_page(lang: str) -> str:
    """Shown after a password was reset through the form."""
    return _bilingual("reset_done", lang)


def reset_failed_page(lang: str) -> str:
    """Shown for an unusable reset link."""
    return _bilingual("reset_failed", lang)


# --- e-mails ------------------------------------------------------------------

_MAIL: dict[str, dict[str, dict[str, str]]] = {
    "verify": {
        "es": {
            "subject": "Confirma tu correo en Proveo",
            "greeting": "Hola {name}:",
            "intro": "Gracias por registrarte en Proveo. Confirma tu dirección de correo "
            "abriendo este enlace:",
            "action": "Verificar mi correo",
            "ignore": "Si no creaste esta cuenta, ignora este mensaje.",
        },
        "en": {
            "subject": "Confirm your email for Proveo",
            "greeting": "Hello {name},",
            "intro": "Thank you for signing up for Proveo. Please confirm your email address "
            "by opening this link:",
            "action": "Verify my email",
            "ignore": "If you did not create this account, you can ignore this message.",
        },
    },
    "reset": {
        "es": {
            "subject": "Restablece tu contraseña de Proveo",
            "greeting": "Hola {name}:",
            "intro": "Recibimos una solicitud para restablecer tu contraseña. Elige una nueva "
            "en este enlace (solo se puede usar una vez):",
            "action": "Restablecer contraseña",
            "ignore": "Si no lo pediste, ignora este mensaje: tu contraseña no cambia.",
        },
        "en": {
            "subject": "Reset your Proveo password",
            "greeting": "Hello {name},",
            "intro": "We received a request to reset your password. Choose a new one with "
            "this link (it works only once):",
            "action": "Reset password",
            "ignore": "If you did not ask for this, ignore this message: your password "
            "stays the same.",
        },
    },
}


def _lifetime(ttl: timedelta, lang: str) -> str:
    hours = int(ttl.total_seconds() // 3600)
    if hours >= 1 and ttl.total_seconds() % 3600 == 0:
        unit = {"es": ("hora", "horas"), "en": ("hour", "hours")}[lang]
        return f"{hours} {unit[0] if hours == 1 else unit[1]}"
    minutes = int(ttl.total_seconds() // 60)
    return f"{minutes} {'minutos' if lang == 'es' else 'minutes'}"


def _expiry_line(ttl: timedelta, expires_at: datetime, lang: str) -> str:
    when = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if lang == "es":
        return f"El enlace vence en {_lifetime(ttl, lang)} (el {when})."
    return f"The link expires in {_lifetime(ttl, lang)} (on {when})."


def account_mail(
    kind: str, *, lang: str, user: User, link: str, ttl: timedelta, expires_at: datetime
) -> Message:
    """The verification (``verify``) or password reset (``reset``) e-mail."""
    words = _MAIL[kind][lang]
    expiry = _expiry_line(ttl, expires_at, lang)
    text = "\n\n".join(
        [
            words["greeting"].format(name=user.name),
            words["intro"],
            link,
            expiry,
            words["ignore"],
            "— Proveo",
        ]
    )
    html = (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(words['subject'])}</title></head>"
        '<body style="font-family:sans-serif;color:#1f2933">'
        f"<p>{escape(words['greeting'].format(name=user.name))}</p>"
        f"<p>{escape(words['intro'])}</p>"
        f'<p><a href="{escape(link)}">{escape(words["action"])}</a></p>'
        f'<p style="font-size:.9em">{escape(link)}</p>'
        f"<p>{escape(expiry)}</p><p>{escape(words['ignore'])}</p><p>— Proveo</p>"
        "</body></html>"
    )
    return Message(to=user.email, subject=words["subject"], text=text, html=html)
