"""All of the companies module's SQL (Core over ``tables``), returning ``data`` types.

No business rules here: callers decide; these functions read and write rows and
translate constraint violations into the module's errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from proveo.companies.data import (
    Commune,
    CommuneInUse,
    CommuneNotFound,
    Company,
    CompanyExists,
    CompanyNotFound,
    DuplicateName,
    Image,
    ImageNotFound,
    Product,
    ProductInUse,
    ProductNotFound,
    UnknownReference,
)
from proveo.companies.tables import (
    archived_companies,
    communes,
    companies,
    images,
    products,
)
from proveo.platform.db import Database, ReadTx, WriteTx

_PRODUCT_COLUMNS = ("id", "name_es", "name_en", "created_at", "updated_at")
_COMMUNE_COLUMNS = ("id", "name", "created_at", "updated_at")


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


@contextmanager
def primary_read(db: Database) -> Iterator[ReadTx]:
    """A READ ONLY transaction on the primary, for loads that get cached.

    A cached list must not come from a replica that has not replayed the change
    that invalidated the cache, or the stale list would live for the whole TTL.
    """
    conn = db.primary.connect().execution_options(postgresql_readonly=True)
    try:
        conn.begin()
        yield ReadTx(conn, on_primary=True)
        conn.rollback()
    finally:
        conn.close()


def now() -> Any:
    """The transaction's timestamp, as a value for inserts and updates."""
    return sa.func.now()


# --- products -----------------------------------------------------------------


def _product(row: Any) -> Product:
    return Product(**{name: row._mapping[name] for name in _PRODUCT_COLUMNS})


def list_products(tx: ReadTx) -> list[Product]:
    """Every product, by English name (case/accent-insensitive), then id."""
    stmt = sa.select(products).order_by(products.c.name_en_key, products.c.id)
    return [_product(row) for row in tx.execute(stmt)]


def get_product(tx: ReadTx, product_id: uuid.UUID, *, lock: bool = False) -> Product:
    """The product, or ``ProductNotFound``."""
    stmt = sa.select(products).where(products.c.id == product_id)
    if lock:
        stmt = stmt.with_for_update()
    row = tx.execute(stmt).first()
    if row is None:
        raise ProductNotFound()
    return _product(row)


def find_product_by_key(tx: ReadTx, key: str, lang: str) -> Product | None:
    """The product whose name in ``lang`` has the folded ``key``."""
    column = products.c.name_es_key if lang == "es" else products.c.name_en_key
    row = tx.execute(sa.select(products).where(column == key)).first()
    return _product(row) if row is not None else None


def _duplicate(exc: IntegrityError, what: str) -> DuplicateName:
    return DuplicateName(f"A {what} with this name already exists")


def insert_product(tx: WriteTx, values: Mapping[str, Any]) -> Product:
    """Insert a product; ``DuplicateName`` when a name key is taken."""
    try:
        row = tx.execute(sa.insert(products).values(**values).returning(products)).one()
    except IntegrityError as exc:
        raise _duplicate(exc, "product") from exc
    return _product(row)


def update_product(
    tx: WriteTx, product_id: uuid.UUID, values: Mapping[str, Any]
) -> Product:
    """Rename a product; ``ProductNotFound`` / ``DuplicateName``."""
    try:
        row = tx.execute(
            sa.update(products)
            .where(products.c.id == product_id)
            .values(**values, updated_at=sa.func.now())
            .returning(products)
        ).first()
    except IntegrityError as exc:
        raise _duplicate(exc, "product") from exc
    if row is None:
        raise ProductNotFound()
    return _product(row)


def delete_product(tx: WriteTx, product_id: uuid.UUID) -> None:
    """Delete a product; ``ProductInUse`` while a company refers to it."""
    used = tx.execute(
        sa.select(sa.literal(1)).where(companies.c.product_id == product_id).limit(1)
    ).first()
    if used is not None:
        raise ProductInUse("Companies still use this product")
    try:
        tx.execute(sa.delete(products).where(products.c.id == product_id))
    except IntegrityError as exc:  # a company was added meanwhile
        raise ProductInUse("Companies still use this product") from exc


