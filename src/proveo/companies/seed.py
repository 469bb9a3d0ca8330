"""Demo data for ``proveo seed``: the catalogue and bilingual demo companies.

Demo logos are drawn locally (initials on a coloured square, no downloads) and
stored directly as *approved* public images: they are our own generated
pictures, so moderation is skipped for them on purpose.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from typing import Any

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from proveo.companies import catalogue, store
from proveo.companies.data import Company, CompanyChanged
from proveo.companies.keys import name_key
from proveo.platform.db import WriteTx

__all__ = ["COMMUNES", "PRODUCTS", "draw_logo", "seed_catalogue", "seed_demo_company"]

COMMUNES = (
    "Santiago Centro", "Providencia", "Las Condes", "Vitacura", "Ñuñoa",
    "La Reina", "Lo Barnechea", "Macul", "Peñalolén", "La Florida",
    "Puente Alto", "San Miguel", "San Joaquín", "La Cisterna", "El Bosque",
    "La Granja", "San Ramón", "Lo Espejo", "Pedro Aguirre Cerda", "Estación Central",
    "Maipú", "Cerrillos", "Pudahuel", "Quinta Normal", "Lo Prado",
    "Cerro Navia", "Renca", "Quilicura", "Huechuraba", "Conchalí",
    "Independencia", "Recoleta", "San Bernardo", "Colina", "Lampa",
    "Buin", "Padre Hurtado", "Peñaflor", "Talagante", "Melipilla",
    "Valparaíso", "Viña del Mar", "Concepción", "Talcahuano", "Temuco",
    "Antofagasta", "La Serena", "Coquimbo", "Rancagua", "Talca",
    "Puerto Montt", "Valdivia", "Iquique", "Arica", "Punta Arenas",
)  # fmt: skip

PRODUCTS = (
    ("Tecnología", "Technology"), ("Alimentos", "Food"),
    ("Construcción", "Construction"), ("Transporte", "Transportation"),
    ("Logística", "Logistics"), ("Salud", "Health"), ("Educación", "Education"),
    ("Consultoría", "Consulting"), ("Contabilidad", "Accounting"),
    ("Servicios Legales", "Legal Services"), ("Marketing", "Marketing Services"),
    ("Diseño Gráfico", "Graphic Design"), ("Publicidad", "Advertising"),
    ("Limpieza", "Cleaning"), ("Seguridad", "Security"),
    ("Energía", "Energy"), ("Agricultura", "Agriculture"),
    ("Minería", "Mining"), ("Manufactura", "Manufacturing"),
    ("Textiles", "Textiles"), ("Muebles", "Furniture"),
    ("Imprenta", "Printing"), ("Eventos", "Events"),
    ("Turismo", "Tourism"), ("Inmobiliaria", "Real Estate"),
    ("Telecomunicaciones", "Telecommunications"), ("Software", "Software Development"),
    ("Recursos Humanos", "Human Resources"), ("Seguros", "Insurance"),
    ("Finanzas", "Finance"), ("Mantenimiento", "Maintenance"),
    ("Electricidad", "Electrical Services"), ("Gasfitería", "Plumbing"),
    ("Jardinería", "Gardening"),
)  # fmt: skip

_COLOURS = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
    (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207),
)  # fmt: skip

# (name, product in Spanish, description es, description en): coherent pairs, so
# a search for "tecnología" or a filter on "Alimentos" finds something on a fresh
# demo install.
_DEMO = (
    ("Andes Digital", "Tecnología", "Desarrollo de software a medida para pymes.",
     "Custom software development for small businesses."),
    ("Sabores del Sur", "Alimentos", "Alimentos artesanales de la zona sur de Chile.",
     "Artisan food from southern Chile."),
    ("Constructora Cordillera", "Construcción", "Obras civiles y remodelaciones.",
     "Civil works and renovations."),
    ("Ruta Express", "Transporte", "Transporte de carga en la Región Metropolitana.",
     "Freight transport across the Santiago region."),
    ("Bodega Central", "Logística", "Almacenaje y distribución para comercio electrónico.",
     "Storage and fulfilment for online shops."),
    ("Clínica Alameda", "Salud", "Atención médica para empresas y sus equipos.",
     "Occupational health services for companies."),
    ("Nube Austral", "Tecnología", "Servicios en la nube y soporte tecnológico.",
     "Cloud services and IT support."),
    ("Panadería La Espiga", "Alimentos", "Pan y pastelería para oficinas y eventos.",
     "Bread and pastries for offices and events."),
)  # fmt: skip


def seed_catalogue(tx: WriteTx) -> None:
    """Create the demo communes and products that are missing (idempotent)."""
    for name in COMMUNES:
        catalogue.ensure_commune(tx, name=name)
    for name_es, name_en in PRODUCTS:
        catalogue.ensure_product(tx, name_es=name_es, name_en=name_en)


def draw_logo(text: str, index: int, size: int = 256) -> bytes:
    """A PNG logo: the initials of ``text`` on a colour picked by ``index``."""
    initials = "".join(word[0] for word in text.split()[:2]).upper() or "?"
    picture = PILImage.new("RGB", (size, size), _COLOURS[index % len(_COLOURS)])
    draw = ImageDraw.Draw(picture)
    font: Any = ImageFont.load_default(size=size * 0.4)
    draw.text(
        (size / 2, size / 2), initials, fill=(255, 255, 255), font=font, anchor="mm"
    )
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def seed_demo_company(tx: WriteTx, storage: Any, *, user: Any, index: int) -> Company:
    """Give ``user`` (an ``accounts.User``) a bilingual demo company with a logo.

    Idempotent: a user who has a company keeps it.
    """
    existing = store.find_company_of_user(tx, user.id)
    if existing is not None:
        return existing
    seed_catalogue(tx)
    base, product_es, text_es, text_en = _DEMO[(index - 1) % len(_DEMO)]
    name = f"{base} {index:02d}"
    product = store.find_product_by_key(tx, name_key(product_es), "es")
    commune = store.find_commune_by_key(
        tx, name_key(COMMUNES[(index - 1) % len(COMMUNES)])
    )
    assert product is not None and commune is not None
    company_id = uuid.uuid4()
    store.insert_company(
        tx,
        {
            "id": company_id,
            "user_id": user.id,
            "product_id": product.id,
            "commune_id": commune.id,
            "name": name,
            "description_es": f"{text_es} Empresa de demostración número {index}.",
            "description_en": f"{text_en} Demo company number {index}.",
            "address": f"Avenida Demo {100 + index}, {commune.name}",
            "phone": f"+56 2 2{index:03d} {1000 + index:04d}",
            "email": f"contacto{index:02d}@demo.proveo.cl",
        },
    )
    logo = draw_logo(name, index)
    # Same content-addressed scheme as moderation's renditions.
    key = f"public/{hashlib.sha256(logo).hexdigest()}.png"
    storage.put_bytes(key, logo, "image/png")
    store.insert_image(
        tx,
        {
            "id": uuid.uuid4(),
            "company_id": company_id,
            "quarantine_key": key,
            "content_type": "image/png",
            "extension": "png",
            "size": len(logo),
            "width": 256,
            "height": 256,
            "status": "approved",
            "public_key": key,
            "score": 0.0,
            "decided_at": store.now(),
        },
    )
    store.update_company(
        tx,
        company_id,
        {"image_key": key, "image_extension": "png", "image_status": "approved"},
    )
    tx.publish(CompanyChanged(company_id=str(company_id)))
    return store.get_company(tx, company_id)
