"""Plugin lookup through entry points, for built-ins and a third-party plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from proveo.platform import plugins
from proveo.platform.mail import ConsoleMailer, Message, SmtpMailer
from proveo.platform.storage import LocalStorage, S3Storage

INSTALL_HINT = (
    "entry point missing: install the distributions into the test environment "
    "(/work/venv/bin/pip install -e . -e plugins/proveo-mail-jsonl)"
)


def _require(group: str, name: str) -> None:
    if name not in plugins.available(group):
        pytest.fail(f"{group}:{name} not found; {INSTALL_HINT}")


def test_builtins_load_by_name() -> None:
    for group, name in [
        ("proveo.storage", "local"),
        ("proveo.storage", "s3"),
        ("proveo.mail", "console"),
        ("proveo.mail", "smtp"),
    ]:
        _require(group, name)
    assert plugins.load("proveo.storage", "local") is LocalStorage
    assert plugins.load("proveo.storage", "s3") is S3Storage
    assert plugins.load("proveo.mail", "console") is ConsoleMailer
    assert plugins.load("proveo.mail", "smtp") is SmtpMailer


def test_create_builds_from_flat_settings(tmp_path: Path) -> None:
    _require("proveo.storage", "local")
    storage = plugins.create("proveo.storage", "local", {"storage_dir": str(tmp_path)})
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path


def test_unknown_name_lists_what_is_installed() -> None:
    _require("proveo.mail", "console")
    with pytest.raises(plugins.PluginNotFound) as caught:
        plugins.load("proveo.mail", "carrier-pigeon")
    error = caught.value
    assert isinstance(error, LookupError)
    assert (error.group, error.name) == ("proveo.mail", "carrier-pigeon")
    assert {"console", "smtp"} <= set(error.available)
    assert "carrier-pigeon" in str(error) and "console" in str(error)


def test_unknown_group_says_none_installed() -> None:
    with pytest.raises(plugins.PluginNotFound, match="installed: none"):
        plugins.load("proveo.nothing-here", "x")
    assert plugins.available("proveo.nothing-here") == []


def test_third_party_plugin_is_found_through_its_entry_point(tmp_path: Path) -> None:
    _require("proveo.mail", "jsonl")
    target = tmp_path / "mail.jsonl"
    mailer = plugins.create("proveo.mail", "jsonl", {"mail_jsonl_path": str(target)})

    mailer.send(Message("ana@example.com", "Hola", "Tecnología"))

    assert type(mailer).__module__ == "proveo_mail_jsonl"
    assert '"Tecnología"' in target.read_text(encoding="utf-8")
