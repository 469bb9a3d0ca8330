"""Operator commands in-process: demo data, administrators, the search reindex."""

from __future__ import annotations

import argparse
import io
import sys

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from proveo import accounts, companies, entrypoints
from proveo.entrypoints import admin
from proveo.platform.runtime import Services
from proveo.platform.settings import Settings
from tests.helpers import unique


def test_seed_is_idempotent_and_refuses_without_debug(
    migrated: Settings, services: Services
) -> None:
    no_debug = Settings.from_env({**_env(migrated), "PROVEO_DEBUG": "false"})
    assert admin.seed(no_debug) == 2
    assert admin.seed(migrated) == 0
    assert admin.seed(migrated) == 0  # a second run changes nothing
    with services.db.write() as tx:
        names = [p.name_es for p in companies.list_products(tx)]
        assert "Tecnología" in names and "Alimentos" in names
        communes = [c.name for c in companies.list_communes(tx)]
        assert "Santiago Centro" in communes and "Providencia" in communes
        count = tx.execute(
            sa.text(
                "select count(*) from companies.companies c join accounts.users u"
                " on u.id = c.user_id where u.email like 'testuser%@proveo.com'"
            )
        ).scalar_one()
    assert count == 16


def _env(settings: Settings) -> dict[str, str]:
    return {f"PROVEO_{k.upper()}": v for k, v in settings.extra.items()}


def test_create_admin_from_flags_and_stdin(
    migrated: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"{unique('root')}@example.com"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long admin password\n"))
    args = argparse.Namespace(email=email, name="Root Admin", password_stdin=True)
    assert admin.create_admin(migrated, args) == 0
    with services.db.write() as tx:
        user = next(
            u
            for u in [accounts.find_user(tx, i) for i in _ids(tx, email)]
            if u is not None
        )
    assert user.role == "admin"


def _ids(tx: object, email: str) -> list[object]:
    return list(
        tx.execute(  # type: ignore[attr-defined]
            sa.text("select id from accounts.users where email = :e"), {"e": email}
        ).scalars()
    )


def test_reindex_rebuilds_missing_documents(
    services: Services, migrated: Settings
) -> None:
    from proveo import search

    assert admin.seed(migrated) == 0
    with services.db.write() as tx:
        tx.execute(sa.text("delete from search.documents"))
    out = io.StringIO()
    total = search.reindex(services.db, batch=5, progress=out)
    assert total >= 16 and "last id" in out.getvalue()
    with services.db.write() as tx:
        page = search.search(
            tx,
            search.SearchQuery(
                q="tecnologia", commune=None, product=None, lang="es", limit=5, offset=0
            ),
        )
    assert page.total >= 4


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_batch_sizes_below_one_are_usage_errors(batch: int) -> None:
    parser = entrypoints._parser()
    if batch >= 1:
        args = parser.parse_args(["search", "compact", "--batch", str(batch)])
        assert args.batch == batch
        return
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["search", "compact", "--batch", str(batch)])
    assert exited.value.code == 2


def test_a_batch_that_is_not_a_number_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        entrypoints.main(["search", "reindex", "--batch", "ten"])
    assert exited.value.code == 2
    assert "not a whole number: 'ten'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "reindex", "--after", "42"], "not a company id: '42'"),
        (
            ["search", "compact", "--after", "00000000-0000-4000-8000-000000000000"],
            "--after applies to 'search reindex' only",
        ),
    ],
    ids=["not-a-uuid", "compact-has-no-cursor"],
)
def test_search_after_is_checked_before_anything_runs(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        entrypoints.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_search_after_is_parsed_to_a_company_id() -> None:
    company = "00000000-0000-4000-8000-000000000000"
    args = entrypoints._parser().parse_args(["search", "reindex", "--after", company])
    assert str(args.after) == company


def test_requeue_offers_exactly_the_image_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = entrypoints._parser()
    commands = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    (status_option,) = [
        a for a in commands.choices["moderation"]._actions if a.dest == "status"
    ]
    assert sorted(status_option.choices) == sorted(companies.IMAGE_STATUSES)
    for status in companies.IMAGE_STATUSES:
        args = parser.parse_args(["moderation", "requeue", "--status", status])
        assert args.status == status
    with pytest.raises(SystemExit) as exited:
        entrypoints.main(["moderation", "requeue", "--status", "bogus"])
    assert exited.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
