"""HTTP: image delivery (``/images/...``) and the operators' moderation API."""

from __future__ import annotations

import re
from typing import Any

import falcon

from proveo.moderation import schemas, service
from proveo.moderation.service import Moderation
from proveo.moderation.wiring import moderation
from proveo.platform.errors import NotFound
from proveo.platform.http import doc, load_json, load_query, parse_uuid, require, route
from proveo.platform.runtime import Services
from proveo.platform.storage import BlobNotFound

__all__ = ["AdminImageActions", "AdminImages", "Images", "install"]

TAGS = ["moderation"]
#: Published keys: ``public/<sha256 of the bytes>.<ext>``; anything else is 404.
PUBLIC_KEY = re.compile(r"public/([0-9a-f]{64})\.(?:jpg|png|webp)")
CACHE_CONTROL = "public, max-age=31536000, immutable"
ALLOWED = ["GET", "HEAD"]


class _Body:
    """A storage stream that releases its connection when the server closes it."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager
        self._stream = manager.__enter__()

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._stream.read(size)
        return data

    def close(self) -> None:
        self._manager.__exit__(None, None, None)


def _matches(header: Any, etag: str) -> bool:
    if not header:
        return False
    return any(str(tag) in ("*", etag) for tag in header)


class Images:
    """Approved renditions, content-addressed and cached for a year.

    The route captures the rest of the path, so every method other than GET and
    HEAD is 405 whatever follows ``/images/``.
    """

    def __init__(self, services: Services) -> None:
        self._moderation: Moderation = moderation(services)
        self._storage = services.storage

    def _headers(self, req: falcon.Request, resp: falcon.Response, key: str) -> bool:
        match = PUBLIC_KEY.fullmatch(key)
        meta = self._moderation.public_object(key) if match else None
        if match is None or meta is None:
            raise NotFound("Image not found")
        etag = match.group(1)
        resp.cache_control = [CACHE_CONTROL]
        resp.etag = etag
        if _matches(req.if_none_match, etag):
            resp.status = falcon.HTTP_304
            return False
        resp.content_type = str(meta.get("type") or "application/octet-stream")
        resp.content_length = int(meta["size"])
        return True

    @doc(
        "An approved image",
        tags=TAGS,
        out_type="image/*",
        errors=(404, 405),
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        """Stream the rendition (304 when the client's copy is current)."""
        if not self._headers(req, resp, key):
            return
        try:
            resp.stream = _Body(self._storage.open(key))  # type: ignore[assignment]
        except BlobNotFound as exc:  # deleted since the lookup was cached
            raise NotFound("Image not found") from exc

    @doc("Headers of an approved image", tags=TAGS, errors=(404, 405))
    def on_head(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        """Headers only."""
        self._headers(req, resp, key)

    #: Every other method is 405 with this Allow (``UnknownMethods``).
    allowed_methods = ALLOWED


class NoImageKey:
    """``/images`` with no key: nothing to serve (404), and 405 like any key."""

    allowed_methods = ALLOWED

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise NotFound("Image not found")

    on_head = on_get


class _Admin:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._moderation: Moderation = moderation(services)
        self._public_url = services.settings.public_url

    def _view(self, image: Any) -> dict[str, Any]:
        return schemas.image_view(image, public_url=self._public_url)


class AdminImages(_Admin):
    """The moderation queue."""

    @doc(
        "Uploads and their verdicts, newest first",
        tags=TAGS,
        query=schemas.ImageListQuery,
        out=schemas.ModeratedImageOut(many=True),
        auth=True,
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Filter by ``status``; paged with ``limit``/``offset``."""
        require(req, admin=True)
        query = load_query(schemas.ImageListQuery(), req)
        with self._services.db.read() as tx:
            images = service.list_images(
                tx, status=query["status"], limit=query["limit"], offset=query["offset"]
            )
        resp.media = [self._view(image) for image in images]


class AdminImageActions(_Admin):
    """Operators' overrides: approve, reject, requeue (audited)."""

    @doc(
        "Publish an image whatever the model said (re-encoded)",
        tags=TAGS,
        out=schemas.ModeratedImageOut,
        errors=(404, 409, 422),
        auth=True,
    )
    def on_post_approve(
        self, req: falcon.Request, resp: falcon.Response, id: str
    ) -> None:
        """Approve by override."""
        principal = require(req, admin=True)
        image_id = parse_uuid(id, "id")
        image = self._moderation.admin_approve(image_id, actor_id=principal.user_id)
        resp.media = self._view(image)

    @doc(
        "Refuse an image (withdraws it if approved)",
        tags=TAGS,
        body=schemas.RejectIn,
        out=schemas.ModeratedImageOut,
        errors=(404, 422),
        auth=True,
    )
    def on_post_reject(
        self, req: falcon.Request, resp: falcon.Response, id: str
    ) -> None:
        """Reject with an optional reason shown to the owner."""
        principal = require(req, admin=True)
        image_id = parse_uuid(id, "id")
        body = load_json(schemas.RejectIn(), req, required=False)
        image = self._moderation.admin_reject(
            image_id, actor_id=principal.user_id, reason=body.get("reason")
        )
        resp.media = self._view(image)

    @doc(
        "Moderate an image again",
        tags=TAGS,
        out=schemas.ModeratedImageOut,
        errors=(404, 409, 422),
        auth=True,
    )
    def on_post_requeue(
        self, req: falcon.Request, resp: falcon.Response, id: str
    ) -> None:
        """Back to pending; the worker decides again."""
        principal = require(req, admin=True)
        image_id = parse_uuid(id, "id")
        image = self._moderation.requeue(image_id, actor_id=principal.user_id)
        resp.media = self._view(image)


def install(app: falcon.App[Any, Any], services: Services) -> None:
    """Mount image delivery and the admin API."""
    route(app, "/images/{key:path}", Images(services))
    app.add_route("/images", NoImageKey())  # undocumented: there is nothing here
    base = "/api/v1/moderation/admin/images"
    route(app, base, AdminImages(services))
    actions = AdminImageActions(services)
    for action in ("approve", "reject", "requeue"):
        route(app, f"{base}/{{id}}/{action}", actions, suffix=action)