# --- communes -----------------------------------------------------------------


def _commune(row: Any) -> Commune:
    return Commune(**{name: row._mapping[name] for name in _COMMUNE_COLUMNS})


def list_communes(tx: ReadTx) -> list[Commune]:
    """Every commune, by name (case/accent-insensitive), then id."""
    stmt = sa.select(communes).order_by(communes.c.name_key, communes.c.id)
    return [_commune(row) for row in tx.execute(stmt)]


def get_commune(tx: ReadTx, commune_id: uuid.UUID, *, lock: bool = False) -> Commune:
    """The commune, or ``CommuneNotFound``."""
    stmt = sa.select(communes).where(communes.c.id == commune_id)
    if lock:
        stmt = stmt.with_for_update()
    row = tx.execute(stmt).first()
    if row is None:
        raise CommuneNotFound()
    return _commune(row)


def find_commune_by_key(tx: ReadTx, key: str) -> Commune | None:
    """The commune whose folded name is ``key``."""
    row = tx.execute(sa.select(communes).where(communes.c.name_key == key)).first()
    return _commune(row) if row is not None else None


def insert_commune(tx: WriteTx, values: Mapping[str, Any]) -> Commune:
    """Insert a commune; ``DuplicateName`` when the name key is taken."""
    try:
        row = tx.execute(sa.insert(communes).values(**values).returning(communes)).one()
    except IntegrityError as exc:
        raise _duplicate(exc, "commune") from exc
    return _commune(row)


def update_commune(
    tx: WriteTx, commune_id: uuid.UUID, values: Mapping[str, Any]
) -> Commune:
    """Rename a commune; ``CommuneNotFound`` / ``DuplicateName``."""
    try:
        row = tx.execute(
            sa.update(communes)
            .where(communes.c.id == commune_id)
            .values(**values, updated_at=sa.func.now())
            .returning(communes)
        ).first()
    except IntegrityError as exc:
        raise _duplicate(exc, "commune") from exc
    if row is None:
        raise CommuneNotFound()
    return _commune(row)


def delete_commune(tx: WriteTx, commune_id: uuid.UUID) -> None:
    """Delete a commune; ``CommuneInUse`` while a company is located there."""
    used = tx.execute(
        sa.select(sa.literal(1)).where(companies.c.commune_id == commune_id).limit(1)
    ).first()
    if used is not None:
        raise CommuneInUse("Companies are still located in this commune")
    try:
        tx.execute(sa.delete(communes).where(communes.c.id == commune_id))
    except IntegrityError as exc:
        raise CommuneInUse("Companies are still located in this commune") from exc


# --- companies ----------------------------------------------------------------

_COMPANY_SELECT = (
    sa.select(
        companies,
        products.c.name_es.label("product_name_es"),
        products.c.name_en.label("product_name_en"),
        communes.c.name.label("commune_name"),
    )
    .join(products, products.c.id == companies.c.product_id)
    .join(communes, communes.c.id == companies.c.commune_id)
)
_COMPANY_FIELDS = tuple(Company.__dataclass_fields__)


def _company(row: Any) -> Company:
    mapping = row._mapping
    return Company(**{name: mapping[name] for name in _COMPANY_FIELDS})


def find_company(tx: ReadTx, company_id: uuid.UUID) -> Company | None:
    """The company with names resolved, or ``None``."""
    row = tx.execute(_COMPANY_SELECT.where(companies.c.id == company_id)).first()
    return _company(row) if row is not None else None


def get_company(tx: ReadTx, company_id: uuid.UUID) -> Company:
    """The company, or ``CompanyNotFound``."""
    company = find_company(tx, company_id)
    if company is None:
        raise CompanyNotFound()
    return company


def find_company_of_user(tx: ReadTx, user_id: uuid.UUID) -> Company | None:
    """The user's company, or ``None``."""
    row = tx.execute(_COMPANY_SELECT.where(companies.c.user_id == user_id)).first()
    return _company(row) if row is not None else None


