"""``proveo dev``: everything a newcomer needs, on loopback, in one command.

Starts a private PostgreSQL primary + streaming replica and Redis, runs the
migrations, loads the demo data, starts one web and one worker process, prints
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
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import FrameType

__all__ = ["ensure_server_binaries", "run"]

DEBIAN_PACKAGES = ("postgresql", "postgresql-contrib", "redis-server")


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


def _dev_env(stack_env: dict[str, str], data_dir: Path, port: int) -> dict[str, str]:
    public_url = f"http://127.0.0.1:{port}"
    chosen = {
        **stack_env,
        "PROVEO_SECRET_KEY": secrets.token_urlsafe(48),
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
    }
    overrides = {k: v for k, v in os.environ.items() if k.startswith("PROVEO_")}
    return {**os.environ, **chosen, **overrides}


def run(args: argparse.Namespace) -> int:
    """Run the whole system until interrupted."""
    from proveo.platform.devservers import DevStack

    ensure_server_binaries()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="proveo-dev-"))
    if data_dir.exists():
        shutil.rmtree(data_dir / "servers", ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o755)  # noqa: S103 (the postgres user must traverse it)
    stack = DevStack(data_dir / "servers", s3=False, smtp=False)
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("proveo: starting PostgreSQL (primary + replica) and Redis …", flush=True)
    stack.start()
    try:
        env = _dev_env(stack.env(), data_dir, args.port)
        cli = [sys.executable, "-m", "proveo"]
        subprocess.run([*cli, "migrate"], check=True, env=env)
        subprocess.run([*cli, "seed"], check=True, env=env)
        children.append(
            subprocess.Popen(
                [*cli, "web", "--host", "127.0.0.1", "--port", str(args.port)], env=env
            )
        )
        children.append(subprocess.Popen([*cli, "worker"], env=env))
        public_url = env["PROVEO_PUBLIC_URL"]
        _wait_http(f"{public_url}/api/v1/health", time.monotonic() + 60, children[0])
        print(
            f"\nProveo is running at {public_url}\n"
            f"  API docs:  {public_url}/docs  (ReDoc: {public_url}/redoc)\n"
            f"  Admin:     admin_test@mail.com / password\n"
            f"  Users:     testuser01@proveo.com … testuser16@proveo.com / TestPass123!\n"
            f"  Mail is printed to this console; data lives in {data_dir}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            if any(child.poll() is not None for child in children):
                print("proveo: a process exited; stopping", file=sys.stderr)
                break
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
        print("proveo: stopped", flush=True)
    return 0
