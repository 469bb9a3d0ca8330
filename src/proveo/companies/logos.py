"""Logo lifecycle for the moderation module: approve, reject, fail, requeue.

The company's ``image_status`` follows only its most recent upload, and its
``image_key`` only ever moves forward to a more recent approved upload, so
decisions arriving out of order cannot show an older logo or status. A
replaced public object is scheduled for deletion only in the transaction that
approves its replacement ("nothing is deleted before its replacement is safe").
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from proveo.companies import store
from proveo.companies.data import (
    Company,
    CompanyChanged,
    Image,
    ImageNotFound,
    LogoUploaded,
    ObjectsOrphaned,
)
from proveo.platform.db import ReadTx, WriteTx

__all__ = [
    "approve_image",
    "fail_image",
    "get_image",
    "is_public_key",
    "list_images",
    "reject_image",
    "requeue_image",
    "shown_keys",
]

_REASON_MAX = 500


def get_image(tx: ReadTx, image_id: uuid.UUID) -> Image:
    """The image, or ``ImageNotFound``."""
    return store.get_image(tx, image_id)


def list_images(
    tx: ReadTx, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Image]:
    """Images oldest first, optionally only those of one status."""
    return store.list_images(tx, status=status, limit=limit, offset=offset)


def shown_keys(tx: ReadTx, keys: Collection[str]) -> set[str]:
    """Those of ``keys`` some company currently shows (for lists: one query)."""
    return store.shown_keys(tx, keys)


def is_public_key(tx: ReadTx, key: str) -> bool:
    """True iff some company currently shows ``key`` (image delivery asks this)."""
    return store.is_public_key(tx, key)


def _live(tx: WriteTx, image_id: uuid.UUID) -> tuple[Image, Company]:
    """Lock the company, then the image (the order uploads use)."""
    image = store.get_image(tx, image_id)
    if image.company_id is None:
        raise ImageNotFound("The image's company no longer exists")
    company = store.lock_company(tx, image.company_id)
    image = store.get_image(tx, image_id, lock=True)
    if image.company_id != company.id:
        raise ImageNotFound("The image's company no longer exists")
    return image, company


def _is_latest(tx: ReadTx, image: Image) -> bool:
    assert image.company_id is not None
    return store.latest_image_id(tx, image.company_id) == image.id


def _orphan_if_unused(tx: WriteTx, key: str | None, *, keep: str | None) -> None:
    if key and key != keep and not store.is_public_key(tx, key):
        tx.publish(ObjectsOrphaned(keys=(key,)))


def approve_image(
    tx: WriteTx,
    image_id: uuid.UUID,
    *,
    public_key: str,
    extension: str,
    score: float,
) -> Company:
    """Record that moderation published ``public_key`` for this upload.

    The company shows it unless a more recent upload was approved already;
    the previously shown public object is then scheduled for deletion.

    Raises:
        ImageNotFound: no such image, or its company was deleted.
    """
    image, company = _live(tx, image_id)
    previous_key = image.public_key
    image = store.update_image(
        tx,
        image.id,
        {
            "status": "approved",
            "public_key": public_key,
            "extension": extension,
            "score": score,
            "reason": None,
            "decided_at": store.now(),
        },
    )
    changes: dict[str, object] = {}
    shown = store.find_image_by_public_key(tx, company.id, company.image_key or "")
    newer = (
        company.image_key is None
        or shown is None
        or (shown.created_at, str(shown.id)) <= (image.created_at, str(image.id))
    )
    if newer:
        changes.update(image_key=public_key, image_extension=extension)
    if _is_latest(tx, image):
        changes.update(image_status="approved", image_rejection_reason=None)
    if changes:
        store.update_company(tx, company.id, changes)
        tx.publish(CompanyChanged(company_id=str(company.id)))
    if newer:
        _orphan_if_unused(tx, company.image_key, keep=public_key)
    else:  # approved after a newer upload was already shown: never visible
        _orphan_if_unused(tx, public_key, keep=company.image_key)
    _orphan_if_unused(tx, previous_key, keep=public_key)
    return store.get_company(tx, company.id)


def reject_image(
    tx: WriteTx, image_id: uuid.UUID, *, reason: str, score: float | None
) -> None:
    """Record that moderation refused this upload (reason shown to the owner).

    Raises:
        ImageNotFound: no such image, or its company was deleted.
    """
    image, company = _live(tx, image_id)
    reason = reason[:_REASON_MAX]
    store.update_image(
        tx,
        image.id,
        {
            "status": "rejected",
            "reason": reason,
            "score": score,
            "decided_at": store.now(),
        },
    )
    changes: dict[str, object] = {}
    if _is_latest(tx, image):
        changes.update(image_status="rejected", image_rejection_reason=reason)
    if image.public_key and company.image_key == image.public_key:
        # Re-moderation withdrew the logo on show: show none rather than it.
        changes.update(image_key=None, image_extension=None)
    if changes:
        store.update_company(tx, company.id, changes)
        tx.publish(CompanyChanged(company_id=str(company.id)))
    _orphan_if_unused(tx, image.public_key, keep=None)


def fail_image(tx: WriteTx, image_id: uuid.UUID, *, reason: str) -> None:
    """Record that moderation could not decide (fail closed: not approved).

    Raises:
        ImageNotFound: no such image, or its company was deleted.
    """
    image, company = _live(tx, image_id)
    store.update_image(
        tx,
        image.id,
        {"status": "failed", "reason": reason[:_REASON_MAX], "decided_at": store.now()},
    )
    if _is_latest(tx, image):
        store.update_company(
            tx, company.id, {"image_status": "failed", "image_rejection_reason": None}
        )
        tx.publish(CompanyChanged(company_id=str(company.id)))


def requeue_image(tx: WriteTx, image_id: uuid.UUID) -> None:
    """Put an upload back to ``pending`` and ask moderation again.

    Raises:
        ImageNotFound: no such image, or its company was deleted.
    """
    image, company = _live(tx, image_id)
    store.update_image(
        tx,
        image.id,
        {"status": "pending", "reason": None, "score": None, "decided_at": None},
    )
    if _is_latest(tx, image):
        store.update_company(
            tx, company.id, {"image_status": "pending", "image_rejection_reason": None}
        )
        tx.publish(CompanyChanged(company_id=str(company.id)))
    tx.publish(LogoUploaded(image_id=str(image.id), company_id=str(company.id)))
