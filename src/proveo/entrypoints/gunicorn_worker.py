"""gunicorn's own error responses in the API's JSON error shape (spec §0.1, §6).

gunicorn answers some requests itself, before the app sees them: a request line
or header over the limits, too many headers, a malformed ``Content-Length``.
Its HTML page would break the rule that every 4xx/5xx is JSON with the security
headers and a correlation id.
"""

from __future__ import annotations

import html
import io
import re
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from structlog.contextvars import bound_contextvars

from proveo.platform import logs

__all__ = ["JsonErrorWorker"]

log = logs.get_logger("proveo.access")

_STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3}) ([^\r\n]*)")
# The message sits after the <h1> of gunicorn's page (util.write_error), escaped.
_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.DOTALL)


class _Page:
    """Stands in for the client socket to keep the page gunicorn writes to it."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # so util.write_nonblock writes without touching blocking mode

    def sendall(self, data: bytes) -> None:
        self.data += data


def _parse(page: bytes) -> tuple[int, str, str]:
    """Status, reason and message of gunicorn's page; a bare 500 if unreadable."""
    status = _STATUS_LINE.match(page)
    if status is None:
        return 500, "Internal Server Error", ""
    message = _MESSAGE.search(page)
    text = html.unescape(message[1].decode("latin-1")) if message else ""
    return int(status[1]), status[2].decode("latin-1"), text


def _render(status: int, reason: str, message: str, *, cid: str, scheme: str) -> bytes:
    """The full HTTP response, built by the app's own error and header code."""
    # Imported here, in the worker: the master imports this module to find the
    # worker class, and importing the app's modules there would register its
    # Prometheus metrics under the master's pid (preload_app is off).
    import falcon

    from proveo.platform.http.errors import render_error
    from proveo.platform.http.middleware import SecurityHeaders

    req = falcon.Request(
        {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443" if scheme == "https" else "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": io.StringIO(),
        }
    )
    resp = falcon.Response()
    render_error(resp, status, message)
    resp.set_header("X-Correlation-ID", cid)
    SecurityHeaders().process_response(req, resp, None, False)
    body = resp.render_body() or b""
    head = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in resp.headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Internal Server Error"


class JsonErrorWorker(ThreadWorker):  # type: ignore[misc]
    """The gthread worker, answering its own errors as the API does."""

    def handle_error(
        self, req: Any, client: Any, addr: Any, exc: BaseException
    ) -> None:
        """Let gunicorn log and classify ``exc``, then send its answer as JSON.

        gunicorn's mapping (status, reason, message) stays the single source:
        its page is captured and rewritten rather than re-derived here.
        """
        cid = logs.new_correlation_id()
        page = _Page()
        with bound_contextvars(correlation_id=cid):
            super().handle_error(req, page, addr, exc)
            status, reason, message = _parse(page.data)
            if status >= 500:  # say nothing about a server-side failure
                reason = message = _phrase(status)
            log.info("error answered by gunicorn", status=status)
            try:
                data = _render(
                    status,
                    reason,
                    message or reason,
                    cid=cid,
                    scheme="https" if self.cfg.is_ssl else "http",
                )
            except Exception:
                # Still answer, with gunicorn's own page, rather than drop the client.
                self.log.exception("Failed to render the JSON error response.")
                data = page.data
        try:
            util.write_nonblock(client, data)
        except Exception:
            self.log.debug("Failed to send error message.")
