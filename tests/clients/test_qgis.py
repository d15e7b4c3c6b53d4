"""A real client: headless QGIS reads bando's OGC API Features and vector tiles.

QGIS runs under Debian's system Python (``python3-qgis``; its bindings are built for
that Python, not the project's), in ``tests/clients/qgis_probe.py``, as a subprocess
with ``QT_QPA_PLATFORM=offscreen`` and a private home and QGIS profile. The probe does
what a planner does — adds the ``parcels`` collection as an OGC API Features layer
(provider ``OAPIF``), reads a bbox, reads a parcel in VN-2000 TM-3 (EPSG:9209), adds the
WebMercatorQuad tiles as a vector tile layer and renders them — and prints what QGIS
saw as JSON. These tests compare that with the database.

``scripts/install-system-deps --test`` installs QGIS (as root on Debian). The tests
skip only where it cannot be installed: no Debian system Python, or not a root shell
with apt-get. Anywhere it could have been installed, a missing QGIS is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import morecantile
import psycopg
import pytest

from bando.api_config.tiles_sql import BUFFER, EXTENT
from bando.layers.catalogue import load as load_catalogue

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's; the shell's `python3` may be a pyenv shim or the venv
PROBE = Path(__file__).with_name("qgis_probe.py")
PARCELS = next(layer for layer in load_catalogue() if layer.id == "parcels")
KEY = list(PARCELS.key)  # maXa, soHieuToBanDo, soThuTuThua
PUBLIC = [f.name for f in PARCELS.public_fields]
RESTRICTED = {f.name for f in PARCELS.fields if not f.public}
TILE_PROPERTIES = list(PARCELS.tiles.properties)
TM3 = "EPSG:9209"
ZOOM = 16
HALF = (0.0012, 0.0010)  # bbox half-size in degrees: about 125 m × 110 m
HALF_CORNER = (0.004, 0.003)  # about 830 m × 650 m


def _qgis_env(home: Path) -> dict[str, str]:
    """A clean environment for Debian's Python: no venv, a private home and QGIS profile."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("QGIS_")}
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    local = "127.0.0.1,localhost"
    return env | {
        "HOME": str(home),
        "QGIS_CUSTOM_CONFIG_PATH": str(home / "qgis-profile"),
        "XDG_RUNTIME_DIR": str(runtime),
        "QT_QPA_PLATFORM": "offscreen",
        "NO_PROXY": local,
        "no_proxy": local,
    }


@pytest.fixture(scope="module")
def qgis_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="bando-qgis-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def qgis(qgis_home: Path) -> str:
    """The QGIS version under Debian's Python; skips only where QGIS cannot be installed."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(
            f"QGIS cannot be installed here: no Debian system Python at {SYSTEM_PYTHON} "
            "(python3-qgis is a Debian package built for it)"
        )
    check = subprocess.run(
        [SYSTEM_PYTHON, "-c", "from qgis.core import Qgis; print(Qgis.version())"],
        capture_output=True,
        text=True,
        env=_qgis_env(qgis_home),
        timeout=120,
    )
    if check.returncode == 0:
        return check.stdout.strip().splitlines()[-1]
    installable = os.geteuid() == 0 and any(os.access(f"{d}/apt-get", os.X_OK) for d in ("/usr/bin", "/bin"))
    if not installable:
        why = check.stderr.strip().splitlines()[-1] if check.stderr.strip() else f"exit {check.returncode}"
        pytest.skip(
            f"QGIS cannot be installed here: `import qgis` fails under {SYSTEM_PYTHON} ({why}) and "
            "this is not a root shell with apt-get, so scripts/install-system-deps cannot add it"
        )
    pytest.fail(
        f"QGIS is missing but installable: `import qgis` fails under {SYSTEM_PYTHON}. Run "
        "`scripts/install-system-deps --test` (make setup), which installs python3-qgis and "
        f"qgis-providers.\n{check.stderr[-1500:]}"
    )


KEYS_SQL = ", ".join(f'"{k}"' for k in KEY)


def _meeting(conn: psycopg.Connection, bbox: tuple[float, ...], pad: float = 0.0) -> set[tuple]:
    """Keys of the parcels whose CRS84 box meets a CRS84 bbox: what an OGC API bbox selects.

    Exact (double) comparisons: ``&&`` compares float4 boxes rounded outward, up to ~0.8 m
    loose in longitude here, so it is no yardstick for a client's count."""
    x0, y0, x1, y1 = bbox
    rows = conn.execute(
        f"""select {KEYS_SQL} from (select *, st_transform(geom, 4326) g from data.parcels) t
            where st_xmax(g) >= %s and st_ymax(g) >= %s and st_xmin(g) <= %s and st_ymin(g) <= %s""",
        (x0 - pad, y0 - pad, x1 + pad, y1 + pad),
    ).fetchall()
    return {tuple(r) for r in rows}


