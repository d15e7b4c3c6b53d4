"""The labelled offline basemap: commune, road and parcel names drawn by MapLibre GL over
the site's map at zooms 13, 16 and 19, with every non-loopback request blocked.

Chromium renders WebGL here through SwiftShader (no GPU). The names are read from the
rendered map (MapLibre's placed symbols, listed for screen readers in ``#map-labels``), and
screenshots go to ``docs/screenshots/`` for the README.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

READY = "body[data-ready='true']"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
GL_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


@pytest.fixture(scope="module")
def browser(browser):
    gl = browser.browser_type.launch(executable_path=CHROMIUM, args=GL_ARGS)
    yield gl
    gl.close()


# one tile at MapLibre's zoom 18 (Leaflet's 19), in EPSG:3857 metres
TILE_Z18 = 2 * 20037508.342789244 / 2**18


@pytest.fixture(scope="module")
def place(database: str, loaded: list) -> dict:
    """An ordinary parcel near a named road, with its commune's name.

    The parcel lies inside one zoom-18 tile, has room for its number (an inscribed circle of
    6 m), and the centre of that circle, where MapLibre puts a polygon's label, is at least
    12 m from the road line, so the road's name, which wins collisions, cannot hide it.
    """
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(
            'select p."maXa", p."soHieuToBanDo", p."soThuTuThua", c."tenXa", r."tenDuong"'
            ' from data.parcels p join data.communes c on c."maXa" = p."maXa"'
            " cross join lateral (select st_transform(p.geom, 3857) as m, mic.center as centre, mic.radius"
            " from st_maximuminscribedcircle(p.geom) mic) g"
            ' cross join lateral (select "tenDuong", geom from data.roads r where r."tenDuong" is not null'
            " and st_dwithin(r.geom, p.geom, 40) order by st_distance(r.geom, p.geom) limit 1) r"
            " where st_area(p.geom) between 300 and 3000 and g.radius >= 6 and st_distance(r.geom, g.centre) >= 12"
            " and floor((st_xmin(g.m) + %(half)s) / %(tile)s) = floor((st_xmax(g.m) + %(half)s) / %(tile)s)"
            " and floor((st_ymin(g.m) + %(half)s) / %(tile)s) = floor((st_ymax(g.m) + %(half)s) / %(tile)s)"
            ' order by p."maXa", p."soHieuToBanDo", p."soThuTuThua" limit 1',
            {"half": TILE_Z18 * 2**17, "tile": TILE_Z18},
        ).fetchone()
    assert row, "the samples have no ordinary parcel near a named road"
    return dict(zip(("xa", "to", "thua", "commune", "road"), row, strict=True))


def _zoom_to(page, z: int) -> None:
    for _ in range(25):
        page.wait_for_selector("body[data-labels-idle='true']", timeout=90_000)
        page.wait_for_timeout(300)
        now = int(page.get_attribute("#map-labels", "data-zoom") or 0)
        if now == z:
            return
        page.click(".leaflet-control-zoom-in" if now < z else ".leaflet-control-zoom-out")
        page.wait_for_timeout(400)
    raise AssertionError(f"could not reach zoom {z}")


def _names(page) -> list[str]:
    page.wait_for_selector("body[data-labels-idle='true']", timeout=90_000)
    page.wait_for_timeout(500)
    page.wait_for_selector("body[data-labels-idle='true']", timeout=90_000)
    return page.eval_on_selector_all("#map-labels li", "items => items.map(li => li.textContent)")


def test_site_map_shows_commune_road_and_parcel_labels_offline(page_factory, web: str, place: dict) -> None:
    page, log = page_factory()
    page.goto(f"{web}/?xa={place['xa']}&to={place['to']}&thua={place['thua']}")
    page.wait_for_selector(READY, timeout=90_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen = {}
    for z in (19, 16, 13):
        _zoom_to(page, z)
        seen[z] = _names(page)
        page.wait_for_selector("body[data-map-idle='true']", timeout=15_000)
        page.screenshot(path=str(SCREENSHOTS / f"site-labels-z{z}.png"))
    assert f"{place['to']}/{place['thua']}" in seen[19], seen[19][:40]
    assert place["road"] in seen[16], seen[16][:40]
    assert place["commune"] in seen[13], seen[13][:40]
    assert not any("/" in n for n in seen[13]), "parcel numbers are drawn only close up"
    assert any(u.endswith(".pbf") and "/ogc/resources/fonts/" in u for u in log.urls), "glyphs come from bando"
    assert not log.foreign()
