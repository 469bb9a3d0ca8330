"""Moderation use cases: the worker's pipeline, operator overrides, maintenance.

The worker's job is split into short units of work with the storage I/O and the
CPU work between them, never inside a transaction:

1. check the image is still ``pending`` (a redelivered job stops here);
2. read the original, decode it, classify it, re-encode it (no transaction);
3. claim the content-addressed key, store the rendition (idempotent put);
4. decide: under a per-image lock, and only if the image is still pending,
   approve or reject it through ``companies`` and log the verdict;
5. delete the quarantined original (best effort; the sweeper finishes it).

A model or storage failure raises and the job is retried: an image is never
approved without a verdict from the classifier (fail closed), except by an
operator's explicit override.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from proveo import companies
from proveo.moderation import pipeline, store
from proveo.moderation.data import BadImage, Classifier, ModeratedImage, OriginalMissing
from proveo.platform import audit, logs, metrics
from proveo.platform.db import Database, ReadTx, WriteTx
from proveo.platform.storage import BlobNotFound, BlobTooLarge

__all__ = [
    "CACHE_NAMESPACE",
    "CLAIM_SECONDS",
    "Moderation",
    "list_images",
    "requeue_images",
]

log = logs.get_logger("proveo.moderation")

#: Cache namespace of public-key lookups made by image delivery.
CACHE_NAMESPACE = "moderation.public"
#: A worker's claim on a key protects it from deletion this long (> time limit).
CLAIM_SECONDS = 300.0
REJECTED_REASON = "The image did not pass content moderation."
_STATUSES = frozenset(companies.IMAGE_STATUSES)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one moderation attempt did."""

    verdict: str  # approved | rejected | failed | skipped
    score: float | None = None
    public_key: str | None = None
    reason: str | None = None


def _shown_keys(tx: ReadTx, images: Iterable[companies.Image]) -> set[str]:
    """The approved images' renditions a company shows now (one query)."""
    keys = {i.public_key for i in images if i.status == "approved" and i.public_key}
    return companies.shown_keys(tx, keys)


def _moderated(image: companies.Image, *, shown: bool) -> ModeratedImage:
    return ModeratedImage(
        id=image.id,
        company_id=image.company_id,
        status=image.status,
        score=image.score,
        reason=image.reason,
        content_type=image.content_type,
        extension=image.extension,
        size=image.size,
        width=image.width,
        height=image.height,
        public_key=image.public_key,
        created_at=image.created_at,
        decided_at=image.decided_at,
        shown=shown,
    )


def _all_images(tx: ReadTx, status: str | None) -> Iterable[companies.Image]:
    offset = 0
    while True:
        page = companies.list_images(tx, status=status, limit=500, offset=offset)
        yield from page
        if len(page) < 500:
            return
        offset += len(page)


def list_images(
    tx: ReadTx, *, status: str | None, limit: int, offset: int
) -> list[ModeratedImage]:
    """Uploads newest first, optionally of one status (operators' queue view).

    ``companies.list_images`` pages oldest first; until it can order the other
    way, the newest page is found by walking the (status-filtered) list.
    """
    everything = list(_all_images(tx, status))
    everything.reverse()
    page = everything[offset : offset + limit]
    shown = _shown_keys(tx, page)
    return [_moderated(image, shown=image.public_key in shown) for image in page]


def _score_ok(value: Any) -> float:
    """A usable probability, or raise (a broken model must not approve)."""
    score = float(value)
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise ValueError(f"classifier returned an invalid score {value!r}")
    return score


