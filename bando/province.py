"""The deployment's province, from a maintained administrative-units table.

Provinces are identified through the ``vietnam-provinces`` package (post-2025 codes
and names, the pre-2025 ones, and which former provinces each merged province joins),
never typed by hand. The province decides the storage CRS of layers marked
``storage_crs: province``, which CRSs deliveries may come in, the extent validation
checks, the commune codes parcels may use, and the titles the API and site show.

Since 1 July 2025 many provinces join former provinces surveyed on different
meridians. Existing cadastral data keeps its former meridian, so a merged province
*accepts* deliveries in any of its parts' TM-3 zones and *stores* in one: the zone of
the part whose name it kept (override with ``BANDO_STORAGE_CRS``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vietnam_provinces import Province as NewProvince
from vietnam_provinces import Ward
from vietnam_provinces._province_conversion_2025 import find_new_provinces, find_old_provinces
from vietnam_provinces._ward_conversion_2025 import find_old_wards
from vietnam_provinces.legacy import Province as OldProvince
from vietnam_provinces.legacy import Ward as OldWard

from bando.crs import fold_name, tm3_for_province, transformer
from bando.errors import SetupError
from bando.settings import Settings

DATA = Path(__file__).with_name("data")
PREFIXES = ("Thành phố ", "Tỉnh ")
#: the whole country keeps one time: a time without an offset in a delivery or a month boundary is this
TIMEZONE = "Asia/Ho_Chi_Minh"


def short_name(name: str, prefixes: tuple[str, ...] = PREFIXES) -> str:
    """A name without the first of ``prefixes`` it starts with ("Tỉnh Hưng Yên" → "Hưng Yên")."""
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


@dataclass(frozen=True)
class Part:
    """A former (pre-2025) province inside today's province, with its TM-3 zone."""

    code: int
    name: str
    tm3_epsg: int


@dataclass(frozen=True)
class Province:
    code: int
    name: str
    full_name: str
    parts: tuple[Part, ...]
    tm3_epsg: int
    bbox_lonlat: tuple[float, float, float, float]

    @property
    def accepted_srids(self) -> tuple[int, ...]:
        """TM-3 zones its deliveries may come in (one per former province's meridian)."""
        return tuple(sorted({p.tm3_epsg for p in self.parts}))

    @property
    def merged_meridians(self) -> bool:
        return len(self.accepted_srids) > 1

    def storage_srid(self, storage_crs: str) -> int:
        """Resolve a catalogue ``storage_crs`` ('province' or 'EPSG:n') to an SRID."""
        return self.tm3_epsg if storage_crs == "province" else int(storage_crs.split(":")[1])

    def bbox_in(self, srid: int, margin_m: float = 2_000.0) -> tuple[float, float, float, float]:
        """The extent in another CRS (densified edges), grown by a margin."""
        if srid == 4326:
            pad = margin_m / 100_000
            x0, y0, x1, y1 = self.bbox_lonlat
            return x0 - pad, y0 - pad, x1 + pad, y1 + pad
        x0, y0, x1, y1 = transformer(4326, srid).transform_bounds(*self.bbox_lonlat, densify_pts=21)
        return x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m

    @property
    def commune_codes(self) -> frozenset[str]:
        """Commune codes parcels may carry: today's wards and those of the former provinces."""
        return _commune_codes(self.code, tuple(p.code for p in self.parts))


def _find(value: str) -> tuple[NewProvince, str]:
    """Today's province a setting names: new or old code, new or old name."""
    text = value.strip()
    if text.isdigit():
        code = int(text)
        try:
            return NewProvince.from_code(code), "current code"  # type: ignore[arg-type]
        except ValueError:
            entry = find_new_provinces(code)
            if entry and len(entry.new_provinces) == 1:
                return NewProvince.from_code(entry.new_provinces[0].code), "pre-2025 code"  # type: ignore[arg-type]
            raise SetupError(f"province code {code} is neither a current nor a pre-2025 province code") from None
    key = fold_name(short_name(text))
    for p in NewProvince.iter_all():
        if fold_name(short_name(p.name)) == key or fold_name(p.codename) == key:
            return p, "current name"
    for old in OldProvince.iter_all():
        if fold_name(short_name(old.name)) == key or fold_name(old.codename) == key:
            entry = find_new_provinces(int(old.code))
            if entry and entry.new_provinces:
                return NewProvince.from_code(entry.new_provinces[0].code), "pre-2025 name"  # type: ignore[arg-type]
    raise SetupError(
        f"unknown province {value!r}: set BANDO_PROVINCE (or 'province' in bando.toml) to a province "
        "code or name, current (after 1 July 2025) or pre-2025, e.g. 33 or 'Hưng Yên'"
    )


