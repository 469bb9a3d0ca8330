"""Every documented operation, fuzzed in-process from the OpenAPI document: never a 5xx.

Anonymous requests reach validation of public routes and the 401/403 paths of
protected ones; module tests cover the authenticated paths.
"""

from __future__ import annotations

import falcon
import falcon.testing
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from proveo.platform.runtime import Services
from tests.companies.helpers import admin_session


def test_no_operation_answers_with_a_server_error(app: falcon.App) -> None:  # type: ignore[type-arg]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 35
    for operation in operations:

        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error])

        check()


ADMIN_LISTS = [
    "/api/v1/users/admin/all-users",
    "/api/v1/companies/admin/all-companies",
    "/api/v1/moderation/admin/images",
    "/api/v1/admin/audit",
]


@pytest.mark.parametrize("path", ADMIN_LISTS)
def test_admin_lists_take_any_offset(
    client: falcon.testing.TestClient, services: Services, path: str
) -> None:
    """``offset ≥ 0`` has no maximum: past the end is an empty page, never a 4xx."""
    admin = admin_session(services)
    for offset in (0, 2**31, 2**63, 10**40, int("9" * 4_000)):
        result = client.simulate_get(
            path, params={"offset": str(offset)}, cookies=admin.cookies
        )
        assert result.status_code == 200, (offset, result.text)
        assert isinstance(result.json, list)
        if offset:
            assert result.json == []
    negative = client.simulate_get(path, params={"offset": "-1"}, cookies=admin.cookies)
    assert negative.status_code == 422
    assert "query.offset" in negative.json["error"]["details"]["fields"]
