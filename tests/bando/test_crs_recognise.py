"""MapInfo-style VN-2000 definitions (no EPSG code) are recognised only when every parameter agrees."""

from __future__ import annotations

import pytest
from pyproj import CRS

from bando.crs import TOWGS84_6960, bound_proj4, recognise_vn2000
from bando.errors import BadInput

TM3 = "+proj=tmerc +lat_0=0 +lon_0={lon} +k={k} +x_0=500000 +y_0=0 +ellps=WGS84 +units=m"
DECISION_SIGNS = ",".join(repr(v) for v in (*TOWGS84_6960[:3], *(-r for r in TOWGS84_6960[3:6]), TOWGS84_6960[6]))
MAPINFO_WKT = (
    'PROJCS["unnamed",GEOGCS["unnamed",DATUM["MIF 9999,28,-191.90441429,-39.30318279,-111.45032835,'
    '-0.00928836,0.01975479,-0.00427372,0.252906278,0",SPHEROID["WGS 84",6378137,298.257223563],'
    "TOWGS84[-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278]],"
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",{lon}],PARAMETER["scale_factor",0.9999],'
    'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]'
)


@pytest.mark.parametrize(("lon", "epsg"), [(105.5, 9209), (105.75, 9210), (107.75, 5899), (103, 9205)])
def test_mapinfo_definition_maps_to_its_tm3_code(lon: float, epsg: int) -> None:
    assert recognise_vn2000(CRS.from_wkt(MAPINFO_WKT.format(lon=lon))) == epsg


def test_either_rotation_convention_and_bound_definitions_are_recognised() -> None:
    decision = CRS.from_proj4(TM3.format(lon=105.5, k=0.9999) + f" +towgs84={DECISION_SIGNS}")
    assert recognise_vn2000(decision) == 9209
    assert recognise_vn2000(CRS.from_proj4(bound_proj4(9210))) == 9210


def test_coded_crs_and_other_projections_are_left_alone() -> None:
    assert recognise_vn2000(CRS.from_epsg(9209)) is None  # already coded
    assert recognise_vn2000(CRS.from_epsg(32648)) is None  # UTM 48N on WGS 84
    other_k = CRS.from_proj4(TM3.format(lon=105.5, k=0.9996) + f" +towgs84={DECISION_SIGNS}")
    assert recognise_vn2000(other_k) is None  # UTM-like scale: not TM-3
    off_table = CRS.from_proj4(TM3.format(lon=105.6, k=0.9999) + f" +towgs84={DECISION_SIGNS}")
    assert recognise_vn2000(off_table) is None  # no zone on that meridian
    shifted = CRS.from_proj4(TM3.format(lon=105.5, k=0.9999) + " +towgs84=-192.873,-39.382,-111.202,0,0,0,0")
    assert recognise_vn2000(shifted) is None  # another datum shift is not EPSG:6960


def test_tm3_without_datum_shift_is_not_guessed() -> None:
    bare = CRS.from_proj4(TM3.format(lon=105.5, k=0.9999))
    assert bare.to_epsg() == 9209  # what PROJ would silently guess at its default confidence
    with pytest.raises(BadInput, match="--crs"):
        recognise_vn2000(bare)
