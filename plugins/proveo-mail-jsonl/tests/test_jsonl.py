"""The jsonl backend appends one JSON object per message and registers itself."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from proveo_mail_jsonl import JsonlMailer

from proveo.platform.mail import MailError, Message


def test_send_appends_one_line_per_message(tmp_path: Path) -> None:
    target = tmp_path / "mail.jsonl"
    mailer = JsonlMailer.from_settings({"mail_jsonl_path": str(target)})

    mailer.send(Message("ana@example.com", "Verificación", "Hola, Ana", "<p>Hola</p>"))
    mailer.send(Message("bo@example.com", "Second", "text", headers={"X-A": "1"}))

    lines = target.read_text(encoding="utf-8").splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["to"] == "ana@example.com"
    assert first["subject"] == "Verificación"
    assert first["html"] == "<p>Hola</p>"
    assert second["html"] is None
    assert second["headers"] == {"X-A": "1"}


def test_missing_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="PROVEO_MAIL_JSONL_PATH"):
        JsonlMailer.from_settings({})


def test_unwritable_path_raises_mail_error(tmp_path: Path) -> None:
    mailer = JsonlMailer(tmp_path / "missing-dir" / "mail.jsonl")
    with pytest.raises(MailError):
        mailer.send(Message("a@example.com", "s", "t"))


def test_registered_as_proveo_mail_entry_point() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="proveo.mail")}
    assert names.get("jsonl") == "proveo_mail_jsonl:JsonlMailer", (
        "install the plugin: pip install -e plugins/proveo-mail-jsonl"
    )
