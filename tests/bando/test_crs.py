"""VN-2000: pyproj and PostGIS agree with the official EPSG:6960, never PROJ's own choice."""

from __future__ import annotations

import math

import psycopg
import pytest
from pyproj import Transformer
from pyproj.transformer import TransformerGroup

from bando import crs
from bando.errors import BadInput

# (SRID, easting, northing) in the north (Hưng Yên), the centre (Đắk Lắk) and the
# south inside EPSG:5194's area (Ho Chi Minh City).
POINTS = {
    "north": (9209, [(552_000.0, 2_310_000.0), (560_500.0, 2_295_300.0)]),
    "centre": (9218, [(500_000.0, 1_400_000.0), (520_000.0, 1_390_000.0)]),
    "south": (9210, [(600_000.0, 1_190_000.0), (605_200.0, 1_200_700.0)]),
}


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[1] + b[1]) / 2)
    return math.hypot((a[0] - b[0]) * 111_320 * math.cos(lat), (a[1] - b[1]) * 110_574)


def epsg_6960_reference(srid: int) -> Transformer:
    """Independent reference: the operation PROJ's database names EPSG:6960."""
    group = TransformerGroup(f"EPSG:{srid}", "EPSG:4326", always_xy=True)
    ops = [t for t in group.transformers if "VN-2000 to WGS 84 (2)" in t.description]
    assert ops, [t.description for t in group.transformers]
    return ops[0]


@pytest.mark.parametrize("region", POINTS)
def test_pyproj_and_postgis_agree_within_a_centimetre(database: str, region: str) -> None:
    srid, points = POINTS[region]
    ours = crs.transformer(srid, 4326)
    reference = epsg_6960_reference(srid)
    with psycopg.connect(database) as conn:
        for x, y in points:
            sql = "select st_x(g), st_y(g) from (select st_transform(st_setsrid(st_makepoint(%s, %s), %s), 4326) g) t"
            in_db = conn.execute(sql, (x, y, srid)).fetchone()
            in_py = ours.transform(x, y)
            assert metres(in_db, in_py) < 0.01
            assert metres(in_py, reference.transform(x, y)) < 0.01


def test_proj_automatic_choice_is_off_in_the_south_but_ours_is_not() -> None:
    srid, points = POINTS["south"]
    automatic = Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True)
    ours = crs.transformer(srid, 4326)
    for x, y in points:
        assert metres(automatic.transform(x, y), ours.transform(x, y)) > 0.5


def test_round_trip_back_to_tm3_is_within_millimetres() -> None:
    there = crs.transformer(9209, "EPSG:4326")
    back = crs.transformer("EPSG:4326", 9209)
    lon, lat = there.transform(552_000.0, 2_310_000.0)
    x, y = back.transform(lon, lat)
    assert abs(x - 552_000.0) < 2e-3 and abs(y - 2_310_000.0) < 2e-3  # millimetres


def test_between_vn2000_zones_no_datum_shift_is_applied() -> None:
    # The same point through WGS 84 and directly must coincide: same datum.
    direct = crs.transformer(9209, 9210).transform(552_000.0, 2_310_000.0)
    via = crs.transformer(4326, 9210).transform(*crs.transformer(9209, 4326).transform(552_000.0, 2_310_000.0))
    assert math.dist(direct, via) < 0.01


def test_spatial_ref_sys_has_every_tm3_zone(database: str) -> None:
    with psycopg.connect(database) as conn:
        count = conn.execute("select count(*) from spatial_ref_sys where srid between 9205 and 9218").fetchone()[0]
    assert count == 14


@pytest.mark.parametrize(
    ("province", "epsg"),
    [
        ("Hưng Yên", 9209),
        ("hung yen", 9209),
        ("Hồ Chí Minh", 9210),
        ("Đắk Lắk", 9218),
        ("Quảng Ninh", 5899),
        ("Hà Nội", 5897),
    ],
)
def test_province_table(province: str, epsg: int) -> None:
    assert crs.tm3_for_province(province).epsg == epsg


def test_unknown_province_and_crs_are_clear_errors() -> None:
    with pytest.raises(BadInput, match="not in the VN-2000 TM-3 table"):
        crs.tm3_for_province("Atlantis")
    with pytest.raises(BadInput, match="unknown coordinate reference system"):
        crs.parse_crs("EPSG:999999")
