"""HTTP resources of companies: create/read/update/delete, owner and admin views.

Every write route authenticates (401), checks the verified e-mail (403) and
CSRF (403) *before* reading the body, so an anonymous client cannot make the
server parse an upload. Translation and the logo upload to storage happen
outside the database transaction; a failed transaction deletes the object it
had stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import falcon

from proveo import accounts
from proveo.companies import schemas, service, store
from proveo.companies.data import CompanyExists, CompanyNotFound
from proveo.companies.fields import clean_fields
from proveo.companies.forms import BODY_LIMIT, TEXT_FIELDS, Form, read_form
from proveo.companies.imaging import inspect
from proveo.companies.service import CompanyDraft, NewLogo
from proveo.companies.translation import translate_or_copy
from proveo.companies.wiring import TRANSLATOR
from proveo.platform import logs
from proveo.platform.errors import Invalid
from proveo.platform.http import doc, load_query, parse_uuid, require
from proveo.platform.runtime import Services

__all__ = ["AdminCompanies", "AdminCompany", "Companies", "Company", "MyCompany"]

log = logs.get_logger("proveo.companies")
TAGS = ["companies"]
_REQUIRED_ON_CREATE = (
    "name",
    "commune_name",
    "product_name",
    "address",
    "phone",
    "email",
)
_FORM = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class _Checked:
    fields: dict[str, str]
    logo: NewLogo | None


class _Base:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._db = services.db
        self._storage = services.storage
        self._public_url = services.settings.public_url

    def _owner_view(self, tx: Any, company: Any) -> dict[str, Any]:
        owner = accounts.get_user(tx, company.user_id)
        return schemas.company_view(company, public_url=self._public_url, owner=owner)

    # --- forms ----------------------------------------------------------------

    def _check(self, form: Form, *, create: bool) -> _Checked:
        """Normalise every field and look at the image; one 422 for all faults."""
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, str] = {}
        try:
            cleaned = clean_fields(
                form.fields,
                allowed=TEXT_FIELDS,
                required=_REQUIRED_ON_CREATE if create else (),
            )
        except Invalid as exc:
            errors.update(exc.details["fields"])
        if create and not (
            form.fields.get("description_es") or form.fields.get("description_en")
        ):
            errors.setdefault("body.description_es", []).append(
                "Give description_es, description_en or both."
            )
        info = None
        if form.image is not None:
            try:
                info = inspect(form.image)
            except Invalid as exc:
                errors.update(exc.details["fields"])
        elif create:
            errors["body.image"] = ["Missing data for required field."]
        if errors:
            raise Invalid("Invalid company form", fields=errors)
        logo = None
        if info is not None:
            image_id = uuid.uuid4()
            logo = NewLogo(
                image_id=image_id,
                quarantine_key=f"quarantine/{image_id}",
                content_type=info.content_type,
                extension=info.extension,
                size=form.image_size,
                width=info.width,
                height=info.height,
            )
        return _Checked(cleaned, logo)

    def _translate(self, text: str, source: str) -> str | None:
        target = "en" if source == "es" else "es"
        result = translate_or_copy(
            self._services.extras[TRANSLATOR],
            text,
            source=source,
            target=target,
            clean=accounts.clean_description,
            limit=1000,
        )
        return result

    def _draft(
        self, checked: _Checked, *, translate_es: bool, translate_en: bool
    ) -> CompanyDraft:
        fields = checked.fields
        es, en = fields.get("description_es"), fields.get("description_en")
        return CompanyDraft(
            name=fields.get("name"),
            commune_name=fields.get("commune_name"),
            product_name=fields.get("product_name"),
            address=fields.get("address"),
            phone=fields.get("phone"),
            email=fields.get("email"),
            description_es=es,
            description_en=en,
            translated_es=self._translate(en, "en") if translate_es and en else None,
            translated_en=self._translate(es, "es") if translate_en and es else None,
            lang=fields.get("lang", "es"),
        )

    def _store_logo(self, form: Form, logo: NewLogo | None) -> None:
        if logo is None or form.image is None:
            return
        form.image.seek(0)
        self._storage.put_stream(
            logo.quarantine_key,
            form.image,
            length=logo.size,
            content_type=logo.content_type,
        )

    def _discard_logo(self, logo: NewLogo | None) -> None:
        if logo is None:
            return
        try:
            self._storage.delete(logo.quarantine_key)
        except Exception as exc:  # best effort; the original error matters more
            log.warning(
                "could not delete an unused upload",
                key=logo.quarantine_key,
                error=type(exc).__name__,
            )


class Companies(_Base):
    """``POST /companies``."""

    max_body_bytes = BODY_LIMIT

    @doc(
        "Create your company (verified users; the logo goes to moderation)",
        tags=TAGS,
        body=schemas.CompanyForm,
        body_type=_FORM,
        out=schemas.OwnerCompanyOut,
        status=201,
        errors=(400, 409, 413, 415, 422),
        auth=True,
    )
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req, verified=True)
        form = read_form(req)
        try:
            checked = self._check(form, create=True)
            # The primary: a lagging replica would miss a company created moments
            # ago by this user (the constraint still decides; this saves work).
            with store.primary_read(self._db) as tx:
                if service.find_company_of_user(tx, principal.user_id) is not None:
                    raise CompanyExists()
            draft = self._draft(checked, translate_es=True, translate_en=True)
            self._store_logo(form, checked.logo)
        finally:
            form.close()
        try:
            with self._db.write() as tx:
                company = service.create_company(
                    tx, user_id=principal.user_id, draft=draft, logo=checked.logo
                )
                view = self._owner_view(tx, company)
        except BaseException:
            self._discard_logo(checked.logo)
            raise
        resp.status = falcon.HTTP_201
        resp.media = view


class Company(_Base):
    """``GET /companies/{company_uuid}`` (public view)."""

    @doc(
        "A company (public view)",
        tags=TAGS,
        out=schemas.CompanyOut,
        errors=(404, 422),
    )
    def on_get(
        self, req: falcon.Request, resp: falcon.Response, company_uuid: str
    ) -> None:
        company_id = parse_uuid(company_uuid, "company_uuid")
        with self._db.read() as tx:
            company = service.get_company(tx, company_id)
        resp.media = schemas.company_view(company, public_url=self._public_url)


class MyCompany(_Base):
    """``GET|PATCH|DELETE /companies/user/my-company``."""

    max_body_bytes = BODY_LIMIT

    @doc(
        "Your company (owner view; reads your own writes)",
        tags=TAGS,
        out=schemas.OwnerCompanyOut,
        errors=(404,),
        auth=True,
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req)
        with self._db.read() as tx:  # honours the client's read-your-writes LSN
            company = service.find_company_of_user(tx, principal.user_id)
            if company is None:
                raise CompanyNotFound("You have no company")
            resp.media = self._owner_view(tx, company)

    @doc(
        "Change your company; every field optional, a new logo goes to moderation",
        tags=TAGS,
        body=schemas.CompanyForm,
        body_type=_FORM,
        out=schemas.OwnerCompanyOut,
        errors=(400, 404, 413, 415, 422),
        auth=True,
    )
    def on_patch(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req, verified=True)
        form = read_form(req)
        try:
            checked = self._check(form, create=False)
            # The primary: the company may have been created moments ago, and
            # its machine-translation flags decide what to translate.
            with store.primary_read(self._db) as tx:
                current = service.find_company_of_user(tx, principal.user_id)
            if current is None:
                raise CompanyNotFound("You have no company")
            draft = self._draft(
                checked,
                translate_es=current.description_es_machine,
                translate_en=current.description_en_machine,
            )
            self._store_logo(form, checked.logo)
        finally:
            form.close()
        try:
            with self._db.write() as tx:
                company = service.update_company(
                    tx, user_id=principal.user_id, draft=draft, logo=checked.logo
                )
                view = self._owner_view(tx, company)
        except BaseException:
            self._discard_logo(checked.logo)
            raise
        resp.media = view

    @doc(
        "Delete your company (its objects are deleted after commit)",
        tags=TAGS,
        out=schemas.CompanyDeletedOut,
        errors=(404,),
        auth=True,
    )
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        principal = require(req, verified=True)
        with self._db.write() as tx:
            company = service.delete_company_of_user(tx, principal.user_id)
        resp.media = {
            "uuid": str(company.id),
            "name": company.name,
            "message": "Company deleted",
        }


class AdminCompanies(_Base):
    """``GET /companies/admin/all-companies``."""

    @doc(
        "Every company, newest first (admin)",
        tags=TAGS,
        query=schemas.AdminListQuery,
        out=schemas.OwnerCompanyOut(many=True),
        errors=(422,),
        auth=True,
    )
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        require(req, admin=True)
        query = load_query(schemas.AdminListQuery(), req)
        with self._db.read() as tx:
            found = service.list_companies(
                tx, limit=query["limit"], offset=query["offset"]
            )
            owners = {c.user_id: accounts.find_user(tx, c.user_id) for c in found}
        resp.media = [
            schemas.company_view(
                company,
                public_url=self._public_url,
                owner=owners[company.user_id] or _GONE,
            )
            for company in found
        ]


@dataclass(frozen=True, slots=True)
class _Gone:
    name: str = ""
    email: str = ""


# A company whose owner was deleted meanwhile (the replica may lag the delete).
_GONE = _Gone()


class AdminCompany(_Base):
    """``DELETE /companies/admin/companies/{company_uuid}``."""

    @doc(
        "Delete any company (admin, audited)",
        tags=TAGS,
        out=schemas.CompanyDeletedOut,
        errors=(404, 422),
        auth=True,
    )
    def on_delete(
        self, req: falcon.Request, resp: falcon.Response, company_uuid: str
    ) -> None:
        principal = require(req, admin=True)
        company_id = parse_uuid(company_uuid, "company_uuid")
        with self._db.write() as tx:
            company = service.delete_company(tx, company_id, actor_id=principal.user_id)
        resp.media = {
            "uuid": str(company.id),
            "name": company.name,
            "message": "Company deleted",
        }