def _served(conn: psycopg.Connection, bbox: tuple[float, ...], pad_m: float = 0.0) -> set[tuple]:
    """Keys of the parcels the server hands out for a CRS84 bbox today: ``geom && box`` in TM-3, the
    box spanned by the bbox's two corners transformed (``api_config.speedups.transform_bbox``).

    QGIS keeps, of those, the ones whose CRS84 box meets the bbox. The TM-3 grid is turned
    about 0.2° against CRS84 here, so the two-corner box misses a sliver along two edges."""
    rows = conn.execute(
        f"""with c as (select st_transform(st_setsrid(st_point(%s, %s), 4326), 9209) a,
                              st_transform(st_setsrid(st_point(%s, %s), 4326), 9209) b)
            select {KEYS_SQL} from data.parcels, c
            where geom && st_expand(st_makeenvelope(st_x(a), st_y(a), st_x(b), st_y(b), 9209), %s)""",
        (*bbox, pad_m),
    ).fetchall()
    return {tuple(r) for r in rows}


Found = tuple[tuple[float, ...], set, tuple]  # a bbox, the keys of the parcels it selects, the parcel it is around


def _bboxes(conn: psycopg.Connection, half: tuple[float, float]) -> Iterator[Found]:
    """CRS84 bboxes around sample parcels whose selection does not change when the edges move 5 cm."""
    for offset in range(100, 5000, 150):
        row = conn.execute(
            f"""select {KEYS_SQL}, st_x(p), st_y(p), st_x(c), st_y(c)
                 from (select *, st_transform(st_pointonsurface(geom), 4326) p,
                             st_transform(st_centroid(geom), 4326) c
                      from data.parcels where "maXa" <> '12345' order by fid limit 1 offset %s) t""",
            (offset,),
        ).fetchone()
        if row is None:
            return
        cx, cy = row[-2], row[-1]
        bbox = (cx - half[0], cy - half[1], cx + half[0], cy + half[1])
        inside = _meeting(conn, bbox)
        if len(inside) > 1 and _meeting(conn, bbox, -5e-7) == inside == _meeting(conn, bbox, 5e-7):
            yield bbox, inside, row


@pytest.fixture(scope="module")
def case(server: str, database: str) -> dict:
    """What the probe is asked, and what the database says about it."""
    with psycopg.connect(database) as conn:
        # the bbox of the count: the server hands out every parcel in it, even with its box 0.5 m smaller
        bbox, keys, row = next((f for f in _bboxes(conn, HALF) if f[1] <= _served(conn, f[0], -0.5)), (None,) * 3)
        assert bbox, "no bbox around the sample parcels is clear of parcels along its edges"
        parcel = {"key": dict(zip(KEY, row[:3], strict=True)), "point": [row[3], row[4]]}
        # a larger bbox, where the server's two-corner box misses parcels that meet the bbox (by > 0.5 m)
        corner, corner_keys, _ = next(
            (f for f in _bboxes(conn, HALF_CORNER) if f[1] - _served(conn, f[0], 0.5)), (None,) * 3
        )
        assert corner, "no bbox among the samples shows the two-corner bbox transformation's gap"
        where = " and ".join(f'"{k}" = %s' for k in KEY)
        values = list(parcel["key"].values())
        rings = conn.execute(
            f"""select array_agg(array[st_x((d).geom), st_y((d).geom)] order by (d).path)
                from (select st_dumppoints(geom) d from data.parcels where {where}) t
                group by (d).path[1], (d).path[2] order by (d).path[1], (d).path[2]""",
            values,
        ).fetchall()
        land_use = conn.execute(f'select "loaiDat" from data.parcels where {where}', values).fetchone()[0]
    tile = morecantile.tms.get("WebMercatorQuad").tile(*parcel["point"], ZOOM)
    spec = {
        "ogc": f"{server}/ogc",
        "collection": "parcels",
        "bboxes": {"main": bbox, "corner": corner},
        "key": parcel["key"],
        "point": parcel["point"],
        "tm3": TM3,
        "tiles": {
            "template": f"{server}/ogc/collections/parcels/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt",
            "zmin": PARCELS.tiles.minzoom,
            "zmax": PARCELS.tiles.maxzoom,
            "zoom": ZOOM,
            "layer": "parcels",
            "fields": [p for p in TILE_PROPERTIES if p not in KEY],
        },
    }
    return {
        "spec": spec,
        "keys": {"main": keys, "corner": corner_keys},
        "rings": [r[0] for r in rings],
        "land_use": land_use,
        "tile": tile,
    }


