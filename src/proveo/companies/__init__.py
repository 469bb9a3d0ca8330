"""Companies: products, communes, companies and their logos.

Other modules use only what is exported here. Reads take a ``ReadTx``, writes a
``WriteTx``; both run inside the caller's unit of work. Changes are announced
with events: ``CompanyChanged`` / ``CompanyDeleted`` / ``ProductChanged`` /
``CommuneChanged`` (search subscribes in-transaction), ``LogoUploaded``
(moderation subscribes after commit) and ``ObjectsOrphaned``.
"""

from __future__ import annotations

from proveo.companies.catalogue import (
    get_commune,
    get_product,
    list_communes,
    list_products,
)
from proveo.companies.data import (
    IMAGE_STATUSES,
    Commune,
    CommuneChanged,
    CommuneInUse,
    CommuneNotFound,
    Company,
    CompanyChanged,
    CompanyDeleted,
    CompanyExists,
    CompanyNotFound,
    DuplicateName,
    Image,
    ImageNotFound,
    LogoUploaded,
    ObjectsOrphaned,
    Product,
    ProductChanged,
    ProductInUse,
    ProductNotFound,
    Translator,
    UnknownReference,
)
from proveo.companies.keys import name_key
from proveo.companies.logos import (
    approve_image,
    fail_image,
    get_image,
    is_public_key,
    list_images,
    reject_image,
    requeue_image,
    shown_keys,
)
from proveo.companies.seed import seed_catalogue, seed_demo_company
from proveo.companies.service import (
    find_company,
    find_company_of_user,
    get_company,
    list_companies,
    list_company_ids,
)

__all__ = [
    "IMAGE_STATUSES",
    "Commune",
    "CommuneChanged",
    "CommuneInUse",
    "CommuneNotFound",
    "Company",
    "CompanyChanged",
    "CompanyDeleted",
    "CompanyExists",
    "CompanyNotFound",
    "DuplicateName",
    "Image",
    "ImageNotFound",
    "LogoUploaded",
    "ObjectsOrphaned",
    "Product",
    "ProductChanged",
    "ProductInUse",
    "ProductNotFound",
    "Translator",
    "UnknownReference",
    "approve_image",
    "fail_image",
    "find_company",
    "find_company_of_user",
    "get_commune",
    "get_company",
    "get_image",
    "get_product",
    "is_public_key",
    "list_communes",
    "list_companies",
    "list_company_ids",
    "list_images",
    "list_products",
    "name_key",
    "reject_image",
    "requeue_image",
    "seed_catalogue",
    "seed_demo_company",
    "shown_keys",
]
