"""VN-2000 coordinate reference systems, pinned to the official transformation.

Vietnam's official VN-2000 → WGS 84 transformation (Decision 05/2007/QĐ-BTNMT) is
EPSG:6960. Left to itself PROJ picks by area of use and, in the south, takes
EPSG:5194 — about 0.8 m away. Every transformer in bando is built here, from a
*bound* CRS that carries the 6960 parameters (``+towgs84`` with PROJ's
position-vector signs, the opposite of the decision's coordinate-frame rotations),
so the choice is never PROJ's. PostgreSQL is given the same definitions by
:func:`spatial_ref_sys_rows`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pyproj import CRS, Transformer

from bando.encodings import unaccented
from bando.errors import BadInput

DATA = Path(__file__).with_name("data")
#: OGC's URI for WGS 84 longitude/latitude: the default CRS of every OGC API answer.
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def epsg_uri(srid: int) -> str:
    """The OGC URI of an EPSG code, as OGC API clients name CRSs."""
    return f"http://www.opengis.net/def/crs/EPSG/0/{srid}"


#: EPSG:6960 in PROJ's ``+towgs84`` (position-vector) convention.
TOWGS84_6960 = (
    -191.90441429,
    -39.30318279,
    -111.45032835,
    0.00928836,
    -0.01975479,
    0.00427372,
    0.252906278,
)
VN2000_GEOGRAPHIC = 4756
VN2000_UTM = (3405, 3406)


@dataclass(frozen=True)
class Zone:
    """A VN-2000 TM-3 zone (k = 0.9999, false easting 500 000 m)."""

    meridian: float
    epsg: int
    provinces: tuple[str, ...]


def fold_name(name: str) -> str:
    """Province names compare without diacritics, case or spacing ("Hung Yen" = "Hưng Yên")."""
    return "".join(c for c in unaccented(name) if c.isalnum())


@lru_cache(maxsize=1)
def tm3_zones() -> tuple[Zone, ...]:
    """The province → TM-3 meridian table from DESIGN.md, kept as data."""
    by_epsg: dict[int, tuple[float, list[str]]] = {}
    with (DATA / "vn2000_tm3_zones.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            entry = by_epsg.setdefault(int(row["epsg"]), (float(row["meridian"]), []))
            entry[1].append(row["province"])
    return tuple(Zone(m, e, tuple(p)) for e, (m, p) in sorted(by_epsg.items()))


def vn2000_srids() -> tuple[int, ...]:
    """Every SRID on the VN-2000 datum that bando defines (geographic, UTM, TM-3)."""
    return (VN2000_GEOGRAPHIC, *VN2000_UTM, *sorted(z.epsg for z in tm3_zones()))


def tm3_for_province(province: str) -> Zone:
    """The TM-3 zone of a (pre-2025) province name; raises BadInput if unknown."""
    key = fold_name(province)
    for zone in tm3_zones():
        if any(fold_name(p) == key for p in zone.provinces):
            return zone
    raise BadInput(
        f"province {province!r} is not in the VN-2000 TM-3 table "
        "(bando/data/vn2000_tm3_zones.csv); give its pre-2025 name, e.g. 'Hưng Yên'"
    )


def parse_crs(value: str | int | CRS) -> CRS:
    """Accept 'EPSG:5897', 5897, an OGC URI or a CRS; raise BadInput with the reason."""
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(int(value) if str(value).isdigit() else value)
    except Exception as exc:  # pyproj raises CRSError with PROJ's own wording
        raise BadInput(f"unknown coordinate reference system {value!r}") from exc


def is_vn2000(crs: CRS) -> bool:
    geodetic = crs.geodetic_crs
    return geodetic is not None and geodetic.datum is not None and geodetic.datum.name.startswith("Vietnam 2000")


def _projection(srid: int) -> str:
    """The PROJ projection part of a VN-2000 SRID (empty for the geographic CRS)."""
    if srid == VN2000_GEOGRAPHIC:
        return "+proj=longlat"
    if srid in VN2000_UTM:
        return f"+proj=utm +zone={48 + VN2000_UTM.index(srid)}"
    zone = next((z for z in tm3_zones() if z.epsg == srid), None)
    if zone is None:
        raise BadInput(f"EPSG:{srid} is not a VN-2000 CRS bando knows")
    return f"+proj=tmerc +lat_0=0 +lon_0={zone.meridian:g} +k=0.9999 +x_0=500000 +y_0=0"


@lru_cache(maxsize=64)
def bound_proj4(srid: int) -> str:
    """The VN-2000 SRID as a PROJ string bound to WGS 84 by the EPSG:6960 parameters."""
    tow = ",".join(repr(v) for v in TOWGS84_6960)
    units = "" if srid == VN2000_GEOGRAPHIC else " +units=m"
    return f"{_projection(srid)} +ellps=WGS84 +towgs84={tow}{units} +no_defs"


def pinned(crs: CRS) -> CRS:
    """The CRS PROJ must use: VN-2000 CRSs become bound to EPSG:6960, others are unchanged."""
    epsg = crs.to_epsg()
    if epsg is None or not is_vn2000(crs):
        return crs
    return CRS.from_proj4(bound_proj4(epsg))


@lru_cache(maxsize=128)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    src, dst = CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt)
    if is_vn2000(src) and is_vn2000(dst):
        # Same datum: a pure change of projection, no datum shift at all.
        return Transformer.from_crs(src, dst, always_xy=True)
    return Transformer.from_crs(pinned(src), pinned(dst), always_xy=True)


def transformer(src: str | int | CRS, dst: str | int | CRS) -> Transformer:
    """A cached lon/lat-ordered transformer that never takes PROJ's automatic choice."""
    return _transformer(parse_crs(src).to_wkt(), parse_crs(dst).to_wkt())


