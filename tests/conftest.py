"""Suite-wide fixtures: settings pointed at the private servers, a migrated
database, the real app behind Falcon's test client, and an in-process worker.

The private servers come from ``tests.conftest_servers``. Tests isolate
themselves with unique data (uuid-suffixed e-mails and names) rather than by
truncating tables, because the replica must see what the primary committed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import falcon
import falcon.testing
import pytest
from dramatiq import Worker

from proveo import bootstrap
from proveo.platform import queue, runtime
from proveo.platform.devservers import DevStack
from proveo.platform.settings import Settings

pytest_plugins = ["tests.conftest_servers"]

SECRET = "test-secret-key-0123456789abcdef-0123456789"


@pytest.fixture(scope="session")
def settings_env(dev_stack: DevStack) -> dict[str, str]:
    """The ``PROVEO_*`` environment a process of this test session would get."""
    env = dict(dev_stack.env())
    env.update(
        {
            "PROVEO_SECRET_KEY": SECRET,
            "PROVEO_PUBLIC_URL": "http://testserver",
            "PROVEO_COOKIE_SECURE": "false",
            "PROVEO_ALLOWED_ORIGINS": "http://testserver,http://localhost:8000",
            "PROVEO_DEBUG": "true",
            "PROVEO_LOG_LEVEL": "WARNING",
            "PROVEO_WEB_WORKERS": "1",
            "PROVEO_WORKER_PROCESSES": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def settings(settings_env: dict[str, str]) -> Settings:
    """Validated settings for the test servers."""
    return Settings.from_env(settings_env)


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> Settings:
    """Run every migration once per session (the same code path as ``proveo migrate``)."""
    from alembic import command
    from alembic.config import Config

    from proveo.entrypoints import migrations_dir

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = settings.database_url
    command.upgrade(cfg, "head")
    return settings


@pytest.fixture(scope="session")
def services(migrated: Settings) -> Iterator[runtime.Services]:
    """The real collaborators, wired as in production."""
    built = bootstrap.build_services(migrated)
    runtime.install(built)
    queue.bind(built.broker)
    yield built
    built.db.dispose(close=True)
    runtime.reset()


@pytest.fixture(scope="session")
def app(services: runtime.Services) -> falcon.App:
    """The WSGI app, exactly as gunicorn would serve it."""
    return bootstrap.create_app(services)


@pytest.fixture
def client(app: falcon.App) -> falcon.testing.TestClient:
    """Falcon's in-process client (no socket). Pass cookies explicitly."""
    return falcon.testing.TestClient(app)


@pytest.fixture(scope="session")
def _worker(services: runtime.Services) -> Iterator[Worker]:
    worker = Worker(services.broker, worker_timeout=100, worker_threads=2)
    relay = bootstrap.OutboxRelay(services, idle_wait=0.05)
    worker.start()
    worker.pause()
    relay.start()
    yield worker
    relay.stop()
    worker.resume()
    worker.stop()


@pytest.fixture
def worker(_worker: Worker) -> Iterator[Worker]:
    """A running Dramatiq worker (real Redis broker) plus the outbox relay.

    It consumes only while a test that asks for it runs, so tests that expect a
    job *not* to have run yet (an image still pending) are not raced.
    """
    _worker.resume()
    yield _worker
    _worker.pause()


@pytest.fixture(autouse=True)
def _clean_environment() -> Iterator[None]:
    """Tests must not leak PROVEO_* variables into each other."""
    before = {k: v for k, v in os.environ.items() if k.startswith("PROVEO_")}
    yield
    for key in [k for k in os.environ if k.startswith("PROVEO_")]:
        if key not in before:
            del os.environ[key]
    os.environ.update(before)


def cookies_from(result: Any) -> dict[str, str]:
    """The cookies a response set, as a dict to send back."""
    return (
        {c.name: c.value for c in result.cookies.values()}
        if hasattr(result, "cookies")
        else {}
    )
