"""The package started exactly as the container starts it, one role at a time.

Each role runs as ``python -m proveo`` with only ``PROVEO_ROLE`` and the settings
environment, answers, and shuts down gracefully on SIGTERM: an in-flight request
is answered, and jobs are finished or left for the next worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from proveo.platform.devservers import SmtpSink, find_free_port
from proveo.platform.settings import Settings
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def _env(settings_env: dict[str, str], role: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVEO_")}
    env.update(settings_env)
    env.update(
        {"PROVEO_ROLE": role, "PROVEO_WEB_WORKERS": "2", "PROVEO_WEB_THREADS": "2"}
    )
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


@contextmanager
def _process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """The role in its own process group, so no forked child outlives the test.

    (A Dramatiq worker process left behind would keep consuming this session's
    queues with its own classifier and mail settings.)
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "proveo"], env=env, start_new_session=True
    )
    try:
        yield proc
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=40)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def _health(port: int) -> dict[str, str] | None:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/health", timeout=1
        ) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return None


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``proveo`` with no sub-command, as a container starts it; stops at settings."""
    return subprocess.run(
        [sys.executable, "-m", "proveo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_invalid_configuration_lists_every_problem(
    settings_env: dict[str, str],
) -> None:
    env = _env(settings_env, "web", PROVEO_SECRET_KEY="short", PROVEO_SMTP_PORT="http")
    result = _start(env)
    assert result.returncode == 2
    assert "PROVEO_SECRET_KEY" in result.stderr and "PROVEO_SMTP_PORT" in result.stderr


def test_a_bad_role_is_listed_with_every_other_problem_each_once() -> None:
    # As a container starts with a broken ConfigMap: the role used to be
    # checked on its own, hiding every other problem.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "PYTHONPATH": str(ROOT / "src"),
        "PROVEO_ROLE": "bogus",
        "PROVEO_SECRET_KEY": "short",
        "PROVEO_LOG_LEVEL": "LOUD",
        "PROVEO_TRANSLATOR": "nonexistent",
    }
    result = _start(env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "proveo: invalid configuration:", result.stderr
    named = sorted(line.split(":")[0].strip(" -") for line in lines[1:])
    assert named == [
        "PROVEO_DATABASE_URL",
        "PROVEO_LOG_LEVEL",
        "PROVEO_ROLE",
        "PROVEO_SECRET_KEY",
        "PROVEO_TRANSLATOR",
    ], result.stderr
    assert "libretranslate, none" in result.stderr


def test_web_role_serves_and_finishes_an_in_flight_request_on_sigterm(
    migrated: Settings, settings_env: dict[str, str]
) -> None:
    port = find_free_port()
    env = _env(settings_env, "web", PROVEO_WEB_PORT=str(port))
    with _process(env) as proc:
        assert wait_for(lambda: _health(port), timeout=60)["status"] == "healthy"
        body = json.dumps(
            {"email": "nobody@example.com", "password": "wrong-password"}
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"POST /api/v1/users/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(0.3)  # let the worker accept the request before the signal
            proc.send_signal(signal.SIGTERM)
            sock.sendall(body[10:])
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
        assert response.startswith(b"HTTP/1.1 401"), response[:200]
        assert proc.wait(timeout=40) == 0


def _signup(port: int, email: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/users/signup",
        data=json.dumps(
            {"name": "Role Test", "email": email, "password": "long enough pw"}
        ).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": "10.9.9.9"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


@pytest.mark.slow
def test_worker_role_delivers_jobs_and_a_stopped_worker_leaves_none_behind(
    migrated: Settings, settings_env: dict[str, str], smtp_sink: SmtpSink
) -> None:
    port = find_free_port()
    emails = [f"role-{uuid.uuid4().hex[:8]}@example.com" for _ in range(4)]
    with _process(_env(settings_env, "web", PROVEO_WEB_PORT=str(port))) as web:
        wait_for(lambda: _health(port), timeout=60)
        with _process(
            _env(settings_env, "worker", PROVEO_WORKER_PROCESSES="1")
        ) as worker:
            _signup(port, emails[0])
            wait_for(lambda: _mail_to(smtp_sink, emails[0]), timeout=60)
            for email in emails[1:]:
                _signup(port, email)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
        # Whatever the stopped worker had not finished is still queued or in the
        # outbox: a new worker delivers every remaining mail.
        with _process(_env(settings_env, "worker", PROVEO_WORKER_PROCESSES="1")):
            for email in emails:
                wait_for(lambda e=email: _mail_to(smtp_sink, e), timeout=90)
        web.send_signal(signal.SIGTERM)
        assert web.wait(timeout=40) == 0


def _mail_to(sink: SmtpSink, email: str) -> bool:
    return any(email in str(message["To"]) for message in sink.messages())


def test_worker_role_leaves_token_signing_and_the_model_runtime_unloaded() -> None:
    # Memory per worker process: PyJWT pulls in ~10 MB of cryptography
    # bindings, and ONNX Runtime loads with the first moderation job.
    env = {
        **_env({}, "worker"),
        "PROVEO_SECRET_KEY": "x" * 40,
        "PROVEO_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "PROVEO_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    probe = (
        "import sys, proveo.entrypoints.worker; "
        "print(*(m in sys.modules for m in ('dramatiq', 'jwt', 'onnxruntime')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "False"]


def test_migrate_role_upgrades_and_exits(
    migrated: Settings, settings_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proveo"],
        env=_env(settings_env, "migrate"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_scheduler_role_starts_and_stops_on_sigterm(
    migrated: Settings, settings_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "scheduler.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proveo"],
            env=_env(settings_env, "scheduler"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # The line comes after the SIGTERM handler is installed.
            wait_for(lambda: b"Starting Periodiq" in log.read_bytes(), timeout=60)
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            # It exits in well under a second; the bound only catches a hang, and
            # is generous because a loaded CI machine once took over 30 s.
            try:
                status = proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                pytest.fail(f"no exit 90 s after SIGTERM; log:\n{log.read_text()}")
            assert status == 0, log.read_text()
        finally:
            _stop_group(proc)
