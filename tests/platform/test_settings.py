"""Settings: one error that lists every problem; nothing else ever escapes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proveo.platform import plugins
from proveo.platform.settings import ROLES, Settings, SettingsError

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
        "PROVEO_MAIL",
        "PROVEO_MAIL_FROM",
        "PROVEO_TRANSLATOR",
        "PROVEO_CLASSIFIER",
        "PROVEO_WEB_PORT",
        "PROVEO_REPLICA_MAX_LAG_SECONDS",
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
        named = [_variable(p) for p in exc.problems]
        assert len(named) == len(set(named)), exc.problems  # each variable once
        assert set(named) <= set(env), exc.problems  # BASE itself is valid
    else:
        assert settings.database_url.startswith("postgresql+psycopg://")


def _variable(problem: str) -> str:
    return problem.split(":", 1)[0]


def _problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    return caught.value.problems


def test_the_role_is_listed_with_every_other_problem_each_once() -> None:
    # The black-box audit: a bad role used to hide the other problems, and a
    # short key was reported both as too short and as missing.
    problems = _problems(
        {
            "PROVEO_ROLE": "bogus",
            "PROVEO_SECRET_KEY": "short",
            "PROVEO_LOG_LEVEL": "LOUD",
            "PROVEO_DATABASE_URL": "mysql://app@db/proveo",
        }
    )
    assert sorted(problems) == sorted(
        [
            "PROVEO_ROLE: expected one of web, worker, migrate, scheduler",
            "PROVEO_SECRET_KEY: must be at least 32 characters",
            "PROVEO_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR",
            "PROVEO_DATABASE_URL: expected a postgresql:// URL",
        ]
    )


def test_missing_required_values_still_say_required() -> None:
    problems = _problems({"PROVEO_STORAGE": "s3", "PROVEO_S3_ENDPOINT": "s3:9000"})
    assert sorted(problems) == [
        "PROVEO_DATABASE_URL: required",
        "PROVEO_S3_ACCESS_KEY: required when STORAGE=s3",
        "PROVEO_S3_SECRET_KEY: required when STORAGE=s3",
        "PROVEO_SECRET_KEY: required (32+ random characters)",
    ]


def test_every_role_the_settings_accept_is_a_role_the_command_runs() -> None:
    from proveo.entrypoints import ROLES as RUNNERS

    assert set(ROLES) == set(RUNNERS)
    for role in ROLES:
        assert Settings.from_env({**BASE, "PROVEO_ROLE": role}).role == role


BACKENDS = [
    # variable, entry-point group, built-in names not registered as entry points
    ("PROVEO_STORAGE", "proveo.storage", ()),
    ("PROVEO_MAIL", "proveo.mail", ()),
    ("PROVEO_TRANSLATOR", "proveo.translation", ()),
    ("PROVEO_CLASSIFIER", "proveo.moderation.classifier", ("onnx",)),
]


@pytest.mark.parametrize(("variable", "group", "builtin"), BACKENDS)
def test_an_unknown_backend_is_refused_listing_the_installed_ones(
    variable: str, group: str, builtin: tuple[str, ...]
) -> None:
    known = sorted({*builtin, *plugins.available(group)})
    assert known, f"nothing installed in {group}"
    (problem,) = _problems({**BASE, variable: "nonexistent"})
    assert problem == (
        f"{variable}: 'nonexistent' is not installed; expected one of "
        f"{', '.join(known)} (entry-point group {group})"
    )


def test_the_built_in_backends_are_accepted() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "PROVEO_STORAGE": "local",
            "PROVEO_MAIL": "smtp",
            "PROVEO_TRANSLATOR": "libretranslate",
            "PROVEO_CLASSIFIER": " ONNX ",  # the moderation wiring folds case
        }
    )
    assert (settings.storage, settings.mail, settings.translator) == (
        "local",
        "smtp",
        "libretranslate",
    )
    assert settings.plugin_settings["classifier"] == " ONNX "


@given(st.sampled_from(BACKENDS), st.text(max_size=20))
def test_a_backend_name_is_accepted_exactly_when_it_is_installed(
    backend: tuple[str, str, tuple[str, ...]], name: str
) -> None:
    variable, group, builtin = backend
    folded = name.strip().lower() if variable == "PROVEO_CLASSIFIER" else name
    installed = name == "" or folded in {*builtin, *plugins.available(group)}
    try:
        Settings.from_env({**BASE, variable: name})
    except SettingsError as exc:
        assert not installed
        assert [_variable(p) for p in exc.problems] == [variable]
    else:
        assert installed


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_a_port_is_accepted_exactly_in_range(port: int) -> None:
    env = {**BASE, "PROVEO_SMTP_PORT": str(port), "PROVEO_WEB_PORT": str(port)}
    if 1 <= port <= 65535:
        settings = Settings.from_env(env)
        assert settings.smtp_port == settings.web_port == port
    else:
        assert _problems(env) == [
            "PROVEO_SMTP_PORT: expected an integer in 1..65535",
            "PROVEO_WEB_PORT: expected an integer in 1..65535",
        ]


@given(st.text(max_size=12))
def test_an_integer_is_accepted_in_range_or_refused_with_the_range(text: str) -> None:
    try:
        settings = Settings.from_env({**BASE, "PROVEO_WEB_THREADS": text})
    except SettingsError as exc:  # never Python's "invalid literal for int()"
        assert exc.problems == ["PROVEO_WEB_THREADS: expected an integer in 1..64"]
    else:
        assert text == "" or settings.web_threads == int(text)
        assert 1 <= settings.web_threads <= 64


@given(st.one_of(st.text(max_size=12), st.floats().map(str)))
def test_a_number_is_accepted_in_range_or_refused_with_the_range(text: str) -> None:
    try:
        settings = Settings.from_env({**BASE, "PROVEO_NSFW_THRESHOLD": text})
    except SettingsError as exc:
        assert exc.problems == ["PROVEO_NSFW_THRESHOLD: expected a number in 0.0..1.0"]
    else:
        assert text == "" or settings.nsfw_threshold == float(text)
        assert 0.0 <= settings.nsfw_threshold <= 1.0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PROVEO_SMTP_PORT", "http", "expected an integer in 1..65535"),
        ("PROVEO_NSFW_THRESHOLD", "high", "expected a number in 0.0..1.0"),
        ("PROVEO_NSFW_THRESHOLD", "nan", "expected a number in 0.0..1.0"),
        ("PROVEO_REPLICA_MAX_LAG_SECONDS", "-1", "expected a number in 0.0..3600.0"),
        ("PROVEO_DB_MAX_OVERFLOW", "101", "expected an integer in 0..100"),
        ("PROVEO_PUBLIC_URL", "http://", "expected an http(s) URL"),
        ("PROVEO_PUBLIC_URL", "https://[::1", "expected an http(s) URL"),
        ("PROVEO_PUBLIC_URL", "proveo.example", "expected an http(s) URL"),
        (
            "PROVEO_ALLOWED_ORIGINS",
            "https://a.example,https://b.example/app",
            "an origin takes no path, got 'https://b.example/app' "
            "(expected scheme://host[:port])",
        ),
        (
            "PROVEO_MAIL_FROM",
            "Proveo",
            "expected a mail address, e.g. Proveo <no-reply@example.com>",
        ),
        ("PROVEO_COOKIE_SECURE", "maybe", "expected true or false"),
        ("PROVEO_TRUSTED_PROXIES", "10.0.0.0/8,proxy", "does not appear to be"),
    ],
)
def test_a_malformed_value_names_the_variable_and_what_is_wrong(
    variable: str, value: str, message: str
) -> None:
    (problem,) = _problems({**BASE, variable: value})
    assert problem.startswith(f"{variable}: ")
    assert message in problem


def test_well_formed_addresses_and_origins_are_kept() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "PROVEO_MAIL_FROM": "Proveo Support <support@proveo.example>",
            "PROVEO_ALLOWED_ORIGINS": "http://localhost:8000, https://proveo.example/",
        }
    )
    assert settings.mail_from == "Proveo Support <support@proveo.example>"
    assert settings.allowed_origins == (
        "http://localhost:8000",
        "https://proveo.example",
    )


@given(st.text(max_size=8))
def test_a_boolean_is_one_of_the_documented_words(text: str) -> None:
    word = text.strip().lower()
    env = {**BASE, "PROVEO_DEBUG": text}
    if text == "":
        assert Settings.from_env(env).debug is False  # unset: the default
    elif word in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        assert Settings.from_env(env).debug is (word in {"1", "true", "yes", "on"})
    else:
        assert _problems(env) == ["PROVEO_DEBUG: expected true or false"]


@given(st.text(max_size=10))
def test_a_log_level_is_one_of_four_in_any_case(text: str) -> None:
    env = {**BASE, "PROVEO_LOG_LEVEL": text}
    if text == "" or text.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        level = Settings.from_env(env).log_level
        assert level == (text.upper() or "INFO")
    else:
        assert _problems(env) == [
            "PROVEO_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR"
        ]


def test_the_error_text_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PROVEO_TRANSLATOR": "nonexistent", "PROVEO_MAIL": "x"})
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration:"
    assert [re.sub(r":.*", "", line) for line in lines[1:]] == [
        "  - PROVEO_MAIL",
        "  - PROVEO_TRANSLATOR",
        "  - PROVEO_DATABASE_URL",
        "  - PROVEO_SECRET_KEY",
    ]
