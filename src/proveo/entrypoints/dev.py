"""``proveo dev``: everything a newcomer needs, on loopback, in one command.

Starts a private PostgreSQL primary + streaming replica and Redis, runs the
migrations, loads the demo data, starts the web, worker and scheduler roles, prints
the URL and the demo logins, and stops everything on Ctrl-C. Storage defaults to
the local disk and mail to the console; any ``PROVEO_*`` variable set in the
environment wins over what this command would choose.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import FrameType

__all__ = ["ensure_server_binaries", "run"]

DEBIAN_PACKAGES = ("postgresql", "postgresql-contrib", "redis-server")
#: Worker and scheduler crashes restarted in one run before giving up.
MAX_RESTARTS = 10


def _have_binaries() -> bool:
    pg = os.environ.get("PROVEO_PG_BIN")
    has_pg = bool(pg and Path(pg, "initdb").exists()) or any(
        Path("/usr/lib/postgresql").glob("*/bin/initdb")
    )
    has_redis = bool(os.environ.get("PROVEO_REDIS_BIN") or shutil.which("redis-server"))
    return has_pg and has_redis


def ensure_server_binaries() -> None:
    """Install PostgreSQL and Redis from Debian packages when missing (as root).

    Without root (or apt-get) it stops with the exact packages to install.
    """
    if _have_binaries():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(
            "proveo: PostgreSQL and Redis server binaries are needed; install them with\n"
            f"  sudo apt-get install -y {' '.join(DEBIAN_PACKAGES)}"
        )
    print(f"proveo: installing {' '.join(DEBIAN_PACKAGES)} …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            *DEBIAN_PACKAGES,
        ],
        check=True,
        env=env,
    )


def _wait_http(url: str, deadline: float, proc: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"proveo: the web process exited with code {proc.returncode}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback)
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"proveo: {url} did not answer in time")


def _check_port(port: int) -> None:
    """Refuse a taken port before anything starts (and before a stranger answers)."""
    with socket.socket() as probe:
        # As gunicorn binds: a port left in TIME_WAIT by the last run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SystemExit(
                f"proveo: port {port} on 127.0.0.1 is in use ({exc.strerror}); "
                "pass --port to choose another"
            ) from None


def _secret_key(data_dir: Path, keep: bool) -> str:
    """A fresh key per run, or one kept with the data (old sessions stay valid)."""
    if not keep:
        return secrets.token_urlsafe(48)
    path = data_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _dev_env(
    stack_env: dict[str, str], data_dir: Path, port: int, *, keep: bool
) -> dict[str, str]:
    from proveo.platform.devservers import find_free_port

    public_url = f"http://127.0.0.1:{port}"
    chosen = {
        **stack_env,
        "PROVEO_SECRET_KEY": _secret_key(data_dir, keep),
        "PROVEO_PUBLIC_URL": public_url,
        "PROVEO_ALLOWED_ORIGINS": f"{public_url},http://localhost:{port}",
        "PROVEO_COOKIE_SECURE": "false",
        "PROVEO_DEBUG": "true",
        "PROVEO_STORAGE": "local",
        "PROVEO_STORAGE_DIR": str(data_dir / "storage"),
        "PROVEO_MAIL": "console",
        "PROVEO_WEB_WORKERS": "2",
        "PROVEO_WEB_THREADS": "4",
        "PROVEO_WORKER_PROCESSES": "1",
        "PROVEO_WORKER_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "metrics"),
        # The worker's metrics exporter: loopback and a free port, not *:9191.
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(find_free_port()),
    }
    overrides = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("PROVEO_", "dramatiq_prom_"))
    }
    return {**os.environ, **chosen, **overrides}


def run(args: argparse.Namespace) -> int:
    """Run the whole system until interrupted.

    Without ``--data-dir`` everything lives in a temporary directory that is
    removed on exit. With it, the database, the stored images and the secret key
    are kept for the next run (the replica and Redis start afresh; images
    still pending are put back in the queue).
    """
    from proveo.platform.devservers import DevStack

    ensure_server_binaries()
    _check_port(args.port)
    keep = args.data_dir is not None
    data_dir = (
        Path(args.data_dir) if keep else Path(tempfile.mkdtemp(prefix="proveo-dev-"))
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o755)  # noqa: S103 (the postgres user must traverse it)
    stack = DevStack(data_dir / "servers", s3=False, smtp=False, keep_database=keep)
    children: list[subprocess.Popen[bytes]] = []
    stopping = False
    failed = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("proveo: starting PostgreSQL (primary + replica) and Redis …", flush=True)
    stack.start()
    try:
        env = _dev_env(stack.env(), data_dir, args.port, keep=keep)
        cli = [sys.executable, "-m", "proveo"]
        subprocess.run([*cli, "migrate"], check=True, env=env)
        subprocess.run([*cli, "seed"], check=True, env=env)
        if keep:  # jobs queued in the last run's Redis are gone
            subprocess.run(
                [*cli, "moderation", "requeue", "--status", "pending"],
                check=True,
                env=env,
            )
        roles = ("web", "worker", "scheduler")  # the scheduler: sweeps, compaction

        def start_role(role: str) -> subprocess.Popen[bytes]:
            # Own sessions: Ctrl-C reaches only this process, which stops each
            # child once (a second signal makes gunicorn and Dramatiq abandon
            # their graceful stop).
            where = ["--host", "127.0.0.1", "--port", str(args.port)]
            return subprocess.Popen(
                [*cli, role, *(where if role == "web" else [])],
                env=env,
                start_new_session=True,
            )

        children += [start_role(role) for role in roles]
        restarts = 0
        public_url = env["PROVEO_PUBLIC_URL"]
        _wait_http(f"{public_url}/api/v1/health", time.monotonic() + 60, children[0])
        kept = (
            "kept for the next run" if keep else "removed on exit; --data-dir keeps it"
        )
        print(
            f"\nProveo is running at {public_url}\n"
            f"  API docs:  {public_url}/docs  (ReDoc: {public_url}/redoc)\n"
            f"  Admin:     admin_test@mail.com / password\n"
            f"  Users:     testuser01@proveo.com … testuser16@proveo.com / TestPass123!\n"
            f"  Mail is printed to this console; data in {data_dir} ({kept})\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            if children[0].poll() is not None:  # the web role is what you came for
                print(
                    f"proveo: the web process exited (code {children[0].returncode});"
                    " stopping",
                    file=sys.stderr,
                )
                failed = True
                break
            for index in range(1, len(children)):
                code = children[index].poll()
                if code is None or stopping:
                    continue
                # A crashed worker is started again, as the orchestrator would;
                # its unfinished jobs come back through the queue's heartbeat.
                restarts += 1
                if restarts > MAX_RESTARTS:
                    print("proveo: too many restarts; stopping", file=sys.stderr)
                    stopping = failed = True
                    break
                role = roles[index]
                print(
                    f"proveo: the {role} process exited (code {code}); restarting it",
                    file=sys.stderr,
                )
                children[index] = start_role(role)
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        print("proveo: stopped", flush=True)
    return 1 if failed else 0
