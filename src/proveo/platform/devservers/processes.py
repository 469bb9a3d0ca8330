"""Process plumbing shared by the private servers: ports, polling, logs, clean exit.

Every wait polls with a deadline and every failure carries the server's log tail,
so a broken start is diagnosed from the exception alone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = ["DevServerError", "find_free_port"]

POLL_INTERVAL = 0.02
LOOPBACK = "127.0.0.1"


class DevServerError(RuntimeError):
    """A private server could not be found, started, reached or waited for."""


def find_free_port() -> int:
    """Return a loopback TCP port that nothing listens on right now.

    The kernel picks it, so concurrent sessions rarely collide; servers that
    lose the race anyway retry on a new port (see ``ChildServer.start``).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, *, start: int = 0, lines: int = 40) -> str:
    """Return the last ``lines`` lines of ``path`` written after byte ``start``."""
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"(empty log at {path})"


def log_size(path: Path) -> int:
    """Return the size of ``path``, 0 if it does not exist (a log offset)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def port_clash(text: str) -> bool:
    """Tell whether a server log says its port was taken meanwhile."""
    return "address already in use" in text.lower()


def quietly(check: Callable[[], bool]) -> Callable[[], bool]:
    """Wrap a readiness probe so that any error just means "not yet"."""

    def probe() -> bool:
        try:
            return check()
        except Exception:  # refused, reset, still starting: all mean "not yet"
            return False

    return probe


def poll(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
    log_start: int = 0,
) -> None:
    """Call ``check`` until it returns true, or raise ``DevServerError``.

    Raises at ``timeout`` seconds, or as soon as ``alive`` says the process died,
    quoting the log written since ``log_start``.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if alive is not None and not alive():
            problem = "exited before it was ready"
        elif time.monotonic() >= deadline:
            problem = f"was not ready after {timeout:g} s"
        else:
            time.sleep(POLL_INTERVAL)
            continue
        tail = f"; log:\n{log_tail(log, start=log_start)}" if log else ""
        raise DevServerError(f"{what} {problem}{tail}")


class Stoppable(Protocol):
    """Anything the exit safety-net can stop."""

    def stop(self) -> None:
        """Stop the server; must be idempotent."""


_running: dict[int, Stoppable] = {}
_running_lock = threading.Lock()


def track(server: Stoppable) -> None:
    """Remember a started server so that interpreter exit stops it."""
    with _running_lock:
        _running[id(server)] = server


def untrack(server: Stoppable) -> None:
    """Forget a server that was stopped properly."""
    with _running_lock:
        _running.pop(id(server), None)


@atexit.register
def stop_leftovers() -> None:
    """Stop whatever is still running when the interpreter exits.

    Forgotten ``stop()`` calls would otherwise leave postmasters and Redis
    servers behind, holding ports and shared memory until reboot.
    """
    with _running_lock:
        leftovers = list(_running.values())
    for server in reversed(leftovers):
        with contextlib.suppress(Exception):
            server.stop()


class Child:
    """One foreground server process whose output goes to a log file."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], *, cwd: Path) -> int:
        """Start ``argv``; return the log offset where its output begins.

        A new session keeps a terminal's Ctrl-C away from the server, so the
        owner can stop things in order (web and worker before the databases).
        """
        start = log_size(self.log)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return start

    def alive(self) -> bool:
        """Tell whether the process is running."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self, *, grace: float = 5.0) -> None:
        """Terminate the process, killing it after ``grace`` seconds; idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait()