def spatial_ref_sys_rows() -> list[tuple[int, str, int, str, str]]:
    """Rows (srid, auth_name, auth_srid, srtext, proj4text) to upsert into PostGIS.

    PostGIS 3 builds its PROJ pipeline from ``auth_name:auth_srid`` first, which
    would bring back PROJ's automatic choice; the rows therefore carry the authority
    ``BANDO`` (unknown to PROJ), so PostGIS falls through to ``srtext``, a bound CRS
    with the EPSG:6960 parameters. ``auth_srid`` keeps the EPSG number for clients.
    """
    rows = []
    for srid in vn2000_srids():
        wkt = CRS.from_proj4(bound_proj4(srid)).to_wkt("WKT1_GDAL")
        name = CRS.from_epsg(srid).name
        wkt = re.sub(r'^(PROJCS|GEOGCS)\["[^"]*"', f'\\1["{name}"', wkt)
        wkt = re.sub(r'DATUM\["[^"]*"', 'DATUM["Vietnam_2000"', wkt)
        wkt = wkt.replace('GEOGCS["unknown"', 'GEOGCS["VN-2000"')
        rows.append((srid, "BANDO", srid, wkt, bound_proj4(srid)))
    return rows


#: TM-3 parameters every VN-2000 zone shares (the meridian picks the zone).
_TM3 = {"scale_factor": 0.9999, "false_easting": 500_000.0, "false_northing": 0.0, "latitude_of_origin": 0.0}


def recognise_vn2000(crs: CRS) -> int | None:
    """The EPSG code of a VN-2000 TM-3 definition written without one, or None if it is not one.

    MapInfo (``CoordSys Earth Projection 8, 9999, 28, <7 parameters>``) and older GIS
    exports describe VN-2000 as "a Transverse Mercator on the WGS 84 ellipsoid with a
    datum shift" and no code. Such a file is recognised only when every parameter
    agrees — k 0.9999, false easting 500 000 m, a meridian of the zone table, and a
    shift of EPSG:6960 (in either rotation convention) — so nothing is guessed.
    Raises BadInput for a TM-3-shaped definition with no datum shift (it may be WGS 84
    or VN-2000: the steward must say with ``--crs``).
    """
    if crs.to_epsg(min_confidence=100) is not None or not crs.is_projected:
        return None  # a coded CRS needs no recognising (a lower confidence would be PROJ guessing)
    params = _tm_params(crs)
    if params is None or any(abs(params.get(k, -1.0) - v) > 1e-6 for k, v in _TM3.items()):
        return None
    ellipsoid = crs.ellipsoid
    if ellipsoid is None or abs(ellipsoid.semi_major_metre - 6378137.0) > 0.01:
        return None
    zone = next((z for z in tm3_zones() if abs(z.meridian - params.get("central_meridian", -999)) < 1e-6), None)
    if zone is None:
        return None
    if is_vn2000(crs) or _datum_named_vn2000(crs):
        return zone.epsg
    shift = _towgs84(crs)
    if shift is None:
        raise BadInput(
            f"the file's CRS is a TM-3 projection on meridian {zone.meridian:g}° without a datum shift: it may be "
            f"VN-2000 (EPSG:{zone.epsg}) or WGS 84; say which with --crs"
        )
    return zone.epsg if _is_6960(shift) else None


def _tm_params(crs: CRS) -> dict[str, float] | None:
    source = crs.source_crs if crs.is_bound and crs.source_crs is not None else crs
    op = source.coordinate_operation
    if op is None or "transverse mercator" not in op.method_name.lower():
        return None
    names = {
        "latitude of natural origin": "latitude_of_origin",
        "longitude of natural origin": "central_meridian",
        "scale factor at natural origin": "scale_factor",
        "false easting": "false_easting",
        "false northing": "false_northing",
    }
    return {names[p.name.lower()]: float(p.value) for p in op.params if p.name.lower() in names}


def _datum_named_vn2000(crs: CRS) -> bool:
    datum = crs.datum.name if crs.datum is not None else ""
    return bool(re.search(r"vn[-_ ]?2000|vietnam[-_ ]?2000", datum, re.IGNORECASE))


def _towgs84(crs: CRS) -> tuple[float, ...] | None:
    match = re.search(r"TOWGS84\[([-\d.,e]+)\]", crs.to_wkt("WKT1_GDAL") or "") if crs.is_bound else None
    if match is None:
        return None
    values = tuple(float(v) for v in match[1].split(","))
    return values if len(values) == 7 else None


def _is_6960(shift: tuple[float, ...]) -> bool:
    """EPSG:6960's shift, with rotations in either sign convention (MapInfo writes the decision's)."""
    if any(abs(a - b) > 0.01 for a, b in zip(shift[:3], TOWGS84_6960[:3], strict=True)):
        return False
    rot, ref = shift[3:6], TOWGS84_6960[3:6]
    same = all(abs(a - b) < 1e-5 for a, b in zip(rot, ref, strict=True))
    flipped = all(abs(a + b) < 1e-5 for a, b in zip(rot, ref, strict=True))
    return (same or flipped) and abs(shift[6] - TOWGS84_6960[6]) < 0.01
