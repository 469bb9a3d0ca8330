"""Operator commands: demo data, administrators, index and model maintenance.

Each opens its own units of work through the modules' public interfaces.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from proveo import bootstrap
from proveo.platform import logs
from proveo.platform.errors import DomainError
from proveo.platform.settings import Settings

__all__ = ["create_admin", "seed", "tool"]

DEMO_ADMIN = ("admin_test@mail.com", "Admin Test", "password")
DEMO_PASSWORD = "TestPass123!"  # noqa: S105 (documented demo credential)
DEMO_USERS = 16


def seed(settings: Settings, *, force: bool = False) -> int:
    """Load the demo data of spec §8; idempotent. Refuses with DEBUG off unless forced."""
    from proveo import accounts, companies

    if not settings.debug and not force:
        print(
            "proveo: refusing to seed with PROVEO_DEBUG off (use --force)",
            file=sys.stderr,
        )
        return 2
    logs.configure(settings.log_level, role="seed")
    services = bootstrap.build_services(settings, with_broker=False)
    with services.db.write() as tx:
        companies.seed_catalogue(tx)
        email, name, password = DEMO_ADMIN
        accounts.create_or_promote_admin(tx, email=email, name=name, password=password)
    for index in range(1, DEMO_USERS + 1):
        with services.db.write() as tx:
            user = accounts.ensure_demo_user(
                tx,
                email=f"testuser{index:02d}@proveo.com",
                name=f"Test User {index:02d}",
                password=DEMO_PASSWORD,
                verified=True,
            )
            companies.seed_demo_company(tx, services.storage, user=user, index=index)
    print(f"proveo: demo data ready (1 admin, {DEMO_USERS} users with companies)")
    return 0


def create_admin(settings: Settings, args: argparse.Namespace) -> int:
    """Create an administrator, or promote an existing user, from flags or prompts."""
    from proveo import accounts

    email = args.email or input("E-mail: ").strip()
    name = args.name or input("Name: ").strip()
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            print("proveo: passwords differ", file=sys.stderr)
            return 2
    services = bootstrap.build_services(settings, with_broker=False)
    try:
        with services.db.write() as tx:
            user = accounts.create_or_promote_admin(
                tx, email=email, name=name, password=password
            )
    except DomainError as exc:
        print(f"proveo: {exc}", file=sys.stderr)
        return 2
    print(f"proveo: {user.email} is an administrator")
    return 0


def tool(args: argparse.Namespace) -> int:
    """Dispatch ``proveo models|moderation|search <action>``."""
    if args.tool == "models":
        from proveo import moderation

        return moderation.model_command(args.action, output=args.output)
    settings = Settings.from_env()
    logs.configure(settings.log_level, role="tool")
    services = bootstrap.build_services(settings)
    if args.tool == "moderation":
        from proveo import moderation

        count = moderation.requeue_images(services.db, status=args.status)
        print(f"proveo: requeued {count} image(s)")
        return 0
    from proveo import search

    if args.action == "compact":
        moved = search.compact(services.db, batch=args.batch, progress=sys.stderr)
        print(f"proveo: moved {moved} match rows into product order")
        return 0
    total = search.reindex(
        services.db, batch=args.batch, after=args.after, progress=sys.stderr
    )
    print(f"proveo: indexed {total} companies")
    return 0
