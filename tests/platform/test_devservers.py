"""The private servers behave like the deployment pieces they stand in for."""

from __future__ import annotations

import importlib.util
import io
import os
import pwd
import shutil
import signal
import smtplib
import socket
import stat
import tempfile
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
import redis

from proveo.platform import devservers
from proveo.platform.devservers import (
    DevServerError,
    DevStack,
    PostgresCluster,
    RedisServer,
    S3Server,
    SmtpSink,
    find_free_port,
    processes,
)
from proveo.platform.devservers import postgres as pg_module
from proveo.platform.devservers import servers as servers_module

SCRATCH_DB = "devservers_check"


def _one(conn: psycopg.Connection[tuple[object, ...]], query: str) -> object:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture(scope="module")
def scratch_db(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A database of our own, so probes never meet the project's schema."""
    with pg_cluster.connect(database="postgres") as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
        conn.execute(f"CREATE DATABASE {SCRATCH_DB}")
    with pg_cluster.connect(database=SCRATCH_DB) as conn:
        conn.execute("CREATE TABLE probe (id serial PRIMARY KEY, note text NOT NULL)")
    pg_cluster.wait_replica_caught_up()
    yield SCRATCH_DB
    with pg_cluster.connect(database="postgres") as conn:
        conn.execute(f"DROP DATABASE {SCRATCH_DB} WITH (FORCE)")


def _insert(cluster: PostgresCluster, db: str) -> str:
    note = uuid.uuid4().hex
    with cluster.connect(database=db) as conn:
        conn.execute("INSERT INTO probe (note) VALUES (%s)", (note,))
    return note


def _on_replica(cluster: PostgresCluster, db: str, note: str) -> bool:
    with cluster.connect(replica=True, database=db) as conn:
        row = conn.execute("SELECT count(*) FROM probe WHERE note = %s", (note,))
        found = row.fetchone()
    return bool(found and found[0])


# -- PostgreSQL -------------------------------------------------------------


def test_primary_accepts_writes_and_replica_is_a_hot_standby(
    pg_cluster: PostgresCluster,
) -> None:
    with pg_cluster.connect() as primary:
        assert _one(primary, "SELECT pg_is_in_recovery()") is False
        assert _one(primary, "SELECT current_database()") == "proveo"
    with pg_cluster.connect(replica=True) as replica:
        assert _one(replica, "SELECT pg_is_in_recovery()") is True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            replica.execute("CREATE TABLE nope (id int)")


def test_urls_name_the_project_database_on_each_port(
    pg_cluster: PostgresCluster,
) -> None:
    port = pg_cluster.primary_port
    assert (
        pg_cluster.primary_url
        == f"postgresql+psycopg://postgres@127.0.0.1:{port}/proveo"
    )
    assert pg_cluster.replica_url.endswith(f":{pg_cluster.replica_port}/proveo")
    assert port != pg_cluster.replica_port


def test_replica_is_streaming(pg_cluster: PostgresCluster) -> None:
    with pg_cluster.connect() as primary:
        states = primary.execute("SELECT state FROM pg_stat_replication").fetchall()
    assert states == [("streaming",)]


def test_committed_row_reaches_the_replica(
    pg_cluster: PostgresCluster, scratch_db: str
) -> None:
    note = _insert(pg_cluster, scratch_db)
    pg_cluster.wait_replica_caught_up()
    assert _on_replica(pg_cluster, scratch_db, note)


def test_paused_replay_hides_new_rows_until_resumed(
    pg_cluster: PostgresCluster, scratch_db: str
) -> None:
    pg_cluster.pause_replay()
    try:
        note = _insert(pg_cluster, scratch_db)
        assert not _on_replica(pg_cluster, scratch_db, note)
        with pytest.raises(DevServerError, match="replica"):
            pg_cluster.wait_replica_caught_up(timeout=0.2)
    finally:
        pg_cluster.resume_replay()
    pg_cluster.wait_replica_caught_up()
    assert _on_replica(pg_cluster, scratch_db, note)


def test_replica_can_be_stopped_and_started_on_its_port(
    pg_cluster: PostgresCluster, scratch_db: str
) -> None:
    port = pg_cluster.replica_port
    pg_cluster.stop_replica()
    try:
        pg_cluster.stop_replica()  # idempotent
        with pytest.raises(psycopg.OperationalError):
            pg_cluster.connect(replica=True).close()
        note = _insert(pg_cluster, scratch_db)
    finally:
        pg_cluster.start_replica()
    assert pg_cluster.replica_port == port
    pg_cluster.wait_replica_caught_up()
    assert _on_replica(pg_cluster, scratch_db, note)


def test_extensions_the_project_needs_can_be_created(
    pg_cluster: PostgresCluster,
) -> None:
    with pg_cluster.connect(database="postgres") as conn:
        conn.execute("CREATE DATABASE devservers_ext")
    try:
        with pg_cluster.connect(database="devservers_ext") as conn:
            conn.execute("CREATE EXTENSION unaccent")
            conn.execute("CREATE EXTENSION pg_trgm")
            assert _one(conn, "SELECT unaccent('Crème brûlée')") == "Creme brulee"
            similarity = _one(conn, "SELECT similarity('plumbing', 'plumbers')")
            assert isinstance(similarity, float) and similarity > 0.3
    finally:
        with pg_cluster.connect(database="postgres") as conn:
            conn.execute("DROP DATABASE devservers_ext WITH (FORCE)")


def test_missing_postgres_binaries_name_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVEO_PG_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(DevServerError, match="`postgresql`"):
        PostgresCluster(tmp_path / "pg").start()


def test_cluster_copes_with_a_crashed_session_and_a_taken_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A killed session leaves pid files and data behind; the next start copes."""
    base = Path(tempfile.mkdtemp(prefix="proveo-test-"))  # reachable by postgres
    base.chmod(0o755)
    stale = base / "primary"
    stale.mkdir()
    (stale / "postmaster.pid").write_text("99999999\n")  # beyond any pid_max
    cluster = PostgresCluster(base)
    try:
        with socket.socket() as busy:  # bound, not listening: probes fail fast
            busy.bind(("127.0.0.1", 0))
            taken = busy.getsockname()[1]
            ports = iter([taken])
            monkeypatch.setattr(
                pg_module,
                "find_free_port",
                lambda: next(ports, None) or find_free_port(),
            )
            cluster.start()
        assert cluster.root == base
        assert cluster.primary_port != taken
        with cluster.connect(replica=True) as conn:
            assert _one(conn, "SELECT pg_is_in_recovery()") is True
        # A postmaster killed outright must not make stop() fail.
        pid = pg_module.postmaster_pid(cluster.replica_dir)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        processes.poll(
            lambda: not pg_module.process_exists(pid), timeout=10, what="kill"
        )
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
    with pytest.raises(psycopg.OperationalError):
        cluster.connect().close()


def test_a_kept_cluster_starts_again_with_its_data() -> None:
    """``keep`` (``proveo dev --data-dir``): the primary's rows survive a restart."""
    base = Path(tempfile.mkdtemp(prefix="proveo-test-"))  # reachable by postgres
    base.chmod(0o755)
    cluster = PostgresCluster(base, keep=True)
    try:
        cluster.start()
        with cluster.connect() as conn:
            conn.execute("CREATE TABLE kept (note text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        cluster.stop()
        cluster.start()
        with cluster.connect() as conn:
            assert _one(conn, "SELECT note FROM kept") == "still here"
        cluster.wait_replica_caught_up()
        with cluster.connect(replica=True) as conn:
            assert _one(conn, "SELECT note FROM kept") == "still here"
        cluster.stop()
        fresh = PostgresCluster(base)  # without keep a start is a clean slate
        try:
            fresh.start()
            with fresh.connect() as conn:
                assert _one(conn, "SELECT to_regclass('kept') IS NULL") is True
        finally:
            fresh.stop()
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_commands_switch_user_only_as_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert pg_module.postgres_argv(["initdb"]) == ["initdb"]
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    argv = pg_module.postgres_argv(["initdb"])
    assert argv[0].endswith("runuser") and argv[1:] == [
        "-u",
        "postgres",
        "--",
        "initdb",
    ]


def test_cluster_moves_out_of_paths_too_long_for_sockets(tmp_path: Path) -> None:
    assert pg_module.choose_root(tmp_path / ("x" * 90)) is None


def test_root_without_a_postgres_user_is_explained(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)

    def no_user(name: str) -> object:
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", no_user)
    with pytest.raises(DevServerError, match="`postgres` user"):
        pg_module.postgres_argv(["initdb"])


def test_process_owned_by_someone_else_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(pid: int, sig: int) -> None:
        raise PermissionError(pid)

    monkeypatch.setattr(os, "kill", forbidden)
    assert pg_module.process_exists(1) is True


def _fake_pg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, initdb: str, pg_ctl: str
) -> Path:
    """Stand-in binaries, run as ourselves (no runuser) to script each failure."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in (("initdb", initdb), ("pg_ctl", pg_ctl)):
        script = bindir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PROVEO_PG_BIN", str(bindir))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    return tmp_path / "pg"


FAKE_INITDB = 'mkdir -p "$2" && touch "$2/postgresql.conf" "$2/pg_hba.conf"'


@pytest.mark.parametrize(
    ("initdb", "pg_ctl", "timeout", "error"),
    [
        (
            "echo 'initdb: disk full' >&2; exit 1",
            "exit 0",
            30,
            "(?s)initdb failed.*disk full",
        ),
        ("exec sleep 30", "exit 0", 0.3, "initdb did not finish in 0.3 s"),
        (FAKE_INITDB, "echo 'could not start' >&2; exit 1", 30, "pg_ctl failed"),
    ],
)
def test_postgres_steps_that_fail_say_which(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    initdb: str,
    pg_ctl: str,
    timeout: float,
    error: str,
) -> None:
    cluster = PostgresCluster(
        _fake_pg(tmp_path, monkeypatch, initdb=initdb, pg_ctl=pg_ctl)
    )
    cluster.command_timeout = timeout
    with pytest.raises(DevServerError, match=error):
        cluster.start()
    assert cluster.root == tmp_path / "pg"


def test_stop_fails_loudly_if_the_postmaster_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _fake_pg(tmp_path, monkeypatch, initdb="exit 0", pg_ctl="exit 1")
    (base / "primary").mkdir(parents=True)
    (base / "primary" / "postmaster.pid").write_text(f"{os.getpid()}\n")
    with pytest.raises(DevServerError, match="pg_ctl failed"):
        PostgresCluster(base).stop()


# -- Redis ------------------------------------------------------------------


def test_redis_restarts_on_the_same_url(redis_server: RedisServer) -> None:
    url = redis_server.url
    client = redis.Redis.from_url(url, socket_timeout=2)
    redis_server.stop()
    try:
        redis_server.stop()  # idempotent
        with pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        redis_server.start()
    assert redis_server.url == url
    assert client.ping() is True
    client.close()


def test_missing_redis_binary_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVEO_REDIS_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(DevServerError, match="`redis-server`"):
        RedisServer(tmp_path).start()


def _fake_redis(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "fake-redis"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PROVEO_REDIS_BIN", str(script))


def test_a_server_that_dies_reports_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_redis(tmp_path, "echo 'fatal: no way'; exit 1", monkeypatch)
    with pytest.raises(DevServerError, match=r"(?s)exited.*fatal: no way"):
        RedisServer(tmp_path).start()


def test_a_server_that_never_answers_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_redis(tmp_path, "exec sleep 60", monkeypatch)
    server = RedisServer(tmp_path)
    server.start_timeout = 0.3
    with pytest.raises(DevServerError, match=r"not ready after 0\.3 s"):
        server.start()
    assert not server.running


def test_first_start_retries_when_its_port_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy:  # bound, not listening: probes fail fast
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        ports = iter([taken])
        monkeypatch.setattr(
            servers_module,
            "find_free_port",
            lambda: next(ports, None) or find_free_port(),
        )
        server = RedisServer(tmp_path)
        try:
            server.start()
            server.start()  # no-op while running
            assert server.port != taken
        finally:
            server.stop()
        pinned = RedisServer(tmp_path, port=taken)
        with pytest.raises(DevServerError, match="already in use"):
            pinned.start()


# -- S3 ---------------------------------------------------------------------


def test_s3_round_trip_with_the_minio_client(s3_server: S3Server) -> None:
    client = s3_server.client()
    assert client.bucket_exists("proveo")
    key = f"devservers/{uuid.uuid4().hex}.bin"
    data = os.urandom(1024)
    client.put_object("proveo", key, io.BytesIO(data), len(data))
    response = client.get_object("proveo", key)
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
    client.remove_object("proveo", key)
    s3_server.create_bucket("proveo")  # idempotent


# -- SMTP -------------------------------------------------------------------


def test_sent_mail_lands_in_the_sink(fresh_mail: SmtpSink) -> None:
    message = EmailMessage()
    message["From"] = "Proveo <no-reply@proveo.test>"
    message["To"] = "Zoë <zoe@example.test>"
    message["Subject"] = "Confirm your address"
    message.set_content("token=abc123")
    other = EmailMessage()
    other["From"], other["To"], other["Subject"] = "a@b.test", "c@d.test", "Hello"
    other.set_content("first")
    with smtplib.SMTP(fresh_mail.host, fresh_mail.port, timeout=5) as client:
        client.send_message(other)
        client.send_message(message)
    got = fresh_mail.wait_for(lambda m: m["subject"] == "Confirm your address")
    assert got["to"].addresses[0].addr_spec == "zoe@example.test"
    body = got.get_body(preferencelist=("plain",))
    assert body is not None and "token=abc123" in body.get_content()
    subjects = [m["subject"] for m in fresh_mail.messages()]
    assert subjects == ["Hello", "Confirm your address"]
    fresh_mail.clear()
    assert fresh_mail.messages() == []


def test_waiting_for_mail_that_never_comes_fails(fresh_mail: SmtpSink) -> None:
    with pytest.raises(DevServerError, match="no matching message"):
        fresh_mail.wait_for(lambda m: True, timeout=0.1)


def test_a_sink_that_never_ran_has_no_mail(tmp_path: Path) -> None:
    assert SmtpSink(tmp_path).messages() == []


def test_missing_python_servers_name_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DevServerError, match="moto"):
        S3Server(tmp_path).start()
    with pytest.raises(DevServerError, match="aiosmtpd"):
        SmtpSink(tmp_path).start()


# -- the stack --------------------------------------------------------------


def test_stack_env_points_at_every_server(dev_stack: DevStack) -> None:
    env = dev_stack.env()
    assert dev_stack.s3 is not None and dev_stack.smtp is not None
    assert env["PROVEO_DATABASE_URL"] == dev_stack.postgres.primary_url
    assert env["PROVEO_DATABASE_REPLICA_URL"] == dev_stack.postgres.replica_url
    assert env["PROVEO_REDIS_URL"] == dev_stack.redis.url
    assert env["PROVEO_S3_ENDPOINT"] == dev_stack.s3.endpoint
    assert env["PROVEO_SMTP_PORT"] == str(dev_stack.smtp.port)
    assert {env[k] for k in ("PROVEO_STORAGE", "PROVEO_MAIL")} == {"s3", "smtp"}
    assert env["PROVEO_S3_SECURE"] == env["PROVEO_SMTP_STARTTLS"] == "false"
    assert dev_stack.start_seconds > 0


def test_stack_without_s3_and_smtp_leaves_those_settings_out(tmp_path: Path) -> None:
    env = DevStack(tmp_path, s3=False, smtp=False).env()
    assert set(env) == {
        "PROVEO_DATABASE_URL",
        "PROVEO_DATABASE_REPLICA_URL",
        "PROVEO_REDIS_URL",
    }


def test_stack_start_failure_stops_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVEO_PG_BIN", str(tmp_path / "nowhere"))
    stack = DevStack(tmp_path, s3=False, smtp=False)
    with pytest.raises(DevServerError, match="`postgresql`"):
        stack.start()
    assert not stack.redis.running
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(stack.redis.url, socket_timeout=1).ping()


def test_find_free_port_gives_a_bindable_port() -> None:
    port = find_free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert devservers.find_free_port is find_free_port


# -- process plumbing -------------------------------------------------------


def test_log_tail_of_a_missing_log_says_so(tmp_path: Path) -> None:
    assert "no log" in processes.log_tail(tmp_path / "missing.log")


def test_exit_safety_net_stops_leftovers_and_ignores_their_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processes, "_running", {})  # keep the session stack alive
    stopped: list[str] = []

    class Fine:
        def stop(self) -> None:
            stopped.append("fine")

    class Broken:
        def stop(self) -> None:
            raise RuntimeError("already gone")

    fine, broken = Fine(), Broken()
    processes.track(fine)
    processes.track(broken)
    processes.stop_leftovers()
    assert stopped == ["fine"]


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    child = processes.Child("stubborn", tmp_path / "stubborn.log")
    child.spawn(["sh", "-c", "trap '' TERM; echo ready; exec sleep 30"], cwd=tmp_path)
    processes.poll(
        lambda: "ready" in processes.log_tail(child.log), timeout=10, what="child"
    )
    child.stop(grace=0.2)
    assert not child.alive()
