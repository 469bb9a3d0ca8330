"""The pieces of ``proveo dev`` that decide before anything starts."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from proveo.entrypoints import dev
from proveo.platform.devservers import find_free_port


def test_a_taken_port_is_refused_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as refused:
            dev._check_port(port)
    assert f"port {port} on 127.0.0.1 is in use" in str(refused.value)
    assert "--port" in str(refused.value)
    dev._check_port(find_free_port())  # a free one passes


def test_the_secret_key_is_kept_only_with_the_data(tmp_path: Path) -> None:
    kept = dev._secret_key(tmp_path, keep=True)
    assert dev._secret_key(tmp_path, keep=True) == kept  # the next run's
    assert len(kept) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    fresh = dev._secret_key(tmp_path / "other", keep=False)
    assert fresh != dev._secret_key(tmp_path / "other", keep=False)
    assert not (tmp_path / "other").exists()


def test_dev_settings_keep_the_worker_exporter_on_loopback(tmp_path: Path) -> None:
    env = dev._dev_env({}, tmp_path, 8123, keep=False)
    assert env["dramatiq_prom_host"] == "127.0.0.1"
    assert env["dramatiq_prom_port"] != "9191"
    assert env["PROVEO_PUBLIC_URL"] == "http://127.0.0.1:8123"
