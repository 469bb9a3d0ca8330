"""Small test utilities shared by every module's tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds.

    A deadline, not a sleep: the test proceeds as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def unique(prefix: str = "t") -> str:
    """A short unique token for names and e-mails."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"
