"""gunicorn's own error responses follow the API's error contract (spec §0.1, §6).

A real gunicorn with the web role's config serves a tiny Falcon app (this
module's ``app``) on a free loopback port; raw sockets send what gunicorn
rejects before the app sees it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon
import pytest

from proveo.entrypoints import gunicorn_argv
from proveo.platform.devservers import find_free_port
from proveo.platform.http.middleware import RequestContext, SecurityHeaders
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
)


class _Ping:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"ok": True}


class _BadHeader:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        # gunicorn refuses the control character (InvalidResponseHeader): a 500
        # raised by gunicorn, after the app ran.
        resp.set_header("X-Leak", "secret-token\x01")


middleware: list[Any] = [RequestContext(), SecurityHeaders()]
app = falcon.App(middleware=middleware)
app.add_route("/ping", _Ping())
app.add_route("/bad-header", _BadHeader())


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """gunicorn with ``gunicorn_conf``, serving ``app``; its port."""
    port = find_free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVEO_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    argv = gunicorn_argv(
        "tests.entrypoints.test_gunicorn_worker:app",
        bind=f"127.0.0.1:{port}",
        workers=1,
        threads=2,
        extra=("--log-level", "warning"),
    )
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        wait_for(lambda: _ready(port) or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, "gunicorn exited"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
            return True
    except OSError:
        return False


def _exchange(port: int, raw: bytes) -> tuple[http.client.HTTPResponse, bytes, bool]:
    """Send ``raw``; the response, its body, and whether the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        closed = sock.recv(1) == b""
    return response, body, closed


def _request(target: str, *headers: bytes) -> bytes:
    lines = [b"GET " + target.encode() + b" HTTP/1.1", b"Host: localhost", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _app_headers(port: int) -> dict[str, str]:
    """The security headers the app itself sends (from SecurityHeaders)."""
    response, _, _ = _exchange(port, _request("/ping", b"Connection: close"))
    assert response.status == 200
    return {name: response.getheader(name, "") for name in SECURITY_HEADERS}


CASES = {
    "request line too long": (_request("/" + "a" * 8200), 414),
    "header too long": (_request("/ping", b"X-Big: " + b"a" * 8200), 431),
    "too many headers": (
        _request("/ping", *(f"X-H{i}: v".encode() for i in range(101))),
        431,
    ),
    "bad content-length": (_request("/ping", b"Content-Length: abc"), 400),
}


def _check_error(
    response: http.client.HTTPResponse, body: bytes, closed: bool, status: int
) -> dict[str, Any]:
    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("Connection") == "close"
    assert closed, "gunicorn closes the connection after its own errors"
    data: dict[str, Any] = json.loads(body)
    assert set(data) == {"error", "correlation_id"}
    assert set(data["error"]) == {"code", "message", "details"}
    assert data["error"]["details"] == {}
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    assert data["correlation_id"].startswith("req_")
    assert response.getheader("X-Correlation-ID") == data["correlation_id"]
    return data


@pytest.mark.parametrize("case", list(CASES))
def test_client_errors_are_json_with_the_contract_headers(port: int, case: str) -> None:
    raw, status = CASES[case]
    response, body, closed = _exchange(port, raw)
    data = _check_error(response, body, closed, status)
    assert data["error"]["code"] == "BAD_REQUEST"
    assert "<" not in data["error"]["message"]  # no HTML left over
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert {
        name: response.getheader(name, "") for name in SECURITY_HEADERS
    } == _app_headers(port)


def test_each_error_gets_a_fresh_correlation_id(port: int) -> None:
    raw, status = CASES["bad content-length"]
    ids = set()
    for _ in range(2):
        response, body, closed = _exchange(port, raw)
        ids.add(_check_error(response, body, closed, status)["correlation_id"])
    assert len(ids) == 2


def test_gunicorn_500_is_generic(port: int) -> None:
    response, body, closed = _exchange(port, _request("/bad-header"))
    data = _check_error(response, body, closed, 500)
    assert data["error"]["code"] == "INTERNAL_ERROR"
    assert data["error"]["message"] == "Internal Server Error"
    assert b"X-Leak" not in body and b"secret" not in body
    assert response.getheader("X-Frame-Options") == "DENY"


def test_the_app_still_answers(port: int) -> None:
    response, body, _ = _exchange(port, _request("/ping", b"Connection: close"))
    assert response.status == 200
    assert json.loads(body) == {"ok": True}
