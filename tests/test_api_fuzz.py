"""Every documented operation, fuzzed in-process from the OpenAPI document: never a 5xx.

Anonymous requests reach validation of public routes and the 401/403 paths of
protected ones; module tests cover the authenticated paths.
"""

from __future__ import annotations

import falcon
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


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
