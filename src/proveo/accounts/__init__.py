"""Accounts: users, sessions, e-mail verification and password reset.

Public interface for other modules (``from proveo import accounts``):

* ``User`` and ``get_user(tx, user_id)`` / ``find_user(tx, user_id)``;
* ``AccountDeleted`` (published inside the deleting transaction; an
  in-transaction subscriber may store how many companies it removed in
  ``tx.state[accounts.COMPANIES_DELETED_KEY]``);
* ``register_company_counter(counter)`` so the admin user list can show
  ``company_count`` without accounts reading other schemas;
* provisioning for the CLI: ``create_or_promote_admin``, ``ensure_demo_user``,
  ``issue_session``;
* the shared field rules of spec §0.4 (``normalize_text``, ``clean_*`` and the
  marshmallow ``*Field`` classes).
"""

from __future__ import annotations

from proveo.accounts.data import (
    COMPANIES_DELETED_KEY,
    AccountDeleted,
    CompanyCounter,
    EmailTaken,
    InvalidCredentials,
    IssuedSession,
    TokenInvalid,
    User,
    UserNotFound,
)
from proveo.accounts.service import (
    create_or_promote_admin,
    ensure_demo_user,
    find_user,
    get_user,
    issue_session,
    register_company_counter,
)
from proveo.accounts.validation import (
    AddressField,
    DescriptionField,
    EmailField,
    FieldError,
    LangField,
    NameField,
    PasswordField,
    PhoneField,
    clean_address,
    clean_description,
    clean_email,
    clean_lang,
    clean_name,
    clean_password,
    clean_phone,
    normalize_multiline,
    normalize_text,
)

__all__ = [
    "COMPANIES_DELETED_KEY",
    "AccountDeleted",
    "AddressField",
    "CompanyCounter",
    "DescriptionField",
    "EmailField",
    "EmailTaken",
    "FieldError",
    "InvalidCredentials",
    "IssuedSession",
    "LangField",
    "NameField",
    "PasswordField",
    "PhoneField",
    "TokenInvalid",
    "User",
    "UserNotFound",
    "clean_address",
    "clean_description",
    "clean_email",
    "clean_lang",
    "clean_name",
    "clean_password",
    "clean_phone",
    "create_or_promote_admin",
    "ensure_demo_user",
    "find_user",
    "get_user",
    "issue_session",
    "normalize_multiline",
    "normalize_text",
    "register_company_counter",
]
