"""Moderation test helpers: upload through HTTP, wait for the worker's verdict."""

from __future__ import annotations

import io
import uuid
from typing import Any

import falcon.testing
from PIL import Image, ImageDraw

from proveo import companies
from proveo.companies import store as companies_store
from proveo.moderation import store
from proveo.platform.runtime import Services
from tests.companies.helpers import (
    Session,
    create_company,
    make_catalogue,
    user_session,
)
from tests.helpers import wait_for
from tests.moderation.images import make_benign_image

__all__ = ["Upload", "benign_image", "encode", "upload", "wait_status"]


def benign_image() -> Image.Image:
    """The benign logo with a unique row of pixels.

    Renditions are content-addressed: without this, every test would publish
    the same key and share (and keep alive) each other's objects.
    """
    picture = make_benign_image()
    draw = ImageDraw.Draw(picture)
    for index, value in enumerate(uuid.uuid4().bytes):
        draw.rectangle(
            (4 + 4 * index, 4, 7 + 4 * index, 7), fill=(value, 0, 255 - value)
        )
    return picture


def encode(image: Image.Image, fmt: str = "JPEG", **save: Any) -> bytes:
    """The bytes of ``image`` saved as ``fmt``."""
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


class Upload:
    """A company created over HTTP with a logo, and its ids."""

    def __init__(self, session: Session, company: dict[str, Any], image_id: uuid.UUID):
        self.session = session
        self.company = company
        self.company_id = uuid.UUID(company["uuid"])
        self.image_id = image_id


def upload(
    client: falcon.testing.TestClient,
    services: Services,
    data: bytes,
) -> Upload:
    """POST /api/v1/companies with ``data`` as the logo (201 expected)."""
    session = user_session(services)
    product, commune = make_catalogue(services)
    result = create_company(client, session, product, commune, image=data)
    assert result.status_code == 201, result.text
    company = result.json
    assert company["image_status"] == "pending"
    with services.db.write() as tx:
        image_id = companies_store.latest_image_id(tx, uuid.UUID(company["uuid"]))
    assert image_id is not None
    return Upload(session, company, image_id)


def upload_again(
    client: falcon.testing.TestClient, services: Services, up: Upload, data: bytes
) -> uuid.UUID:
    """PATCH the company of ``up`` with ``data`` as its new logo; the new image id."""
    from tests.companies.helpers import form, send_form

    body, ctype = form({}, data)
    result = send_form(
        client, "PATCH", "/companies/user/my-company", up.session, body, ctype
    )
    assert result.status_code == 200, result.text
    with services.db.write() as tx:
        image_id = companies_store.latest_image_id(tx, uuid.UUID(up.company["uuid"]))
    assert image_id is not None
    return image_id


def image(services: Services, image_id: uuid.UUID) -> companies.Image:
    """The image row as the primary sees it."""
    with services.db.write() as tx:
        return companies.get_image(tx, image_id)


def wait_status(
    services: Services, image_id: uuid.UUID, status: str, *, timeout: float = 30.0
) -> companies.Image:
    """Poll until the image has ``status``."""

    def probe() -> companies.Image | None:
        found = image(services, image_id)
        return found if found.status == status else None

    return wait_for(probe, timeout=timeout, interval=0.05)


def renditions_of(services: Services, image_id: uuid.UUID) -> int:
    with services.db.write() as tx:
        return store.count_renditions_of_image(tx, image_id)


def verdicts_of(services: Services, image_id: uuid.UUID) -> list[str]:
    with services.db.write() as tx:
        return [v.verdict for v in store.list_verdicts(tx, image_id)]