@pytest.fixture(scope="module")
def probe(qgis: str, case: dict, qgis_home: Path) -> dict:
    """Run headless QGIS once over the whole case; each test reads its part of the answer."""
    spec_file = qgis_home / "spec.json"
    spec_file.write_text(json.dumps(case["spec"]), encoding="utf-8")
    done = subprocess.run(
        [SYSTEM_PYTHON, str(PROBE), str(spec_file)],
        capture_output=True,
        text=True,
        env=_qgis_env(qgis_home),
        timeout=300,
        cwd=qgis_home,
    )
    said = f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"qgis_probe.py exited {done.returncode}\n{said}"
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise AssertionError(f"qgis_probe.py printed no JSON ({exc})\n{said}") from exc


def _part(probe: dict, name: str) -> dict:
    assert not probe["errors"].get(name), f"QGIS failed in '{name}':\n{probe['errors'][name]}"
    return probe[name]


def test_qgis_opens_the_collection_as_an_ogc_api_features_layer(probe: dict, server: str) -> None:
    assert {"OAPIF", "vectortile"} <= set(probe["providers"]), probe["providers"]
    features = _part(probe, "features")
    assert features["valid"] and features["provider"] == "OAPIF"
    assert features["crs"] in ("EPSG:4326", "OGC:CRS84")  # QGIS 3.22 calls CRS84 EPSG:4326 (lon/lat internally)
    assert sorted(features["fields"]) == sorted(PUBLIC)  # the public schema
    assert not set(features["fields"]) & RESTRICTED
    assert features["fields"]["soHieuToBanDo"] == "Integer" and features["fields"]["dienTich"] == "Real"
    items = [u for u in features["requests"] if u.startswith(f"{server}/ogc/collections/parcels/items")]
    assert items and any("bbox=" in u for u in items), features["requests"]  # the server filters, not QGIS


def _bbox_answer(probe: dict, name: str) -> dict:
    return _part(probe, "features")["bboxes"][name]


def test_feature_count_in_a_bbox_equals_the_database(probe: dict, case: dict) -> None:
    got, want = _bbox_answer(probe, "main"), case["keys"]["main"]
    keys = {tuple(k) for k in got["keys"]}
    assert got["count"] == len(want) > 1, f"QGIS missed {sorted(want - keys)[:5]}, read {sorted(keys - want)[:5]}"
    assert keys == want and len(keys) == got["count"]  # the same parcels; paging neither repeats nor skips one


def test_a_large_bbox_returns_the_parcels_along_its_edges(probe: dict, case: dict) -> None:
    got, want = _bbox_answer(probe, "corner"), case["keys"]["corner"]
    missed = sorted(want - {tuple(k) for k in got["keys"]})
    assert not missed, f"QGIS read {got['count']} parcels of the {len(want)} that meet the bbox; missed {missed[:5]}"


def test_a_parcel_in_vn2000_tm3_has_the_database_coordinates(probe: dict, case: dict) -> None:
    tm3 = _part(probe, "tm3")
    assert tm3["crs"] == TM3 and "+lon_0=105.5" in tm3["crs_proj"] and "+k=0.9999" in tm3["crs_proj"]
    if tm3["route"] == "client":  # QGIS 3.22 reads CRS84 only: it reprojects, here with EPSG:6960 pinned
        assert "VN-2000 to WGS 84 (2)" in tm3["operation"], tm3["operations"]
    else:
        assert tm3["route"] == "server" and tm3["layer_crs_with_srsname"] == TM3
    got, want = tm3["rings"], case["rings"]
    assert [len(r) for r in got] == [len(r) for r in want]
    worst = max(
        abs(a - b)
        for g, w in zip(got, want, strict=True)
        for p, q in zip(g, w, strict=True)
        for a, b in zip(p, q, strict=True)
    )
    assert worst < 0.01, f"QGIS's TM-3 vertices are {worst:.4f} m from the database's"
    assert 400_000 < got[0][0][0] < 700_000 and 1_000_000 < got[0][0][1] < 2_700_000  # metres, TM-3 false easting


