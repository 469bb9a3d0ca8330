"""Companies test helpers: users with sessions, catalogue rows, forms, images."""

from __future__ import annotations

import io
import uuid
from typing import Any

import falcon.testing
from PIL import Image

from proveo import companies
from proveo.companies import catalogue
from proveo.platform.runtime import Services
from tests.accounts.helpers import Session, make_user, session_for
from tests.helpers import unique

API = "/api/v1"

__all__ = [
    "API",
    "Session",
    "admin_session",
    "create_company",
    "form",
    "jpeg",
    "make_catalogue",
    "png",
    "user_session",
]


def user_session(services: Services, *, verified: bool = True) -> Session:
    """A logged-in (by default verified) user."""
    return session_for(services, make_user(services, verified=verified))


def admin_session(services: Services) -> Session:
    """A logged-in administrator."""
    return session_for(services, make_user(services, admin=True))


def make_catalogue(services: Services) -> tuple[companies.Product, companies.Commune]:
    """A fresh product and commune with unique, accented names."""
    token = unique("")
    with services.db.write() as tx:
        product = catalogue.create_product(
            tx,
            name_es=f"Tecnología {token}",
            name_en=f"Technology {token}",
            actor_id=None,
        )
        commune = catalogue.create_commune(tx, name=f"Ñuñoa {token}", actor_id=None)
    return product, commune


def picture(fmt: str, size: tuple[int, int] = (64, 48), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    return picture("PNG", size)


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    return picture("JPEG", size)


def fields_for(product: Any, commune: Any, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": f"Empresa {unique('')}",
        "commune_name": commune.name,
        "product_name": product.name_es,
        "address": "Av. Providencia 1234, oficina 5",
        "phone": "+56 2 2345 6789",
        "email": "Contacto@Example.COM",
        "description_es": "Servicios de tecnología.\nAtención 24/7.",
        "description_en": "Technology services.\nSupport 24/7.",
        "lang": "es",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def form(
    fields: dict[str, Any],
    image: bytes | None = None,
    *,
    filename: str = "logo.png",
    image_type: str = "image/png",
) -> tuple[bytes, str]:
    """A multipart body and its Content-Type."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(str(value).encode("utf-8") + b"\r\n")
    if image is not None:
        out.write(f"--{boundary}\r\n".encode())
        out.write(
            f'Content-Disposition: form-data; name="image"; filename="{filename}"\r\n'
            f"Content-Type: {image_type}\r\n\r\n".encode()
        )
        out.write(image + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def send_form(
    client: falcon.testing.TestClient,
    method: str,
    path: str,
    session: Session | None,
    body: bytes,
    content_type: str,
    *,
    csrf: bool = True,
    headers: dict[str, str] | None = None,
) -> falcon.testing.Result:
    all_headers = {"Content-Type": content_type, **(headers or {})}
    cookies: dict[str, str] = {}
    if session is not None:
        cookies = session.cookies
        all_headers.update(session.headers(csrf=csrf))
    return client.simulate_request(
        method, f"{API}{path}", body=body, headers=all_headers, cookies=cookies
    )


def create_company(
    client: falcon.testing.TestClient,
    session: Session,
    product: Any,
    commune: Any,
    *,
    image: bytes | None = None,
    **overrides: Any,
) -> falcon.testing.Result:
    body, ctype = form(
        fields_for(product, commune, **overrides), png() if image is None else image
    )
    return send_form(client, "POST", "/companies", session, body, ctype)
