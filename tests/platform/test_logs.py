"""Logs: JSON lines on stdout, the level filters, context follows the request."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from proveo.platform import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back the root handlers and structlog's config the test replaced."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    yield
    logs.clear()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_events_below_the_level_are_dropped_and_the_rest_are_json(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("WARNING", role="test")
    logs.bind(correlation_id="req_abc")
    log = logs.get_logger("proveo.test")
    log.info("quiet", detail=1)
    log.warning("loud", detail=2)
    sys.stdout.flush()
    lines = _lines(capsys.readouterr().out)
    assert [line["event"] for line in lines] == ["loud"]
    (line,) = lines
    assert line["level"] == "warning"
    assert line["detail"] == 2
    assert line["correlation_id"] == "req_abc"
    assert line["role"] == "test"
    assert "timestamp" in line


def test_stdlib_records_share_the_format(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("INFO", role="test")
    logging.getLogger("gunicorn.error").info("booted %s", "ok")
    lines = _lines(capsys.readouterr().out)
    assert lines[-1]["event"] == "booted ok"
    assert lines[-1]["level"] == "info"
