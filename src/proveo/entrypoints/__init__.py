"""The ``proveo`` command: one image, several roles, a few admin tools.

``proveo`` with no sub-command reads ``PROVEO_ROLE`` (the container entry point).
Server roles ``exec`` their server so it is PID 1 and receives SIGTERM directly.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from proveo.platform.settings import Settings, SettingsError

__all__ = ["gunicorn_argv", "main"]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"proveo: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _prepare_metrics_dir(*, wipe: bool) -> None:
    """Make sure the multiprocess metrics directory exists (empty it for a new server).

    prometheus_client fails on the first metric when the directory is missing,
    which an emptyDir-backed /tmp is at every start.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        if wipe:
            shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def gunicorn_argv(
    target: str, *, bind: str, workers: int, threads: int, extra: Sequence[str] = ()
) -> list[str]:
    """Gunicorn serving ``target`` (module:app) with the web role's configuration."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:proveo.entrypoints.gunicorn_conf",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        *extra,
        target,
    ]


def run_web(args: argparse.Namespace) -> int:
    settings = _settings()
    _prepare_metrics_dir(wipe=True)
    port = args.port or settings.web_port
    argv = gunicorn_argv(
        "proveo.entrypoints.web:app",
        bind=f"{args.host}:{port}",
        workers=settings.web_workers,
        threads=settings.web_threads,
    )
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


def run_worker(args: argparse.Namespace) -> int:
    settings = _settings()
    env_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if env_dir:  # Dramatiq's exporter (port 9191) keeps its own directory
        os.environ["dramatiq_prom_db"] = env_dir + "-worker"
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = env_dir + "-worker"
        shutil.rmtree(env_dir + "-worker", ignore_errors=True)
        os.makedirs(env_dir + "-worker", exist_ok=True)
    os.environ.setdefault("dramatiq_queue_prefetch", "1")
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "proveo.entrypoints.worker:broker",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
        "--worker-shutdown-timeout",
        "50000",
        "--skip-logging",
    ]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


def run_scheduler(args: argparse.Namespace) -> int:
    _settings()
    _prepare_metrics_dir(wipe=False)
    argv = [
        sys.executable,
        "-c",
        # periodiq installs no SIGTERM handler: exit 0 on SIGTERM like the other roles.
        "import signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        "from periodiq import entrypoint; entrypoint()",
        "proveo.entrypoints.scheduler:broker",
    ]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


def migrations_dir() -> Path:
    """Where the Alembic history lives: ``PROVEO_MIGRATIONS_DIR`` or the checkout."""
    configured = os.environ.get("PROVEO_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "migrations"


def run_migrate(args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.config import Config

    settings = _settings()
    _prepare_metrics_dir(wipe=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["database_url"] = settings.database_url
    command.upgrade(cfg, args.revision)
    return 0


def run_dev(args: argparse.Namespace) -> int:
    from proveo.entrypoints.dev import run

    return run(args)


def run_seed(args: argparse.Namespace) -> int:
    from proveo.entrypoints.admin import seed

    _prepare_metrics_dir(wipe=False)
    return seed(_settings(), force=args.force)


def run_create_admin(args: argparse.Namespace) -> int:
    from proveo.entrypoints.admin import create_admin

    return create_admin(_settings(), args)


def run_healthcheck(args: argparse.Namespace) -> int:
    import redis

    settings = _settings()
    if args.role == "web":
        import urllib.request

        url = f"http://127.0.0.1:{settings.web_port}/api/v1/health"
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return 0 if response.status == 200 else 1
        except OSError as exc:
            print(f"unhealthy: {type(exc).__name__}", file=sys.stderr)
            return 1
    try:
        redis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        ).ping()
    except Exception as exc:
        print(f"unhealthy: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


def run_tool(args: argparse.Namespace) -> int:
    from proveo.entrypoints.admin import tool

    return tool(args)


ROLES: dict[str, Callable[[argparse.Namespace], int]] = {
    "web": run_web,
    "worker": run_worker,
    "migrate": run_migrate,
    "scheduler": run_scheduler,
}


def _positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (else a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _company_id(text: str) -> uuid.UUID:
    """An argparse type: a company id (a UUID), else a usage error (exit 2)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a company id: {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proveo", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    web = sub.add_parser("web", help="serve HTTP with gunicorn")
    web.add_argument("--host", default="0.0.0.0")
    web.add_argument("--port", type=int, default=None)
    web.set_defaults(func=run_web)

    sub.add_parser("worker", help="run Dramatiq workers").set_defaults(func=run_worker)
    sub.add_parser(
        "scheduler", help="run the periodic scheduler (one replica)"
    ).set_defaults(func=run_scheduler)
    migrate = sub.add_parser("migrate", help="alembic upgrade")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=run_migrate)

    dev = sub.add_parser("dev", help="run everything locally with demo data")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument(
        "--data-dir",
        default=None,
        help="keep the database, images and secret key here for the next run "
        "(default: a temporary directory, removed on exit)",
    )
    dev.set_defaults(func=run_dev)

    seed = sub.add_parser("seed", help="load the demo data (idempotent)")
    seed.add_argument("--force", action="store_true", help="allow with DEBUG off")
    seed.set_defaults(func=run_seed)

    admin = sub.add_parser("create-admin", help="create or promote an administrator")
    admin.add_argument("--email")
    admin.add_argument("--name")
    admin.add_argument("--password-stdin", action="store_true")
    admin.set_defaults(func=run_create_admin)

    health = sub.add_parser(
        "healthcheck", help="probe a role's dependencies (exit 0/1)"
    )
    health.add_argument("role", choices=["web", "worker", "scheduler"])
    health.set_defaults(func=run_healthcheck)

    models = sub.add_parser("models", help="model artefacts")
    models.add_argument("action", choices=["build", "check"])
    models.add_argument("--output", default=None)
    models.set_defaults(func=run_tool, tool="models")

    moderation = sub.add_parser("moderation", help="moderation tools")
    moderation.add_argument("action", choices=["requeue"])
    # The image statuses (companies.IMAGE_STATUSES, checked by a test): the
    # parser runs before anything heavy is imported.
    moderation.add_argument(
        "--status",
        choices=["pending", "approved", "rejected", "failed"],
        default="failed",
        help="requeue every image in this status (default: failed)",
    )
    moderation.set_defaults(func=run_tool, tool="moderation")

    search = sub.add_parser("search", help="search index tools")
    search.add_argument("action", choices=["reindex", "compact"])
    search.add_argument("--batch", type=_positive_int, default=1000)
    search.add_argument(
        "--after",
        type=_company_id,
        default=None,
        help="reindex only: resume after this company id (printed as progress)",
    )
    search.set_defaults(func=run_tool, tool="search")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen role or tool."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "search" and args.action != "reindex" and args.after:
        parser.error("--after applies to 'search reindex' only")
    if args.command is None:
        # The settings check PROVEO_ROLE with every other variable, so a bad
        # role is reported in the same error as the rest (exit 2).
        role = _settings().role
        args = _parser().parse_args([role])
    return int(args.func(args))
