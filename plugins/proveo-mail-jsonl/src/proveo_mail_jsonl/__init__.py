"""Proveo mail backend that appends each message to a JSON Lines file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from proveo.platform.mail import MailError, Message

__all__ = ["JsonlMailer"]


class JsonlMailer:
    """Appends every message as one JSON line to ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> JsonlMailer:
        """Build from ``mail_jsonl_path`` (``PROVEO_MAIL_JSONL_PATH``).

        Raises:
            ValueError: the setting is missing.
        """
        path = settings.get("mail_jsonl_path")
        if not path:
            raise ValueError(
                "the jsonl mail backend needs PROVEO_MAIL_JSONL_PATH "
                "(the file to append messages to)"
            )
        return cls(path)

    def send(self, message: Message) -> None:
        """Append ``message``; raise ``MailError`` if the file cannot be written."""
        record = {
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "headers": dict(message.headers),
            "sent_at": datetime.now(UTC).isoformat(),
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            # One write() on an O_APPEND descriptor: concurrent writers from
            # several processes never interleave within a line.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            raise MailError(f"cannot append to {self.path}: {exc}") from exc