def lock_company(tx: WriteTx, company_id: uuid.UUID) -> Company:
    """Lock the company row for this transaction and return it."""
    locked = tx.execute(
        sa.select(companies.c.id).where(companies.c.id == company_id).with_for_update()
    ).first()
    if locked is None:
        raise CompanyNotFound()
    return get_company(tx, company_id)


def lock_company_of_user(tx: WriteTx, user_id: uuid.UUID) -> Company | None:
    """Lock the user's company row (if any) and return it."""
    locked = tx.execute(
        sa.select(companies.c.id)
        .where(companies.c.user_id == user_id)
        .with_for_update()
    ).first()
    return get_company(tx, locked.id) if locked is not None else None


def _reference_error(exc: IntegrityError) -> Exception:
    name = _constraint(exc)
    if name == "uq_companies_user_id":
        return CompanyExists()
    if name == "fk_companies_product_id_products":
        return UnknownReference(
            "Unknown product", fields={"body.product_name": ["Unknown product."]}
        )
    if name == "fk_companies_commune_id_communes":
        return UnknownReference(
            "Unknown commune", fields={"body.commune_name": ["Unknown commune."]}
        )
    return exc


def insert_company(tx: WriteTx, values: Mapping[str, Any]) -> Company:
    """Insert a company; ``CompanyExists`` when the user already has one."""
    try:
        tx.execute(sa.insert(companies).values(**values))
    except IntegrityError as exc:
        raise _reference_error(exc) from exc
    return get_company(tx, values["id"])


def update_company(
    tx: WriteTx, company_id: uuid.UUID, values: Mapping[str, Any]
) -> Company:
    """Change columns of a company and return it."""
    try:
        tx.execute(
            sa.update(companies)
            .where(companies.c.id == company_id)
            .values(**values, updated_at=sa.func.now())
        )
    except IntegrityError as exc:
        raise _reference_error(exc) from exc
    return get_company(tx, company_id)


def delete_company(tx: WriteTx, company_id: uuid.UUID) -> None:
    """Delete the company row (its images keep their rows, company id unset)."""
    tx.execute(sa.delete(companies).where(companies.c.id == company_id))