def _former_provinces(code: int) -> list[int]:
    """Former provinces whose communes really went into this one (from the ward conversions:
    the province-level table also lists some that only border it, e.g. Tiền Giang for Tây Ninh)."""
    found: set[int] = set()
    old_province = _old_ward_provinces()
    for ward in Ward.iter_all():
        if int(ward.province_code) == code and (entry := find_old_wards(int(ward.code))):
            # The legacy ward table (ward → district → province) is authoritative; the
            # conversion rows carry a few wrong province codes (Tân An's Phường 4 as 82).
            found |= {old_province.get(o.code, o.province_code) for o in entry.old_wards}
    if not found:
        province_entry = find_old_provinces(code)
        found = {o.code for o in province_entry.old_provinces} if province_entry else {code}
    return sorted(found)


@lru_cache(maxsize=1)
def _old_ward_provinces() -> dict[int, int]:
    return {int(w.code): int(w.province_code) for w in OldWard.iter_all()}


@lru_cache(maxsize=4)
def _commune_codes(code: int, part_codes: tuple[int, ...]) -> frozenset[str]:
    today = {f"{int(w.code):05d}" for w in Ward.iter_all() if int(w.province_code) == code}
    former = {f"{int(w.code):05d}" for w in OldWard.iter_all() if int(w.province_code) in part_codes}
    return frozenset(today | former)


def _extent(name: str, parts: tuple[Part, ...]) -> tuple[float, float, float, float]:
    with (DATA / "province_extents.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if fold_name(row["province"]) == fold_name(name):
                return tuple(float(row[k]) for k in ("min_lon", "min_lat", "max_lon", "max_lat"))  # type: ignore[return-value]
    from pyproj import CRS

    boxes = [area for p in parts if (area := CRS.from_epsg(p.tm3_epsg).area_of_use) is not None]
    return (
        min(b.west for b in boxes),
        min(b.south for b in boxes),
        max(b.east for b in boxes),
        max(b.north for b in boxes),
    )


@lru_cache(maxsize=8)
def resolve(value: str, storage_crs: str | None = None) -> Province:
    """The province a deployment names, with its parts, zones and extent."""
    new, _ = _find(value)
    old_codes = _former_provinces(int(new.code))
    parts = []
    for oc in old_codes:
        old = OldProvince.from_code(oc)  # type: ignore[arg-type]
        parts.append(Part(int(oc), short_name(old.name), tm3_for_province(short_name(old.name)).epsg))
    name = short_name(new.name)
    same_name = [p for p in parts if fold_name(p.name) == fold_name(name)]
    storage = (same_name or parts)[0].tm3_epsg
    if storage_crs:
        storage = int(storage_crs.split(":")[-1])
        if storage not in {p.tm3_epsg for p in parts}:
            raise SetupError(
                f"BANDO_STORAGE_CRS {storage_crs} is not the TM-3 zone of any part of {name} "
                f"({', '.join(f'{p.name}: EPSG:{p.tm3_epsg}' for p in parts)})"
            )
    return Province(int(new.code), name, new.name, tuple(parts), storage, _extent(name, tuple(parts)))


def configured(settings: Settings | None = None) -> Province:
    """The province the settings name; a clear SetupError when none is configured."""
    from bando.settings import get_settings

    s = settings or get_settings()
    if not s.province:
        raise SetupError(
            "no province configured: set BANDO_PROVINCE or 'province' in bando.toml (e.g. 33 for Hưng Yên)"
        )
    return resolve(s.province, s.storage_crs)
