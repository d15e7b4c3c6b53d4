"""Who publishes the data: title, organisation, contact and licence of one deployment.

These come from settings (``BANDO_TITLE``, ``BANDO_ORGANISATION``, ``BANDO_CONTACT_…``,
``BANDO_LICENCE_…``) with defaults derived from the province, so the API metadata, the
records, the open-data catalogue and the pages all say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bando.province import Province
from bando.settings import Settings


@dataclass(frozen=True)
class Publisher:
    title_vi: str
    title_en: str
    organisation: str
    contact_name: str
    contact_position: str
    contact_email: str
    licence_name: str
    licence_url: str


def publisher(settings: Settings, province: Province) -> Publisher:
    return Publisher(
        title_vi=settings.title or f"Dữ liệu không gian tỉnh {province.name}",
        title_en=settings.title or f"{province.name} province spatial data",
        organisation=settings.organisation or f"UBND tỉnh {province.name}",
        contact_name=settings.contact_name,
        contact_position=settings.contact_position,
        contact_email=settings.contact_email,
        licence_name=settings.licence_name,
        licence_url=settings.licence_url,
    )