def list_companies(tx: ReadTx, *, limit: int, offset: int) -> list[Company]:
    """Newest first (ties by id, so pages are stable)."""
    stmt = (
        _COMPANY_SELECT.order_by(companies.c.created_at.desc(), companies.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_company(row) for row in tx.execute(stmt)]


def list_company_ids(
    tx: ReadTx, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Company ids in id order, strictly after ``after`` (keyset pagination)."""
    stmt = sa.select(companies.c.id).order_by(companies.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(companies.c.id > after)
    return [row.id for row in tx.execute(stmt)]


def archive_company(
    tx: WriteTx,
    company: Company,
    *,
    data: Mapping[str, Any],
    reason: str,
    archived_by: uuid.UUID | None,
) -> None:
    """Keep a copy of a company being deleted (idempotent per company id)."""
    tx.execute(
        pg_insert(archived_companies)
        .values(
            id=company.id,
            user_id=company.user_id,
            data=dict(data),
            reason=reason,
            archived_by=archived_by,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )


# --- images -------------------------------------------------------------------

_IMAGE_FIELDS = tuple(Image.__dataclass_fields__)


def _image(row: Any) -> Image:
    mapping = row._mapping
    return Image(**{name: mapping[name] for name in _IMAGE_FIELDS})


def insert_image(tx: WriteTx, values: Mapping[str, Any]) -> Image:
    """Record an upload.

    ``created_at`` is the clock time, taken after the company row was locked,
    so the order of these timestamps is the order of uploads.
    """
    row = tx.execute(
        sa.insert(images)
        .values(**values, created_at=sa.func.clock_timestamp())
        .returning(images)
    ).one()
    return _image(row)


def get_image(tx: ReadTx, image_id: uuid.UUID, *, lock: bool = False) -> Image:
    """The image, or ``ImageNotFound``."""
    stmt = sa.select(images).where(images.c.id == image_id)
    if lock:
        stmt = stmt.with_for_update()
    row = tx.execute(stmt).first()
    if row is None:
        raise ImageNotFound()
    return _image(row)


def update_image(tx: WriteTx, image_id: uuid.UUID, values: Mapping[str, Any]) -> Image:
    """Change an image's columns and return it."""
    row = tx.execute(
        sa.update(images)
        .where(images.c.id == image_id)
        .values(**values)
        .returning(images)
    ).one()
    return _image(row)


def latest_image_id(tx: ReadTx, company_id: uuid.UUID) -> uuid.UUID | None:
    """The company's most recent upload."""
    row = tx.execute(
        sa.select(images.c.id)
        .where(images.c.company_id == company_id)
        .order_by(images.c.created_at.desc(), images.c.id.desc())
        .limit(1)
    ).first()
    return row.id if row is not None else None


def find_image_by_public_key(
    tx: ReadTx, company_id: uuid.UUID, public_key: str
) -> Image | None:
    """The company's approved image published under ``public_key``."""
    row = tx.execute(
        sa.select(images)
        .where(
            images.c.company_id == company_id,
            images.c.public_key == public_key,
            images.c.status == "approved",
        )
        .order_by(images.c.created_at.desc())
        .limit(1)
    ).first()
    return _image(row) if row is not None else None


def count_public_key_users(
    tx: ReadTx, public_key: str, *, except_image: uuid.UUID
) -> int:
    """How many other live approved images share a (content-addressed) key."""
    return int(
        tx.execute(
            sa.select(sa.func.count())
            .select_from(images)
            .where(
                images.c.public_key == public_key,
                images.c.id != except_image,
                images.c.status == "approved",
                images.c.deleted_at.is_(None),
            )
        ).scalar_one()
    )


def list_images(
    tx: ReadTx, *, status: str | None, limit: int, offset: int
) -> list[Image]:
    """Images oldest first (a moderation queue), optionally of one status."""
    stmt = (
        sa.select(images)
        .order_by(images.c.created_at, images.c.id)
        .limit(limit)
        .offset(offset)
    )
    if status is not None:
        stmt = stmt.where(images.c.status == status)
    return [_image(row) for row in tx.execute(stmt)]


def mark_images_deleted(tx: WriteTx, company_id: uuid.UUID) -> list[str]:
    """Mark every image of a company deleted; return the object keys to remove."""
    rows = tx.execute(
        sa.update(images)
        .where(images.c.company_id == company_id, images.c.deleted_at.is_(None))
        .values(deleted_at=sa.func.now())
        .returning(images.c.quarantine_key, images.c.public_key)
    ).all()
    keys: list[str] = []
    for row in rows:
        keys.append(row.quarantine_key)
        if row.public_key:
            keys.append(row.public_key)
    return keys


def is_public_key(tx: ReadTx, key: str) -> bool:
    """True iff some company currently shows ``key`` as its logo."""
    row = tx.execute(
        sa.select(sa.literal(1)).where(companies.c.image_key == key).limit(1)
    ).first()
    return row is not None


def shown_keys(tx: ReadTx, keys: Collection[str]) -> set[str]:
    """Those of ``keys`` some company currently shows as its logo (one query)."""
    if not keys:
        return set()
    rows = tx.execute(
        sa.select(companies.c.image_key)
        .where(companies.c.image_key.in_(sorted(set(keys))))
        .distinct()
    )
    return {row.image_key for row in rows}


def count_companies_of_users(
    tx: ReadTx, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """``{user_id: number of companies}`` for the given users (missing → 0)."""
    counts = dict.fromkeys(user_ids, 0)
    if user_ids:
        rows = tx.execute(
            sa.select(companies.c.user_id, sa.func.count().label("n"))
            .where(companies.c.user_id.in_(user_ids))
            .group_by(companies.c.user_id)
        )
        for row in rows:
            counts[row.user_id] = int(row.n)
    return counts
