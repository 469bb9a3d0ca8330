"""HTTP plumbing: the error shape on every path, headers, correlation ids, limits."""

from __future__ import annotations

import io
import ipaddress
import json
import re
import threading
import uuid
from typing import Any

import falcon
import falcon.testing
import marshmallow
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import fields

from proveo.platform.errors import Invalid
from proveo.platform.http import doc, load_json, load_query, parse_uuid, route
from proveo.platform.http.errors import install_error_handlers
from proveo.platform.http.health import Database_, Ready
from proveo.platform.http.middleware import BodyLimit, RequestContext, SecurityHeaders
from proveo.platform.http.params import MAX_JSON_DEPTH


class EchoIn(marshmallow.Schema):
    name = fields.String(required=True)
    count = fields.Integer(strict=True, load_default=1)


class EchoQuery(marshmallow.Schema):
    limit = fields.Integer(load_default=10)


class Echo:
    @doc("Echo", body=EchoIn, errors=(400, 413, 415, 422))
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = load_json(EchoIn(), req)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = load_query(EchoQuery(), req)


class Thing:
    def on_get(self, req: falcon.Request, resp: falcon.Response, thing_id: str) -> None:
        resp.media = {"id": str(parse_uuid(thing_id, "thing_id"))}


class Boom:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise RuntimeError("secret internals: password=hunter2")


def _echo_app() -> falcon.App:
    app = falcon.App(middleware=[RequestContext(), SecurityHeaders(), BodyLimit()])
    app.req_options.strip_url_path_trailing_slash = True
    install_error_handlers(app)
    route(app, "/echo", Echo())
    route(app, "/things/{thing_id}", Thing())
    app.add_route("/boom", Boom())
    return app


@pytest.fixture(scope="module")
def echo_app() -> falcon.App:
    return _echo_app()


@pytest.fixture(scope="module")
def echo_client(echo_app: falcon.App) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(echo_app)


#: For property tests, which cannot take function-scoped fixtures.
_ECHO = falcon.testing.TestClient(_echo_app())


def _assert_error(result: falcon.testing.Result, status: int, code: str) -> None:
    assert result.status_code == status, result.text
    body = result.json
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["correlation_id"] == result.headers["X-Correlation-ID"]


def _post(
    client: falcon.testing.TestClient,
    body: bytes | str,
    content_type: str = "application/json",
) -> falcon.testing.Result:
    return client.simulate_post(
        "/echo", body=body, headers={"Content-Type": content_type}
    )


def test_unknown_route_is_a_json_404(client: falcon.testing.TestClient) -> None:
    _assert_error(client.simulate_get("/api/v1/nothing-here"), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["DELETE", "PROPFIND", "PURGE", "FOO"])
def test_wrong_method_is_a_json_405(
    client: falcon.testing.TestClient, method: str
) -> None:
    # Falcon knows DELETE and PROPFIND; PURGE and FOO it would call a 400.
    result = client.simulate_request(method, "/api/v1/health")
    _assert_error(result, 405, "METHOD_NOT_ALLOWED")
    assert result.headers["Allow"] == "GET, OPTIONS"


def test_trailing_slash_is_accepted_without_redirect(
    client: falcon.testing.TestClient,
) -> None:
    result = client.simulate_get("/api/v1/health/")
    assert result.status_code == 200 and result.json["status"] == "healthy"