class Moderation:
    """The moderation use cases bound to one process's collaborators."""

    def __init__(
        self,
        *,
        db: Database,
        storage: Any,
        cache: Any,
        classifier: Callable[[], Classifier],
        threshold: float,
        model_id: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.cache = cache
        self._classifier = classifier
        self.threshold = threshold
        self._model_id = model_id

    # --- the worker's pipeline ------------------------------------------------

    def _pending(self, image_id: uuid.UUID) -> companies.Image | None:
        """The image if it still waits for a decision (read on the primary)."""
        with self.db.write() as tx:
            try:
                image = companies.get_image(tx, image_id)
            except companies.ImageNotFound:
                return None
        if image.status != "pending" or image.company_id is None:
            return None
        return image

    def _read_original(self, image: companies.Image) -> bytes:
        try:
            data: bytes = self.storage.read_bytes(
                image.quarantine_key, pipeline.MAX_BYTES
            )
        except BlobTooLarge as exc:
            raise BadImage("The image file is larger than 10 MB.") from exc
        return data

    def moderate(self, image_id: uuid.UUID) -> Outcome:
        """Classify one pending upload and publish or reject it (idempotent).

        Raises:
            Exception: anything from the classifier or storage (retry later).
        """
        image = self._pending(image_id)
        if image is None:
            return Outcome("skipped")
        started = time.perf_counter()
        try:
            data = self._read_original(image)
        except BlobNotFound:
            # Another delivery may have decided and deleted it meanwhile.
            if self._pending(image_id) is None:
                return Outcome("skipped")
            return self._fail(image_id, "The original upload is missing.")
        try:
            picture = pipeline.for_classification(data)
            score = _score_ok(self._classifier().score(picture))
            del picture
            if score >= self.threshold:
                return self._reject(
                    image, REJECTED_REASON, score=score, started=started
                )
            rendition = pipeline.render(data)
        except BadImage as exc:
            return self._reject(image, exc.message, score=None, started=started)
        with self.db.write() as tx:
            withdrawn = store.withdrawn_reason(tx, rendition.key)
        if withdrawn is not None:  # an operator already refused this picture
            # The original stays, so an operator can still approve this upload.
            return self._reject(
                image,
                withdrawn or REJECTED_REASON,
                score=score,
                started=started,
                source="system",
                keep_original=True,
            )
        return self._approve(
            image, rendition, score=score, started=started, source="model"
        )

    def _publish(self, image_id: uuid.UUID, rendition: pipeline.Rendition) -> None:
        """Claim the key, then store the bytes (the put is idempotent)."""
        with self.db.write() as tx:
            store.lock_key(tx, rendition.key)
            store.claim_rendition(
                tx,
                {
                    "key": rendition.key,
                    "image_id": image_id,
                    "content_type": rendition.content_type,
                    "size": len(rendition.data),
                    "etag": rendition.sha256,
                    "width": rendition.width,
                    "height": rendition.height,
                },
            )
        self.storage.put_bytes(rendition.key, rendition.data, rendition.content_type)

    def _approve(
        self,
        image: companies.Image,
        rendition: pipeline.Rendition,
        *,
        score: float | None,
        started: float,
        source: str,
        actor_id: uuid.UUID | None = None,
        allowed: frozenset[str] = frozenset({"pending"}),
    ) -> Outcome:
        self._publish(image.id, rendition)
        decided = False
        try:
            with self.db.write() as tx:
                store.lock_image(tx, image.id)
                current = companies.get_image(tx, image.id)
                if current.status in allowed and current.company_id is not None:
                    # approve_image's score is typed float; an override of an
                    # image the model never scored records NULL.
                    companies.approve_image(
                        tx,
                        image.id,
                        public_key=rendition.key,
                        extension=rendition.extension,
                        score=cast(float, score),
                    )
                    self._log(
                        tx,
                        image.id,
                        "approved",
                        source=source,
                        score=score,
                        started=started,
                        public_key=rendition.key,
                        actor_id=actor_id,
                    )
                    if source == "admin":
                        self._audit(tx, actor_id, "approve", current, "approved")
                    decided = True
                store.release_claim(tx, rendition.key)
        except companies.ImageNotFound:
            decided = False  # the company is gone; the sweeper removes the object
        if not decided:
            return Outcome("skipped", score=score)
        metrics.MODERATION_LATENCY.observe(time.perf_counter() - started)
        metrics.MODERATION_VERDICTS.labels(verdict="approved").inc()
        self._drop_original(image.quarantine_key)
        log.info(
            "image approved", image_id=str(image.id), score=score, key=rendition.key
        )
        return Outcome("approved", score=score, public_key=rendition.key)

    def _reject(
        self,
        image: companies.Image,
        reason: str,
        *,
        score: float | None,
        started: float | None,
        source: str = "model",
        actor_id: uuid.UUID | None = None,
        allowed: frozenset[str] = frozenset({"pending"}),
        keep_original: bool = False,
    ) -> Outcome:
        try:
            with self.db.write() as tx:
                store.lock_image(tx, image.id)
                current = companies.get_image(tx, image.id)
                if current.status not in allowed or current.company_id is None:
                    return Outcome("skipped", score=score)
                companies.reject_image(tx, image.id, reason=reason, score=score)
                self._log(
                    tx,
                    image.id,
                    "rejected",
                    source=source,
                    score=score,
                    started=started,
                    reason=reason,
                    # An operator withdrawing a rendition: the same picture
                    # uploaded again renders to this key and stays refused.
                    public_key=current.public_key if source == "admin" else None,
                    actor_id=actor_id,
                )
                if source == "admin":
                    self._audit(tx, actor_id, "reject", current, "rejected", reason)
                if current.public_key:  # an approved logo withdrawn
                    tx.after_commit(lambda: self.cache.invalidate(CACHE_NAMESPACE))
        except companies.ImageNotFound:
            return Outcome("skipped", score=score)
        if started is not None:
            metrics.MODERATION_LATENCY.observe(time.perf_counter() - started)
        metrics.MODERATION_VERDICTS.labels(verdict="rejected").inc()
        if not keep_original:
            self._drop_original(image.quarantine_key)
        log.info("image rejected", image_id=str(image.id), score=score, reason=reason)
        return Outcome("rejected", score=score, reason=reason)

    def _fail(self, image_id: uuid.UUID, reason: str) -> Outcome:
        try:
            with self.db.write() as tx:
                store.lock_image(tx, image_id)
                current = companies.get_image(tx, image_id)
                if current.status != "pending" or current.company_id is None:
                    return Outcome("skipped")
                companies.fail_image(tx, image_id, reason=reason)
                self._log(tx, image_id, "failed", source="system", reason=reason)
        except companies.ImageNotFound:
            return Outcome("skipped")
        metrics.MODERATION_VERDICTS.labels(verdict="failed").inc()
        # Operators look for this line (and the admin list's "failed" status).
        log.error("image moderation failed", image_id=str(image_id), reason=reason)
        return Outcome("failed", reason=reason)

    def give_up(self, image_id: uuid.UUID, reason: str) -> Outcome:
        """Retries are exhausted: mark the image ``failed`` (never approved)."""
        return self._fail(image_id, reason)

    def _log(
        self,
        tx: WriteTx,
        image_id: uuid.UUID,
        verdict: str,
        *,
        source: str,
        score: float | None = None,
        started: float | None = None,
        reason: str | None = None,
        public_key: str | None = None,
        actor_id: uuid.UUID | None = None,
    ) -> None:
        model = source == "model"
        store.add_verdict(
            tx,
            {
                "image_id": image_id,
                "verdict": verdict,
                "source": source,
                "score": score,
                "threshold": self.threshold if model else None,
                "model_sha256": self._model_id() if model else None,
                "latency_ms": (
                    int((time.perf_counter() - started) * 1000)
                    if started is not None
                    else None
                ),
                "reason": reason[:500] if reason else None,
                "public_key": public_key,
                "actor_id": actor_id,
            },
        )

    @staticmethod
    def _audit(
        tx: WriteTx,
        actor_id: uuid.UUID | None,
        action: str,
        before: companies.Image,
        after_status: str,
        reason: str | None = None,
    ) -> None:
        after: dict[str, Any] = {"status": after_status}
        if reason is not None:
            after["reason"] = reason
        audit.record(
            tx,
            actor_id=actor_id,
            action=f"moderation.{action}",
            target_type="image",
            target_id=str(before.id),
            before={"status": before.status, "score": before.score},
            after=after,
        )

    def _drop_original(self, key: str) -> None:
        try:
            self.storage.delete(key)
        except Exception as exc:  # the sweeper deletes it later
            log.warning("could not delete original", key=key, error=type(exc).__name__)

    # --- operators ------------------------------------------------------------

    def _view(self, image_id: uuid.UUID) -> ModeratedImage:
        with self.db.write() as tx:
            image = companies.get_image(tx, image_id)
            return _moderated(image, shown=image.public_key in _shown_keys(tx, [image]))

    def _image(self, image_id: uuid.UUID) -> companies.Image:
        with self.db.write() as tx:
            image = companies.get_image(tx, image_id)
        if image.company_id is None:
            raise companies.ImageNotFound("The image's company no longer exists")
        return image

    def _original(self, image: companies.Image) -> bytes:
        try:
            return self._read_original(image)
        except BlobNotFound as exc:
            raise OriginalMissing() from exc

    def admin_approve(
        self, image_id: uuid.UUID, *, actor_id: uuid.UUID
    ) -> ModeratedImage:
        """Publish an image whatever the model said (still decoded and re-encoded).

        Raises:
            ImageNotFound: no such image, or its company is gone.
            OriginalMissing: the original was already deleted.
            BadImage: the file cannot be decoded.
        """
        image = self._image(image_id)
        if image.status != "approved":
            rendition = pipeline.render(self._original(image))
            self._approve(
                image,
                rendition,
                score=image.score,
                started=time.perf_counter(),
                source="admin",
                actor_id=actor_id,
                allowed=frozenset({"pending", "rejected", "failed"}),
            )
        return self._view(image_id)

    def admin_reject(
        self, image_id: uuid.UUID, *, actor_id: uuid.UUID, reason: str | None
    ) -> ModeratedImage:
        """Refuse an image (an approved one is withdrawn from its company).

        Raises:
            ImageNotFound: no such image, or its company is gone.
        """
        image = self._image(image_id)
        self._reject(
            image,
            reason or REJECTED_REASON,
            score=image.score,
            started=None,
            source="admin",
            actor_id=actor_id,
            allowed=frozenset({"pending", "approved", "failed", "rejected"}),
        )
        return self._view(image_id)

    def requeue(
        self, image_id: uuid.UUID, *, actor_id: uuid.UUID | None
    ) -> ModeratedImage:
        """Put an image back to ``pending`` and moderate it again.

        Raises:
            ImageNotFound: no such image, or its company is gone.
            OriginalMissing: the original was already deleted.
        """
        image = self._image(image_id)
        try:
            self.storage.stat(image.quarantine_key)
        except BlobNotFound as exc:
            raise OriginalMissing() from exc
        with self.db.write() as tx:
            _requeue(tx, image_id, actor_id=actor_id)
        return self._view(image_id)

    # --- delivery -------------------------------------------------------------

    def public_object(self, key: str) -> dict[str, Any] | None:
        """``{"size", "type", "etag"}`` of a shown logo, else ``None`` (cached)."""
        cached = self.cache.get(CACHE_NAMESPACE, key)
        if cached:
            return cast(dict[str, Any], cached)
        version = self.cache.version(CACHE_NAMESPACE)
        with self.db.read() as tx:
            if not companies.is_public_key(tx, key):
                return None
            row = store.rendition(tx, key)
        if row is not None:
            meta = {"size": row["size"], "type": row["content_type"]}
        else:  # published before renditions were recorded (demo data)
            try:
                info = self.storage.stat(key)
            except BlobNotFound:
                return None
            meta = {"size": info.size, "type": info.content_type}
        if version is not None:
            self.cache.set(CACHE_NAMESPACE, key, meta, 60, version=version)
        return meta

    # --- maintenance ------------------------------------------------------------

    def delete_public(self, key: str, *, claim_seconds: float = CLAIM_SECONDS) -> bool:
        """Delete a public object unless a company shows it or a worker claims it.

        The object is deleted while the key's lock is held, so a worker about
        to publish the same content waits and then stores it again.
        """
        if not key.startswith("public/"):
            return False
        with self.db.write() as tx:
            store.lock_key(tx, key)
            if companies.is_public_key(tx, key):
                return False
            if store.claimed_recently(tx, key, seconds=claim_seconds):
                return False
            self.storage.delete(key)
            store.delete_rendition(tx, key)
        self.cache.invalidate(CACHE_NAMESPACE)
        return True

    def forget_objects(self, keys: Iterable[str]) -> int:
        """Delete orphaned public renditions now (``ObjectsOrphaned``)."""
        return sum(1 for key in keys if self.delete_public(key))

    def _keep_originals(self) -> set[str]:
        with self.db.write() as tx:
            return {
                image.quarantine_key
                for status in ("pending", "failed")
                for image in _all_images(tx, status)
                if image.company_id is not None
            }

    def sweep(self, *, grace: timedelta) -> dict[str, int]:
        """Remove objects nothing refers to any more, older than ``grace``.

        ``public/``: renditions no company shows (and no worker claims).
        ``quarantine/``: originals whose image is decided or gone; a live upload
        is younger than the grace period, so it is never touched.
        """
        with self.db.write() as tx:
            cutoff = store.db_now(tx) - grace
        removed = {"public": 0, "quarantine": 0}
        for info in list(self.storage.list("public/")):
            if _older(info.last_modified, cutoff) and self.delete_public(info.key):
                removed["public"] += 1
        keep = self._keep_originals()
        doomed = [
            info.key
            for info in self.storage.list("quarantine/")
            if _older(info.last_modified, cutoff) and info.key not in keep
        ]
        # Re-read after listing: an image requeued meanwhile keeps its original.
        keep = self._keep_originals()
        doomed = [key for key in doomed if key not in keep]
        if doomed:
            self.storage.delete_many(doomed)
        removed["quarantine"] = len(doomed)
        return removed

    def requeue_stalled(self, *, after: timedelta) -> int:
        """Queue again every pending image nothing has happened to for ``after``.

        A job lost with the queue (Redis gone without persistence, say) would
        leave its image pending for good. ``after`` outlasts a job's retries,
        and jobs are idempotent, so one that was only slow is decided once all
        the same. The requeue is logged as a verdict, which restarts the clock.
        Returns how many images were queued again.
        """
        with self.db.write() as tx:
            cutoff = store.db_now(tx) - after
            pending = [i for i in _all_images(tx, "pending") if i.company_id]
            last = store.last_verdicts_at(tx, [i.id for i in pending])
            stalled = [i.id for i in pending if last.get(i.id, i.created_at) < cutoff]
        count = sum(_requeue_if_still(self.db, i, "pending") for i in stalled)
        if count:
            log.warning("requeued stalled images", count=count)
        return count


def _older(modified: datetime | None, cutoff: datetime) -> bool:
    return modified is not None and modified < cutoff


def _requeue(tx: WriteTx, image_id: uuid.UUID, *, actor_id: uuid.UUID | None) -> None:
    store.lock_image(tx, image_id)
    current = companies.get_image(tx, image_id)
    companies.requeue_image(tx, image_id)
    store.add_verdict(
        tx,
        {
            "image_id": image_id,
            "verdict": "requeued",
            "source": "admin" if actor_id else "system",
            "actor_id": actor_id,
        },
    )
    audit.record(
        tx,
        actor_id=actor_id,
        action="moderation.requeue",
        target_type="image",
        target_id=str(image_id),
        before={"status": current.status},
        after={"status": "pending"},
    )


def requeue_images(db: Database, *, status: str = "failed") -> int:
    """Put every live image of ``status`` back to ``pending`` (operator tool).

    One unit of work per image. An image whose original is gone comes back as
    ``failed`` ("original missing") as soon as the worker looks at it.
    """
    if status not in _STATUSES:
        raise ValueError(f"unknown image status {status!r}")
    with db.write() as tx:
        ids = [
            image.id
            for image in _all_images(tx, status)
            if image.company_id is not None
        ]
    count = sum(_requeue_if_still(db, image_id, status) for image_id in ids)
    log.info("requeued images", status=status, count=count)
    return count


def _requeue_if_still(db: Database, image_id: uuid.UUID, status: str) -> bool:
    """Requeue one image, in its own unit of work, if it is still ``status``."""
    try:
        with db.write() as tx:
            store.lock_image(tx, image_id)
            if companies.get_image(tx, image_id).status != status:
                return False  # decided meanwhile
            _requeue(tx, image_id, actor_id=None)
    except companies.ImageNotFound:
        return False
    return True
