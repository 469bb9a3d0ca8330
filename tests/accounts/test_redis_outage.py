"""With Redis stopped, sessions, limits and mail keep working (degraded)."""

from __future__ import annotations

from typing import Any

from tests.accounts.helpers import API, PASSWORD, fresh_email, fresh_ip, login, mail_to
from tests.conftest import cookies_from


def test_accounts_survive_a_redis_outage(
    client: Any, services: Any, worker: Any, redis_server: Any, smtp_sink: Any
) -> None:
    email = fresh_email("outage")
    redis_server.stop()
    try:
        created = client.simulate_post(
            f"{API}/signup",
            json={"name": "Sin Redis", "email": email, "password": PASSWORD},
            remote_addr=fresh_ip(),
        )
        assert created.status_code == 201

        logged = login(client, email)
        assert logged.status_code == 200
        cookies = cookies_from(logged)
        assert client.simulate_get(f"{API}/me", cookies=cookies).status_code == 200
        out = client.simulate_post(f"{API}/logout", cookies=cookies)
        assert out.status_code == 200
        # Checked on the primary: the revocation applies at once.
        assert client.simulate_get(f"{API}/me", cookies=cookies).status_code == 401

        ip = fresh_ip()
        statuses = [
            login(client, fresh_email(), "guess-guess", remote_addr=ip).status_code
            for _ in range(11)
        ]
        assert statuses[-1] == 429  # enforced per process meanwhile
    finally:
        redis_server.start()

    # The verification mail written during the outage is delivered afterwards.
    message = smtp_sink.wait_for(mail_to(email.lower()), timeout=60)
    assert (
        "/api/v1/users/verify-email/"
        in message.get_body(preferencelist=("plain",)).get_content()
    )
