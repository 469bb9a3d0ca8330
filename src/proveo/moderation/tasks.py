"""Moderation's actors and the events it listens to.

* ``LogoUploaded`` → ``moderation.moderate_logo`` (retried with back-off; when
  the retries run out, ``moderation.give_up`` marks the image ``failed``);
* ``ObjectsOrphaned`` → ``moderation.forget_objects`` deletes the public
  renditions no company shows any more (``companies`` deletes the rest);
* ``moderation.sweep_orphans`` runs every 15 minutes (periodiq): it removes
  whatever was left behind by crashes and queues again the pending images
  whose job was lost.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from periodiq import cron

from proveo import companies
from proveo.moderation.wiring import moderation
from proveo.platform import events, logs, queue, runtime

__all__ = [
    "STALL_AFTER",
    "SWEEP_GRACE",
    "forget_objects",
    "give_up",
    "moderate_logo",
    "sweep_orphans",
]

log = logs.get_logger("proveo.moderation")

SWEEP_GRACE = timedelta(hours=1)
#: A pending image untouched this long lost its job: it is queued again. Longer
#: than a job's retries (5, at most a minute apart, each at most a minute).
STALL_AFTER = timedelta(minutes=15)
_SWEEP_SLOT_SECONDS = 15 * 60

events.after_commit(
    companies.LogoUploaded, "moderation.moderate_logo", queue="moderation"
)
events.after_commit(
    companies.ObjectsOrphaned,
    "moderation.forget_objects",
    queue="moderation",
    to_kwargs=lambda event: {
        "keys": [key for key in event.keys if key.startswith("public/")]
    },
)


@queue.actor(
    "moderation.moderate_logo",
    queue_name="moderation",
    max_retries=5,
    min_backoff=1000,
    max_backoff=60_000,
    time_limit=60_000,
    on_retry_exhausted="moderation.give_up",
)
def moderate_logo(image_id: str, company_id: str) -> None:
    """Classify an uploaded logo and publish or reject it (idempotent).

    The verdict is logged, not returned: Dramatiq would warn about a result
    nobody collects on every job.
    """
    outcome = moderation(runtime.services()).moderate(uuid.UUID(image_id))
    log.info("logo moderated", image_id=image_id, verdict=outcome.verdict)


@queue.actor("moderation.give_up", queue_name="moderation", max_retries=10)
def give_up(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries of ``moderate_logo`` are exhausted: the image becomes ``failed``."""
    kwargs = message.get("kwargs") or {}
    image_id = kwargs.get("image_id")
    if not image_id:
        log.error("give_up without an image id", message_id=message.get("message_id"))
        return
    retries = retry_info.get("retries")
    reason = (
        f"Moderation could not complete after {retries} retries; "
        "an operator can requeue it."
    )
    moderation(runtime.services()).give_up(uuid.UUID(image_id), reason)


@queue.actor("moderation.forget_objects", queue_name="moderation")
def forget_objects(keys: list[str]) -> None:
    """Delete public renditions that were replaced or whose company is gone."""
    if keys:
        removed = moderation(runtime.services()).forget_objects(keys)
        log.info("renditions forgotten", count=removed)


@queue.actor(
    "moderation.sweep_orphans",
    queue_name="moderation",
    max_retries=0,
    time_limit=600_000,
    periodic=cron("*/15 * * * *"),
)
def sweep_orphans() -> dict[str, int] | None:
    """Remove unreferenced objects, once per 15-minute slot across all replicas."""
    services = runtime.services()
    if services.cache.claim_slot("moderation:sweep", _SWEEP_SLOT_SECONDS) is None:
        log.info("sweep already ran in this slot")
        return None
    mod = moderation(services)
    done = mod.sweep(grace=SWEEP_GRACE)
    done["requeued"] = mod.requeue_stalled(after=STALL_AFTER)
    log.info("orphan sweep done", **done)
    return done
