"""Settings: one error that lists every problem; nothing else ever escapes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proveo.platform.settings import Settings, SettingsError

BASE = {
    "PROVEO_DATABASE_URL": "postgresql://app@db:5432/proveo",
    "PROVEO_SECRET_KEY": "k" * 32,
}


def test_defaults_and_the_replica_falling_back_to_the_primary() -> None:
    settings = Settings.from_env(BASE)
    assert settings.database_url == "postgresql+psycopg://app@db:5432/proveo"
    assert settings.database_replica_url == settings.database_url
    assert settings.role == "web" and settings.cookie_secure is True
    assert settings.debug is False and settings.nsfw_threshold == 0.2
    assert settings.web_workers >= 1 and settings.worker_processes >= 1


def test_every_problem_is_listed_at_once() -> None:
    env = {
        "PROVEO_ROLE": "cron",
        "PROVEO_SMTP_PORT": "http",
        "PROVEO_COOKIE_SECURE": "maybe",
        "PROVEO_NSFW_THRESHOLD": "2",
        "PROVEO_STORAGE": "s3",
    }
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    text = str(caught.value)
    for name in (
        "PROVEO_ROLE",
        "PROVEO_SMTP_PORT",
        "PROVEO_COOKIE_SECURE",
        "PROVEO_NSFW_THRESHOLD",
        "PROVEO_DATABASE_URL",
        "PROVEO_SECRET_KEY",
        "PROVEO_S3_ENDPOINT",
        "PROVEO_S3_ACCESS_KEY",
    ):
        assert name in text, name


def test_lists_urls_and_networks_are_parsed() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "PROVEO_DATABASE_REPLICA_URL": "postgres://app@replica/proveo",
            "PROVEO_ALLOWED_ORIGINS": "https://a.example, https://b.example/",
            "PROVEO_TRUSTED_PROXIES": "10.0.0.0/8,::1",
            "PROVEO_PUBLIC_URL": "https://proveo.example/",
            "PROVEO_DEBUG": "yes",
        }
    )
    assert settings.database_replica_url == "postgresql+psycopg://app@replica/proveo"
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert settings.public_url == "https://proveo.example" and settings.debug is True


def test_plugin_settings_expose_unknown_variables_to_plugins() -> None:
    settings = Settings.from_env({**BASE, "PROVEO_TRANSLATOR_URL": "http://lt:5000"})
    assert settings.plugin_settings["translator_url"] == "http://lt:5000"
    assert settings.plugin_settings["smtp_port"] == "25"


names = st.sampled_from(
    [
        "PROVEO_ROLE",
        "PROVEO_DATABASE_URL",
        "PROVEO_REDIS_URL",
        "PROVEO_SECRET_KEY",
        "PROVEO_PUBLIC_URL",
        "PROVEO_ALLOWED_ORIGINS",
        "PROVEO_TRUSTED_PROXIES",
        "PROVEO_COOKIE_SECURE",
        "PROVEO_SMTP_PORT",
        "PROVEO_NSFW_THRESHOLD",
        "PROVEO_WEB_WORKERS",
        "PROVEO_LOG_LEVEL",
        "PROVEO_STORAGE",
        "PROVEO_DEBUG",
    ]
)


@given(st.dictionaries(names, st.text(max_size=40), max_size=8))
def test_any_environment_gives_settings_or_a_settings_error(
    env: dict[str, str],
) -> None:
    try:
        settings = Settings.from_env({**BASE, **env})
    except SettingsError as exc:
        assert exc.problems and all(p.startswith("PROVEO_") for p in exc.problems)
    else:
        assert settings.database_url.startswith("postgresql+psycopg://")
