"""The translator plugins, the LibreTranslate one against a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proveo import accounts
from proveo.companies.translation import (
    CopyTranslator,
    LibreTranslateTranslator,
    translate_or_copy,
)
from proveo.platform import plugins


class _Fake(BaseHTTPRequestHandler):
    mode = "ok"
    seen: list[dict] = []
    release = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        payload = json.loads(self.rfile.read(length))
        type(self).seen.append(payload)
        mode = type(self).mode
        if mode == "slow":
            type(self).release.wait(10)
        if mode == "500":
            self.send_response(500)
            self.end_headers()
            return
        if mode == "garbage":
            body = b"<html>not json"
        elif mode == "huge":
            body = json.dumps({"translatedText": "x" * 5000}).encode()
        elif mode == "wrong-shape":
            body = json.dumps(["translatedText"]).encode()
        else:
            body = json.dumps(
                {"translatedText": f"[{payload['target']}] {payload['q']}"}
            ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    _Fake.mode, _Fake.seen = "ok", []
    _Fake.release.clear()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    _Fake.release.set()
    httpd.shutdown()
    httpd.server_close()


def _name(translator, text="Tecnología"):
    return translate_or_copy(
        translator, text, source="es", target="en", clean=accounts.clean_name, limit=100
    )


def test_plugins_are_registered():
    assert plugins.load("proveo.translation", "none") is CopyTranslator
    assert (
        plugins.load("proveo.translation", "libretranslate") is LibreTranslateTranslator
    )


def test_copy_translator_copies():
    assert _name(CopyTranslator.from_settings({})) == "Tecnología"


def test_libretranslate_speaks_the_api(server):
    translator = LibreTranslateTranslator.from_settings(
        {"translator_url": server + "/", "translator_api_key": "k3y"}
    )
    assert _name(translator) == "[en] Tecnología"
    assert _Fake.seen[-1] == {
        "q": "Tecnología", "source": "es", "target": "en", "format": "text", "api_key": "k3y",
    }  # fmt: skip


@pytest.mark.parametrize("mode", ["500", "garbage", "huge", "wrong-shape"])
def test_failures_fall_back_to_a_copy(server, mode):
    _Fake.mode = mode
    translator = LibreTranslateTranslator.from_settings({"translator_url": server})
    assert _name(translator) == "Tecnología"


def test_timeout_falls_back_to_a_copy(server):
    _Fake.mode = "slow"
    translator = LibreTranslateTranslator.from_settings(
        {"translator_url": server, "translator_timeout": "0.2"}
    )
    assert _name(translator) == "Tecnología"
    _Fake.release.set()


def test_unreachable_falls_back_and_timeout_is_capped():
    translator = LibreTranslateTranslator.from_settings(
        {"translator_url": "http://127.0.0.1:9", "translator_timeout": "60"}
    )
    assert translator.timeout == 3.0
    assert _name(translator) == "Tecnología"


def test_settings_are_checked():
    with pytest.raises(ValueError):
        LibreTranslateTranslator.from_settings({})
    with pytest.raises(ValueError):
        LibreTranslateTranslator.from_settings({"translator_url": "ftp://x"})


def test_a_broken_plugin_cannot_break_a_request():
    class Broken:
        def translate(self, text, *, source, target):
            raise RuntimeError("bug")

    assert _name(Broken()) == "Tecnología"


def test_translations_are_normalised():
    class Spacey:
        def translate(self, text, *, source, target):
            return "  Tech \x00 nology  "

    assert _name(Spacey()) == "Tech nology"