def test_security_headers_and_correlation_id(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get(
        "/api/v1/health", headers={"X-Correlation-ID": "abc-123_x.y"}
    )
    assert result.headers["X-Correlation-ID"] == "abc-123_x.y"
    assert result.headers["X-Content-Type-Options"] == "nosniff"
    assert result.headers["X-Frame-Options"] == "DENY"
    assert result.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


HSTS = "Strict-Transport-Security"


@pytest.mark.parametrize(
    ("remote", "scheme", "proto", "expected"),
    [
        ("10.0.0.7", "http", "https", True),  # TLS ended at a trusted ingress
        ("10.0.0.7", "http", "http, https", True),  # the nearest proxy is last
        ("10.0.0.7", "http", "https, http", False),
        ("10.0.0.7", "http", None, False),
        ("203.0.113.9", "http", "https", False),  # anyone can send the header
        ("203.0.113.9", "https", None, True),  # TLS to us
        ("not an ip", "http", "https", False),
    ],
)
def test_hsts_over_https_directly_or_through_a_trusted_proxy(
    remote: str, scheme: str, proto: str | None, expected: bool
) -> None:
    app = falcon.App(middleware=[SecurityHeaders([ipaddress.ip_network("10.0.0.0/8")])])
    route(app, "/echo", Echo())
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    result = falcon.testing.TestClient(app).simulate_get(
        "/echo", headers=headers, remote_addr=remote, protocol=scheme
    )
    assert result.status_code == 200
    assert (HSTS in result.headers) is expected
    if expected:
        assert result.headers[HSTS] == "max-age=31536000; includeSubDomains"


@pytest.mark.parametrize("bad", ["a" * 65, "has space", "semi;colon", "<script>"])
def test_an_insane_correlation_id_is_replaced(
    client: falcon.testing.TestClient, bad: str
) -> None:
    result = client.simulate_get("/api/v1/nothing", headers={"X-Correlation-ID": bad})
    assert result.headers["X-Correlation-ID"] != bad
    assert result.json["correlation_id"] == result.headers["X-Correlation-ID"]


def test_malformed_json_is_400(echo_client: falcon.testing.TestClient) -> None:
    result = _post(echo_client, b"{not json")
    _assert_error(result, 400, "BAD_REQUEST")


@settings(max_examples=40, deadline=None)
@given(depth=st.one_of(st.integers(1, 1_200), st.sampled_from([512, 513, 100_000])))
def test_nesting_is_never_a_500(depth: int) -> None:
    # Up to MAX_JSON_DEPTH a list parses and is not the object the schema wants
    # (422); deeper is malformed (400) on every Python, never a RecursionError.
    body = b"[" * depth + b"]" * depth
    result = _post(_ECHO, body)
    if depth <= MAX_JSON_DEPTH:
        _assert_error(result, 422, "VALIDATION_ERROR")
    else:
        _assert_error(result, 400, "BAD_REQUEST")


def test_brackets_inside_strings_are_text(
    echo_client: falcon.testing.TestClient,
) -> None:
    name = "[{" * 2_000 + '\\"'
    result = echo_client.simulate_post("/echo", json={"name": name})
    assert result.status_code == 200, result.text
    assert result.json["name"] == name


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_malformed(
    echo_client: falcon.testing.TestClient, constant: str
) -> None:
    result = _post(echo_client, f'{{"name": "x", "count": {constant}}}')
    _assert_error(result, 400, "BAD_REQUEST")


def _chunked(
    app: falcon.App, body: bytes, *, terminated: bool = True
) -> tuple[int, Any]:
    """POST /echo as a server that decoded a chunked body hands it to the app."""
    env = falcon.testing.create_environ(
        method="POST", path="/echo", headers={"Content-Type": "application/json"}
    )
    env.pop("CONTENT_LENGTH", None)
    env["HTTP_TRANSFER_ENCODING"] = "chunked"
    env["wsgi.input"] = io.BytesIO(body)
    env["wsgi.input_terminated"] = terminated
    start = falcon.testing.StartResponseMock()
    out = b"".join(app(env, start))
    return int(start.status.split()[0]), json.loads(out)


def test_a_chunked_json_body_is_read_and_bounded(echo_app: falcon.App) -> None:
    status, body = _chunked(echo_app, b'{"name": "chunked"}')
    assert (status, body) == (200, {"name": "chunked", "count": 1})
    big = json.dumps({"name": "x" * (1024 * 1024)}).encode()
    status, body = _chunked(echo_app, big)
    assert (status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")
    # A server that does not mark the end of a chunked body: nothing is read.
    status, body = _chunked(echo_app, b'{"name": "x"}', terminated=False)
    assert (status, body["error"]["code"]) == (400, "BAD_REQUEST")


def test_wrong_content_type_is_415(echo_client: falcon.testing.TestClient) -> None:
    result = _post(echo_client, b"name=x", "application/x-www-form-urlencoded")
    _assert_error(result, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_schema_violation_is_422_naming_the_field(
    echo_client: falcon.testing.TestClient,
) -> None:
    result = echo_client.simulate_post("/echo", json={"count": 1.5})
    _assert_error(result, 422, "VALIDATION_ERROR")
    assert set(result.json["error"]["details"]["fields"]) == {"body.name", "body.count"}


def test_body_over_one_mebibyte_is_413(echo_client: falcon.testing.TestClient) -> None:
    big = json.dumps({"name": "x" * (1024 * 1024 + 10)})
    result = _post(echo_client, big)
    _assert_error(result, 413, "PAYLOAD_TOO_LARGE")


def test_bad_query_parameter_is_422(echo_client: falcon.testing.TestClient) -> None:
    result = echo_client.simulate_get("/echo", params={"limit": "many"})
    _assert_error(result, 422, "VALIDATION_ERROR")
    assert "query.limit" in result.json["error"]["details"]["fields"]


def test_non_uuid_path_parameter_is_422(echo_client: falcon.testing.TestClient) -> None:
    _assert_error(echo_client.simulate_get("/things/42"), 422, "VALIDATION_ERROR")
    ok = echo_client.simulate_get("/things/6f1c5a43-5a0b-4a3e-9d0f-1a2b3c4d5e6f")
    assert ok.status_code == 200


@given(value=st.uuids())
def test_path_uuids_are_hyphenated_in_any_case(value: uuid.UUID) -> None:
    assert parse_uuid(str(value), "thing_id") == value
    assert parse_uuid(str(value).upper(), "thing_id") == value
    for other in (value.hex, f"{{{value}}}", value.urn, f" {value}", f"{value}\n"):
        with pytest.raises(Invalid) as caught:
            parse_uuid(other, "thing_id")
        assert caught.value.details == {
            "fields": {"path.thing_id": ["Not a valid UUID."]}
        }


@given(text=st.text(max_size=40))
def test_any_text_is_a_uuid_or_a_422(text: str) -> None:
    try:
        parsed = parse_uuid(text, "thing_id")
    except Invalid:
        return
    assert str(parsed) == text.lower()


def test_unexpected_errors_never_leak_internals(
    echo_client: falcon.testing.TestClient,
) -> None:
    result = echo_client.simulate_get("/boom")
    _assert_error(result, 500, "INTERNAL_ERROR")
    assert "hunter2" not in result.text and "Traceback" not in result.text


header_names = st.sampled_from(
    ["Content-Type", "Content-Length", "X-Correlation-ID", "Accept", "Cookie", "Origin"]
)
header_values = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(str.encode)),
    headers=st.dictionaries(header_names, header_values, max_size=4),
    method=st.sampled_from(["POST", "GET", "PUT", "PATCH", "DELETE"]),
    path=st.sampled_from(["/echo", "/echo/", "/things/x", "/nope", "/things/"]),
)
def test_random_bodies_and_headers_never_give_a_500(
    echo_client: falcon.testing.TestClient,
    body: bytes,
    headers: dict[str, str],
    method: str,
    path: str,
) -> None:
    headers.pop("Content-Length", None)  # the client computes it from the body
    result = echo_client.simulate_request(method, path, body=body, headers=headers)
    assert result.status_code < 500, result.text
    if result.status_code >= 400:
        assert set(result.json) == {"error", "correlation_id"}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.binary(max_size=1024),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
            "application/xml",
        ]
    ),
    path=st.sampled_from(
        ["/api/v1/health", "/api/v1/health/ready", "/api/v1/openapi.json", "/x"]
    ),
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]),
)
def test_the_real_app_answers_junk_with_json_errors(
    client: falcon.testing.TestClient,
    body: bytes,
    content_type: str,
    path: str,
    method: str,
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    result = client.simulate_request(method, path, body=body, headers=headers)
    assert result.status_code < 500
    if result.status_code >= 400:
        assert result.json["error"]["code"]


def test_readiness_reports_each_dependency(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/api/v1/health/ready")
    assert result.status_code == 200
    assert result.json["status"] == "ready"
    assert set(result.json["checks"]) == {"primary", "replica", "redis", "storage"}
    assert all(check["ok"] for check in result.json["checks"].values())


def test_readiness_answers_in_time_when_a_dependency_hangs() -> None:
    release = threading.Event()
    calls: list[str] = []

    def hangs(name: str) -> Any:
        def check() -> None:
            calls.append(name)
            release.wait(30)

        return check

    def fine() -> None:
        return None

    app = falcon.App()
    route(
        app,
        "/replica",
        Ready({"primary": fine, "replica": hangs("replica")}, budget=0.2),
    )
    route(app, "/primary", Ready({"primary": hangs("primary")}, budget=0.2))
    client = falcon.testing.TestClient(app)
    try:
        for _ in range(3):  # probes keep coming while the replica hangs
            result = client.simulate_get("/replica")
            assert result.status_code == 200
            assert result.json["status"] == "degraded"
            assert result.json["checks"]["replica"]["timed_out"] is True
            assert result.json["checks"]["primary"]["ok"] is True
        assert calls == ["replica"]  # awaited again, not started again
        hung_primary = client.simulate_get("/primary")
        assert hung_primary.status_code == 503
        assert hung_primary.json["status"] == "unavailable"
    finally:
        release.set()


def test_readiness_degrades_while_redis_is_down(
    client: falcon.testing.TestClient, redis_server
) -> None:  # type: ignore[no-untyped-def]
    redis_server.stop()
    try:
        result = client.simulate_get("/api/v1/health/ready")
        assert result.status_code == 200
        assert result.json["status"] == "degraded"
        assert result.json["checks"]["redis"]["ok"] is False
    finally:
        redis_server.start()


def test_database_health_shows_pool_and_lag(client: falcon.testing.TestClient) -> None:
    result = client.simulate_get("/api/v1/health/database")
    assert result.status_code == 200
    pool = result.json["pool"]
    assert {
        "write_size",
        "read_size",
        "max_size",
        "replica_available",
        "replica_lag_seconds",
    } <= set(pool)


def test_database_health_answers_while_the_replica_hangs(
    services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def frozen_replica() -> float:  # a replica that takes the query, never answers
        release.wait(30)
        return 0.0

    monkeypatch.setattr(services.db, "replica_lag", frozen_replica)
    app = falcon.App()
    route(app, "/db", Database_(services.db, budget=0.2))
    try:
        result = falcon.testing.TestClient(app).simulate_get("/db")
    finally:
        release.set()
    assert result.status_code == 200  # the primary answers
    assert result.json["pool"]["replica_lag_seconds"] is None
    assert result.json["pool"]["replica_available"] is False


def test_openapi_document_and_ui_are_served(client: falcon.testing.TestClient) -> None:
    document = client.simulate_get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/health" in document["paths"]
    docs = client.simulate_get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "https://" not in docs.text  # packaged assets only, no CDN
    # The page loads the document it points at.
    found = re.search(r'url:\s*"([^"]+)"', docs.text)
    assert found is not None
    assert client.simulate_get(found[1]).json == document
    assets = re.findall(r'(?:src|href)="(/docs/static/[^"]+)"', docs.text)
    assert len(assets) >= 3
    for asset in assets:
        assert client.simulate_get(asset).status_code == 200, asset
    redoc = client.simulate_get("/redoc")
    assert redoc.status_code == 200 and "/redoc/redoc.standalone.js" in redoc.text
    assert client.simulate_get("/redoc/redoc.standalone.js").status_code == 200