def _tile_sets(database: str, tile: morecantile.Tile) -> tuple[set, set]:
    """Keys of the parcels that must be in a tile (they meet its inner part) and that may be (its buffer)."""
    bounds = morecantile.tms.get("WebMercatorQuad").xy_bounds(tile)
    size = bounds.right - bounds.left

    def meets(pad: float) -> set:
        with psycopg.connect(database) as conn:
            rows = conn.execute(
                f"""select {KEYS_SQL} from data.parcels where st_intersects(geom, st_transform(st_segmentize(
                    st_makeenvelope(%s, %s, %s, %s, 3857), 50), 9209))""",
                (bounds.left - pad, bounds.bottom - pad, bounds.right + pad, bounds.top + pad),
            ).fetchall()
        return {tuple(r) for r in rows}

    return meets(-2.0), meets(size * BUFFER / EXTENT + 2.0)


def test_vector_tiles_decode_in_qgis_with_the_database_parcels(
    probe: dict, case: dict, server: str, database: str
) -> None:
    tiles = _part(probe, "tiles")
    t = case["tile"]
    assert tiles["valid"] and tiles["crs"] == "EPSG:3857" and tiles["source_zoom"] == [14, 22]
    assert not tiles["render_errors"], tiles["render_errors"]
    assert tiles["requested_tile"] == [ZOOM, t.x, t.y]
    url = f"{server}/ogc/collections/parcels/tiles/WebMercatorQuad/{ZOOM}/{t.y}/{t.x}?f=mvt"
    assert url in tiles["requests"], tiles["requests"]
    decoded = {(d["z"], d["x"], d["y"]): d for d in tiles["tiles"]}
    assert set(decoded) == {(ZOOM, t.x, t.y)}, list(decoded)
    mine = decoded[(ZOOM, t.x, t.y)]
    assert mine["count"] > 0 and mine["attribute_names"] == sorted(TILE_PROPERTIES)
    keys = {tuple(k) for k in mine["keys"]}
    must, may = _tile_sets(database, t)
    assert must <= keys, f"{len(must - keys)} parcels in the tile were not decoded, e.g. {sorted(must - keys)[:3]}"
    assert keys <= may, f"{len(keys - may)} decoded parcels are not near the tile, e.g. {sorted(keys - may)[:3]}"

    parcel = tiles["parcel"]
    assert parcel is not None, "the known parcel is not among the decoded features"
    assert parcel["tile"] == [ZOOM, t.x, t.y]
    assert parcel["attributes"]["loaiDat"] == case["land_use"]
    assert parcel["contains_point"], "the decoded polygon does not hold the parcel's point-on-surface"
    tb = morecantile.tms.get("WebMercatorQuad").xy_bounds(t)
    pad = (tb.right - tb.left) * BUFFER / EXTENT  # the tile keeps its features clipped to this much beyond its edge
    where = " and ".join(f'"{k}" = %s' for k in KEY)
    with psycopg.connect(database) as conn:
        off = conn.execute(
            f"""select st_hausdorffdistance(st_intersection(st_transform(geom, 3857),
                       st_makeenvelope(%s, %s, %s, %s, 3857)), st_geomfromtext(%s, 3857))
                from data.parcels where {where}""",
            (
                tb.left - pad,
                tb.bottom - pad,
                tb.right + pad,
                tb.top + pad,
                parcel["wkt_3857"],
                *case["spec"]["key"].values(),
            ),
        ).fetchone()[0]
    # Below maxzoom a tile is snapped to ~1 px of a 512 px tile (1.2 m at z16), then to 1/4096 of the tile.
    assert off < 1.5, f"the decoded parcel is {off:.2f} m (Hausdorff) from the database's"
