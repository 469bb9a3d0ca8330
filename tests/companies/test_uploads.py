"""Upload intake: order of checks, real type by content, limits, hostile bodies."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from proveo import companies
from proveo.companies.forms import BODY_LIMIT, IMAGE_LIMIT
from proveo.companies.imaging import inspect
from proveo.platform.errors import Invalid
from tests.companies.helpers import (
    API,
    fields_for,
    form,
    jpeg,
    make_catalogue,
    png,
    send_form,
    user_session,
)

TOO_LARGE = "The image must be at most 4000x4000 pixels and 16 megapixels."


def _quarantined(services) -> int:
    return sum(1 for _ in services.storage.list("quarantine/"))


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a size (pixels are never decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def _webp(size=(40, 30), lossless=False) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(out, format="WEBP", lossless=lossless)
    return out.getvalue()


def test_type_comes_from_content_not_from_the_declared_type(client, services):
    product, commune = make_catalogue(services)
    before = _quarantined(services)
    owner = user_session(services)
    body, ctype = form(
        fields_for(product, commune), b"<svg onload=alert(1)>", filename="logo.png"
    )
    result = send_form(client, "POST", "/companies", owner, body, ctype)
    assert result.status_code == 422
    assert "body.image" in result.json["error"]["details"]["fields"]
    body, ctype = form(
        fields_for(product, commune),
        jpeg(),
        filename="logo.gif",
        image_type="text/plain",
    )
    result = send_form(client, "POST", "/companies", owner, body, ctype)
    assert result.status_code == 201, result.text
    assert _quarantined(services) == before + 1


def test_inspect_reads_sizes_from_headers():
    for data, kind in ((png(), "png"), (jpeg(), "jpg"), (_webp(), "webp")):
        info = inspect(io.BytesIO(data))
        assert (info.extension, info.width) == (kind, 64 if kind != "webp" else 40)
    assert inspect(io.BytesIO(_webp(lossless=True))).height == 30
    rgba = io.BytesIO()
    Image.new("RGBA", (20, 10)).save(rgba, format="WEBP")  # extended (VP8X) header
    assert (inspect(io.BytesIO(rgba.getvalue())).width, 20)[1] == 20


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF0) claims another size."""
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [_png_header(100_000, 100_000), _png_header(4001, 1)],
    ids=["png-bomb", "png-wide"],
)
def test_a_declared_size_over_the_limits_is_named_as_such(data: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        inspect(io.BytesIO(data))
    assert caught.value.details["fields"]["body.image"] == [TOO_LARGE]


def test_a_jpeg_bomb_is_too_large_not_invalid() -> None:
    for size in ((60_000, 60_000), (4001, 100)):
        with pytest.raises(Invalid) as caught:
            inspect(io.BytesIO(_jpeg_declaring(*size)))
        assert caught.value.details["fields"]["body.image"] == [TOO_LARGE], size


def test_dimension_limits_come_from_the_header(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    for size in ((4001, 10), (10, 4001), (4000, 4001), (4000, 4000)):
        body, ctype = form(fields_for(product, commune), _png_header(*size))
        result = send_form(client, "POST", "/companies", owner, body, ctype)
        assert result.status_code == 422, size
        assert "body.image" in result.json["error"]["details"]["fields"]
    huge = _png_header(100_000, 100_000)  # a decompression bomb's header
    body, ctype = form(fields_for(product, commune), huge)
    result = send_form(client, "POST", "/companies", owner, body, ctype)
    assert result.status_code == 422
    # The size is what is wrong, and the message says so (not "not a PNG").
    assert result.json["error"]["details"]["fields"]["body.image"] == [TOO_LARGE]


def test_declared_size_over_the_limit_is_413_before_auth(client, services):
    owner = user_session(services)
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    headers["Content-Length"] = str(BODY_LIMIT + 1)
    result = client.simulate_post(f"{API}/companies", body=b"", headers=headers)
    assert result.status_code == 413
    anonymous = client.simulate_post(
        f"{API}/companies",
        body=b"--x\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert anonymous.status_code == 401
    body, ctype = form({"name": "x"}, png())
    unverified = user_session(services, verified=False)
    result = send_form(client, "POST", "/companies", unverified, body, ctype)
    assert result.status_code == 403
    assert result.json["error"]["code"] == "EMAIL_NOT_VERIFIED"
    no_csrf = send_form(client, "POST", "/companies", owner, body, ctype, csrf=False)
    assert no_csrf.status_code == 403


def _logo_of(size: int) -> bytes:
    """A JPEG padded to ``size`` bytes."""
    return jpeg() + b"\0" * (size - len(jpeg()))


def test_image_over_the_limit_is_stopped_while_streaming(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    before = _quarantined(services)
    body, ctype = form(fields_for(product, commune), _logo_of(IMAGE_LIMIT + 1))
    assert len(body) <= BODY_LIMIT  # so only the streaming counter can refuse it
    result = send_form(client, "POST", "/companies", owner, body, ctype)
    assert result.status_code == 413
    body, ctype = form(fields_for(product, commune), _logo_of(IMAGE_LIMIT))
    result = send_form(client, "POST", "/companies", owner, body, ctype)
    assert result.status_code == 201, result.text
    assert _quarantined(services) == before + 1


def _chunked(owner) -> dict[str, object]:
    """simulate_request arguments of a body the server received chunked."""
    return {
        "headers": {"Transfer-Encoding": "chunked", **owner.headers(csrf=True)},
        "cookies": owner.cookies,
        "extras": {"CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    }


def test_a_chunked_upload_is_read_and_stopped_at_the_limit(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    before = _quarantined(services)
    body, ctype = form(fields_for(product, commune), _logo_of(IMAGE_LIMIT + 1))
    args = _chunked(owner)
    args["headers"]["Content-Type"] = ctype  # type: ignore[index]
    result = client.simulate_post(f"{API}/companies", body=body, **args)
    assert result.status_code == 413, result.text
    assert _quarantined(services) == before
    fields = fields_for(product, commune)
    body, ctype = form(fields, png())
    args["headers"]["Content-Type"] = ctype  # type: ignore[index]
    result = client.simulate_post(f"{API}/companies", body=body, **args)
    assert result.status_code == 201, result.text
    assert result.json["name"] == fields["name"]
    assert _quarantined(services) == before + 1


def test_huge_text_fields_are_413(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    body, ctype = form(fields_for(product, commune, description_es="x" * 70_000), png())
    assert (
        send_form(client, "POST", "/companies", owner, body, ctype).status_code == 413
    )


def test_duplicate_parts_and_bad_encodings_are_rejected(client, services):
    product, commune = make_catalogue(services)
    owner = user_session(services)
    body, ctype = form(fields_for(product, commune), png())
    boundary = ctype.split("boundary=")[1]
    extra = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nOtra\r\n'
    ).encode()
    result = send_form(client, "POST", "/companies", owner, extra + body, ctype)
    assert result.status_code == 422
    assert "body.name" in result.json["error"]["details"]["fields"]
    latin1 = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="address"\r\n\r\n'
        ).encode()
        + "Ñuñoa".encode("latin-1")
        + b"\r\n"
    )
    result = send_form(client, "POST", "/companies", owner, latin1 + body, ctype)
    assert result.status_code == 422
    truncated = body[: len(body) // 2]
    assert (
        send_form(client, "POST", "/companies", owner, truncated, ctype).status_code
        == 400
    )
    with services.db.write() as tx:
        assert companies.find_company_of_user(tx, owner.user.id) is None


_NAMES = st.sampled_from(
    ["name", "commune_name", "product_name", "address", "phone", "email",
     "description_es", "description_en", "lang", "image", "other", "", "ñame"]
)  # fmt: skip
_VALUES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.just(b"x" * 70_000),
    st.just(png()),
    st.just(jpeg()[:100]),
)
_FILENAMES = st.one_of(
    st.none(),
    st.sampled_from(
        ["../../etc/passwd", 'a"b.png', "ñ.png", "x" * 300, "", "nul\0.png"]
    ),
)


def _part(boundary: str, name: str, filename: str | None, value: bytes) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode(
            "utf-8", "surrogatepass"
        )
        + value
        + b"\r\n"
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    parts=st.lists(st.tuples(_NAMES, _FILENAMES, _VALUES), max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
    closed=st.booleans(),
    content_type=st.sampled_from(
        [
            "multipart/form-data; boundary={b}",
            "multipart/form-data",
            "text/plain",
            "application/x-www-form-urlencoded",
            'multipart/form-data; boundary="{b}"',
        ]
    ),
)
def test_hostile_bodies_never_500_and_leave_nothing_behind(
    client, services, fuzz_owner, parts, cut, closed, content_type
):
    owner = fuzz_owner
    boundary = "fuzzboundary"
    body = b"".join(_part(boundary, n, f, v) for n, f, v in parts)
    if closed:
        body += f"--{boundary}--\r\n".encode()
    if cut is not None:
        body = body[:cut]
    before = _quarantined(services)
    result = send_form(
        client, "POST", "/companies", owner, body, content_type.format(b=boundary)
    )
    assert result.status_code in {400, 409, 413, 415, 422}, result.text
    assert result.json["error"]["code"]
    with services.db.write() as tx:
        assert companies.find_company_of_user(tx, owner.user.id) is None
    assert _quarantined(services) == before
    patched = send_form(
        client, "PATCH", "/companies/user/my-company", owner, body,
        content_type.format(b=boundary),
    )  # fmt: skip
    assert patched.status_code in {400, 404, 413, 415, 422}, patched.text


@pytest.fixture(scope="module")
def fuzz_owner(services):
    """One verified user without a company, for every generated body."""
    return user_session(services)
