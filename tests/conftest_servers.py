"""Session fixtures: one private server stack (PostgreSQL primary + replica, Redis,
S3, SMTP) started once per test session on free loopback ports, stopped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proveo.platform.devservers import (
    DevStack,
    PostgresCluster,
    RedisServer,
    S3Server,
    SmtpSink,
)


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """The running stack; tests that stop a server must start it again."""
    with DevStack(tmp_path_factory.mktemp("devstack")) as stack:
        yield stack


@pytest.fixture(scope="session")
def pg_cluster(dev_stack: DevStack) -> PostgresCluster:
    """PostgreSQL primary and streaming replica (database ``proveo``)."""
    return dev_stack.postgres


@pytest.fixture(scope="session")
def redis_server(dev_stack: DevStack) -> RedisServer:
    """A throw-away Redis."""
    return dev_stack.redis


@pytest.fixture(scope="session")
def s3_server(dev_stack: DevStack) -> S3Server:
    """The S3 emulation; bucket ``proveo`` exists."""
    assert dev_stack.s3 is not None
    return dev_stack.s3


@pytest.fixture(scope="session")
def smtp_sink(dev_stack: DevStack) -> SmtpSink:
    """The SMTP sink; messages accumulate for the whole session."""
    assert dev_stack.smtp is not None
    return dev_stack.smtp


@pytest.fixture
def fresh_mail(smtp_sink: SmtpSink) -> SmtpSink:
    """The SMTP sink, emptied before the test."""
    smtp_sink.clear()
    return smtp_sink
