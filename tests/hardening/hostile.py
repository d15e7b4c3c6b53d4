"""A corpus of hostile and malformed requests on every public parameter of the OGC API.

Each :class:`Case` is sent as raw bytes (``http.client``), so path traversal, NUL bytes,
invalid UTF-8 and oversized bodies reach the server exactly as written; no client
library tidies them up first. ``expect`` says what a correct answer is:

* ``"4xx"`` — a client error with a short message (most cases);
* ``"413"`` — a body over the 1 MB limit;
* ``"not-5xx"`` — an odd but *valid* request whose right answer may be 200: a ``limit``
  above the maximum (OGC API Features requires clamping it, not refusing it), an equality
  filter or free-text search whose value is an injection string (it matches nothing), a
  datetime open at both ends, a repeated sort key, an unknown ``lang`` (falls back to the
  default), a ``skipGeometry`` that is not "true", digits in another script. These must
  still never be a 5xx, leak anything or hang.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

BIG = str(10**40)
INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE data.parcels; --",
    '") OR 1=1 --',
    "$$; select pg_sleep(30); $$",
    "1' AND pg_sleep(30)::text = '1",
)
NUMBERS = ("1e308", BIG, "-1", "NaN", "Infinity", "-Infinity", "1e-400", "0x10", "١٢")
RAW_GARBAGE = ("%00", "%FF%FE%FD", "%C0%AF", "%E2%80%AE%F0%9F%92%A9" * 300, "A" * 10_000)
BAD_CRS = (
    "EPSG:999999",
    "http://www.opengis.net/def/crs/EPSG/0/999999",
    "http://www.opengis.net/def/crs/EPSG/0/-1",
    "http://www.opengis.net/def/crs/EPSG/0/1e308",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data",
    "urn:ogc:def:crs:EPSG::4326';--",
    "../../../../etc/passwd",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84" + "A" * 5000,
    "EPSG:" + BIG,
)
TRAVERSAL = (
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "....%2F%2F....%2F%2Fetc%2Fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..%5C..%5Cwindows%5Cwin.ini",
    "%2Fetc%2Fpasswd",
    "parcels%00",
    "..",
    "%2e%2e",
)
ITEMS = "/ogc/collections/parcels/items"
REPORT = "/ogc/processes/planning-report/execution"


@dataclass
class Case:
    id: str
    path: str  # raw, already percent-encoded where needed
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: str = "4xx"


def q(**params: str) -> str:
    """A query string with each value percent-encoded (keys as given)."""
    return "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())


def raw(**params: str) -> str:
    """A query string whose values are sent as written (already encoded, possibly invalid)."""
    return "&".join(f"{k}={v}" for k, v in params.items())


def _param_cases(
    name: str, values: list[str], path: str = ITEMS, prefix: str = "", lenient: tuple[str, ...] = (), **extra: str
) -> list[Case]:
    """One case per value; values in ``lenient`` are odd but valid, so only "not-5xx" is asked of them."""
    out = []
    for i, v in enumerate(values):
        query = q(**{name: v}, **extra)
        out.append(
            Case(f"{prefix}{name}[{i}]={v[:40]!r}", f"{path}?{query}", expect="not-5xx" if v in lenient else "4xx")
        )
    return out


def _raw_cases(name: str, path: str = ITEMS, prefix: str = "") -> list[Case]:
    return [
        Case(f"{prefix}{name}[raw {i}]={v[:30]!r}", f"{path}?{raw(**{name: v})}") for i, v in enumerate(RAW_GARBAGE)
    ]


def nested_not_json(depth: int) -> dict:
    node: dict = {"op": "=", "args": [{"property": "loaiDat"}, "LUC"]}
    for _ in range(depth):
        node = {"op": "not", "args": [node]}
    return node


def nested_json_text(depth: int) -> str:
    """A CQL2 JSON text nested ``depth`` deep, written without recursion."""
    return '{"op": "not", "args": [' * depth + '{"op": "=", "args": [{"property": "loaiDat"}, "LUC"]}' + "]}" * depth


def items_cases() -> list[Case]:
    cases: list[Case] = []
    bboxes = [
        "1e308,1e308,1e308,1e308",
        f"{BIG},0,1,1",
        "NaN,NaN,NaN,NaN",
        "Infinity,-Infinity,1,1",
        "1,2,3",
        "1,2,3,4,5",
        "a,b,c,d",
        "1,2,3,4'; drop table data.parcels; --",
        "106.1,20.9,105.9,20.8",
        "-1e400,-1e400,1e400,1e400",
        ",,,",
        "1" * 5000 + ",0,1,1",
    ]
    cases += _param_cases("bbox", bboxes) + _raw_cases("bbox")
    cases += _param_cases("bbox-crs", list(BAD_CRS), bbox="0,0,1,1") + _raw_cases("bbox-crs")
    cases += _param_cases("crs", list(BAD_CRS)) + _raw_cases("crs")
    dates = [
        "not-a-date",
        "2024-13-45",
        "9999999-01-01",
        "1e308",
        "2024-01-01/2024-02-01/2024-03-01",
        "2024-01-01T25:99:99Z",
        *INJECTIONS,
        "../..",
        "-1",
        BIG,
    ]
    cases += _param_cases("datetime", dates, lenient=("../..",)) + _raw_cases("datetime")
    filters = [
        *INJECTIONS,
        "loaiDat = 'LUC'; DROP TABLE data.parcels",
        "tenChu = 'x'",
        "nosuchfield = 1",
        "loaiDat = 'LUC' OR 1=1) --",
        "pg_sleep(30) = 1",
        "S_INTERSECTS(geometry, POLYGON((0 0, 1 1)))",
        "dienTich > 'abc'",
        "soThuTuThua = 1e400 AND soThuTuThua < -1e400 AND soThuTuThua > NaN",
        "CASEI(tenChu) = 'x'",
        "loaiDat IN ()",
        "loaiDat LIKE " + "'%" * 5000 + "'",
        "NOT (" * 300 + "loaiDat = 'LUC'" + ")" * 300,
        " AND ".join(["loaiDat = 'LUC'"] * 500),
        "(" * 5000,
        "loaiDat > 5",
        "soThuTuThua LIKE 'x%'",
        "loaiDat = TRUE",
        "dienTich + 'a' > 1",
        "S_INTERSECTS(loaiDat, POINT(1 1))",
        "CASEI(dienTich) = 'x'",
        "dienTich / 0 > 1",
        "soThuTuThua * 999999999 * 999999999 > 1",
    ]
    cases += _param_cases("filter", filters) + _raw_cases("filter")
    langs = ["sql", "cql2-text'; drop table x; --", "ecql", "cql2-json", "A" * 5000]
    cases += _param_cases("filter-lang", langs, lenient=("cql2-json",), filter="loaiDat = 'LUC'")
    cases += _param_cases("filter-crs", list(BAD_CRS[:6]), filter="S_INTERSECTS(geometry, POINT(1 1))")
    sorts = [
        "tenChu",
        "-tenChu",
        "-'; drop table x; --",
        "fid;drop table x",
        "nosuchfield",
        "+",
        "A" * 5000,
        ",".join(["loaiDat"] * 1000),
        "geom",
        "diaChi",
    ]
    cases += _param_cases("sortby", sorts, lenient=(",".join(["loaiDat"] * 1000),)) + _raw_cases("sortby")
    props = [
        "tenChu",
        "loaiDat,tenChu",
        "diaChi",
        "fid; drop table x",
        "nosuchfield",
        "*",
        ",".join(f"p{i}" for i in range(2000)),
    ]
    cases += _param_cases("properties", props) + _raw_cases("properties")
    cases += _param_cases("limit", [v for v in NUMBERS if v != BIG] + ["abc", "10 OR 1=1", "1e3", ""], lenient=("١٢",))
    cases += [Case("limit=10**40 (clamped to the maximum)", f"{ITEMS}?{q(limit=BIG)}", expect="not-5xx")]
    cases += _param_cases("offset", [*NUMBERS, "abc", "5; drop table x"], lenient=("١٢",))
    cases += _param_cases("f", ["../../../../etc/passwd", "xml", "json'", "%00", "A" * 5000])
    cases += _param_cases("skipGeometry", ["' OR 1=1 --", "2", "A" * 5000], lenient=("' OR 1=1 --", "2", "A" * 5000))
    # an unknown language falls back to the default one, as Accept-Language does
    cases += _param_cases(
        "lang", ["' OR 1=1 --", "../../etc/passwd", "A" * 5000], lenient=("' OR 1=1 --", "../../etc/passwd", "A" * 5000)
    )
    cases += [Case("tenChu= (restricted field as a query parameter)", f"{ITEMS}?{q(tenChu='Nguyễn Văn An')}")]
    cases += [
        Case(f"loaiDat={v!r} (public field equality, matches nothing)", f"{ITEMS}?{q(loaiDat=v)}", expect="not-5xx")
        for v in INJECTIONS[:2]
    ]
    # CQL2 JSON by POST: deep nesting, unknown operators, wrong types
    cql_json = "application/query-cql-json"
    for depth in (1_000, 10_000):
        text = nested_json_text(depth).encode()
        cases.append(Case(f"POST cql2-json {depth} nested not", ITEMS, "POST", text, {"Content-Type": cql_json}))
        text_filter = "NOT (" * depth + "loaiDat = 'LUC'" + ")" * depth
        cases.append(Case(f"GET filter cql2-text {depth} nested NOT", f"{ITEMS}?{q(filter=text_filter)}"))
    # (a cql2-json filter 10 000 deep in the URL is a 570 KB request line: uvicorn itself answers
    # "400 Invalid HTTP request" and closes, so the client may see only the reset)
    cases.append(
        Case(
            "GET filter cql2-json 1000 nested not",
            f"{ITEMS}?{q(**{'filter-lang': 'cql2-json'})}&filter={quote(nested_json_text(1000), safe='')}",
        )
    )
    bodies = {
        "not JSON": b"{'op': ",
        "array": b"[1, 2, 3]",
        "unknown op": b'{"op": "pg_sleep", "args": [30]}',
        "sql in property": json.dumps({"op": "=", "args": [{"property": "loaiDat\" = '' or 1=1 --"}, "x"]}).encode(),
        "restricted property": json.dumps({"op": "=", "args": [{"property": "tenChu"}, "x"]}).encode(),
        "NaN literal": b'{"op": "=", "args": [{"property": "dienTich"}, NaN]}',
        "huge literal": b'{"op": ">", "args": [{"property": "dienTich"}, 1e999]}',
        "invalid utf-8": b'{"op": "=", "args": [{"property": "loaiDat"}, "\xff\xfe"]}',
        "geometry garbage": json.dumps(
            {
                "op": "s_intersects",
                "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [[[1e308, 1e308]]]}],
            }
        ).encode(),
    }
    for name, body in bodies.items():
        cases.append(Case(f"POST cql2-json {name}", ITEMS, "POST", body, {"Content-Type": cql_json}))
    return cases


def path_cases() -> list[Case]:
    cases: list[Case] = []
    ids = [
        "-1",
        "0",
        BIG,
        "1e308",
        "NaN",
        "Infinity",
        "1 OR 1=1",
        "1;drop table x",
        "A" * 5000,
        "%00",
        "%FF%FE",
        "1%27--",
    ]
    for i, v in enumerate([*ids, *TRAVERSAL]):
        cases.append(
            Case(f"item id[{i}]={v[:30]!r}", f"{ITEMS}/{v if '%' in v or v in ('..',) else quote(v, safe='')}")
        )
    names = [*TRAVERSAL, "parcels'--", "A" * 5000, "%F0%9F%92%A9", "PARCELS", "parcels%20"]
    for i, v in enumerate(names):
        for suffix in ("", "/items", "/items/1", "/queryables", "/schema", "/tiles", "/coverage"):
            cases.append(Case(f"collection[{i}]={v[:30]!r}{suffix}", f"/ogc/collections/{v}{suffix}"))
    return cases


def tile_cases() -> list[Case]:
    cases: list[Case] = []
    base = "/ogc/collections/parcels/tiles"
    good = ("WebMercatorQuad", "16", "29000", "52000")
    bad_index = ["-1", "99999999", BIG, "1e308", "NaN", "abc", "%00", "1;drop", "0x10", "A" * 3000, "%2e%2e", "1.5"]
    for pos, name in ((1, "z"), (2, "row"), (3, "col")):
        for i, v in enumerate(bad_index):
            parts = list(good)
            parts[pos] = v
            cases.append(Case(f"tile {name}[{i}]={v[:30]!r}", f"{base}/{'/'.join(parts)}?f=mvt"))
    tms_names = [*TRAVERSAL, "WebMercatorQuad'--", "A" * 3000, "webmercatorquad"]
    for i, v in enumerate(tms_names):
        cases.append(Case(f"tile matrix set[{i}]={v[:30]!r}", f"{base}/{v}/16/29000/52000?f=mvt"))
        cases.append(Case(f"tile set metadata[{i}]={v[:30]!r}", f"{base}/{v}/metadata"))
        cases.append(Case(f"TileMatrixSets[{i}]={v[:30]!r}", f"/ogc/TileMatrixSets/{v}"))
    cases += [
        Case(f"tile f[{i}]", f"{base}/WebMercatorQuad/16/29000/52000?{q(f=v)}")
        for i, v in enumerate(["../../etc/passwd", "png", "A" * 3000])
    ]
    cases += [
        Case(f"tile metadata f[{i}]", f"{base}/WebMercatorQuad/metadata?{q(f=v)}")
        for i, v in enumerate(["../../etc/passwd", "xml", "A" * 3000])
    ]
    return cases


def coverage_cases() -> list[Case]:
    path = "/ogc/collections/flood_depth/coverage"
    cases = _param_cases(
        "bbox",
        ["1e308,1e308,1e308,1e308", f"{BIG},0,1,1", "NaN,NaN,NaN,NaN", "a,b,c,d", "1,2,3", "106.1,20.9,105.9,20.8"],
        path,
        "coverage ",
    )
    cases += _param_cases("bbox-crs", list(BAD_CRS[:6]), path, "coverage ", bbox="106,20.9,106.01,20.91")
    cases += _param_cases(
        "subset",
        ["x(1e308:1e309)", "Lat(NaN:NaN)", "y(abc:def)", "'; drop table x; --", "Lon(" + BIG + ":1)", "A" * 5000],
        path,
        "coverage ",
    )
    cases += _param_cases("properties", ["../../etc/passwd", "'; drop", "nosuchband"], path, "coverage ")
    cases += _param_cases("f", ["../../etc/passwd", "xml", "A" * 3000], path, "coverage ")
    return cases


def records_cases() -> list[Case]:
    path = "/ogc/collections/catalogue/items"
    cases = _param_cases("q", [*INJECTIONS[:3], "A" * 10_000], path, "records ")
    cases = [Case(c.id, c.path, expect="not-5xx") for c in cases]  # a free-text search for odd text finds nothing
    cases += _param_cases("bbox", ["1e308,1e308,1e308,1e308", "NaN,NaN,NaN,NaN", "a,b,c,d"], path, "records ")
    cases += _param_cases("datetime", ["not-a-date", "2024-13-45", INJECTIONS[0]], path, "records ")
    cases += _param_cases("sortby", ["'; drop table x; --", "nosuchfield"], path, "records ")
    cases += _param_cases("limit", ["1e308", "-1", "NaN"], path, "records ")
    cases += [
        Case(f"records id[{i}]", f"{path}/{v}") for i, v in enumerate(TRAVERSAL[:4] + (quote("'; drop table x; --"),))
    ]
    return cases


def _report(name: str, inputs: object, raw_body: bytes | None = None) -> Case:
    body = raw_body if raw_body is not None else json.dumps({"inputs": inputs}).encode()
    return Case(f"planning-report {name}", REPORT, "POST", body, {"Content-Type": "application/json"})


def process_cases() -> list[Case]:
    key = {"maXa": "12049", "soHieuToBanDo": 1, "soThuTuThua": 1}
    cases = [_report(f"maXa={v!r}", key | {"maXa": v}) for v in INJECTIONS[:3]]
    for name in ("soHieuToBanDo", "soThuTuThua"):
        for v in (1e308, 10**40, -1, 0, "1", True, None, [1], {"a": 1}):
            cases.append(_report(f"{name}={str(v)[:20]}", key | {name: v}))
    cases += [
        _report(
            f"{name}=NaN (raw JSON)",
            None,
            json.dumps({"inputs": key}).replace(f'"{name}": 1', f'"{name}": NaN').encode(),
        )
        for name in ("soHieuToBanDo", "soThuTuThua")
    ]
    for v in ([1e308, 1e308], [float("inf"), 0], [10**40, 0], [1, 2, 3, 4], ["106", "20.9"], [], "106,20.9", None):
        body = json.dumps({"inputs": {"point": v}}, allow_nan=True).encode()
        cases.append(_report(f"point={str(v)[:30]}", None, body))
    ring = [[106.0, 20.9], [106.001, 20.9], [106.001, 20.901], [106.0, 20.9]]
    polys = {
        "open ring": {"type": "Polygon", "coordinates": [ring[:-1]]},
        "huge": {"type": "Polygon", "coordinates": [[[0, 0], [179, 0], [179, 89], [0, 0]]]},
        "too many vertices": {"type": "Polygon", "coordinates": [[[106 + i * 1e-6, 20.9] for i in range(50_000)]]},
        "self-intersecting": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "not a polygon": {"type": "Point", "coordinates": [106, 20.9]},
        "nested arrays": {"type": "Polygon", "coordinates": [[[[[[106]]]]]]},
    }
    cases += [_report(f"polygon {name}", {"polygon": p}) for name, p in polys.items()]
    for v in BAD_CRS[:6]:
        cases.append(_report(f"crs={v[:30]!r}", {"point": [106, 20.9], "crs": v}))
    cases += [_report(f"version={v[:30]!r}", key | {"version": v}) for v in (*INJECTIONS[:2], "A" * 5000)]
    cases += [_report(f"lang={v!r}", key | {"lang": v}) for v in ("fr", "'; drop", "")]
    cases += [
        _report("unknown input", key | {"__class__": 1}),
        _report("inputs is a list", [1, 2]),
        _report("inputs is a string", "drop table"),
        _report("no inputs", None, b"{}"),
        _report("body not JSON", None, b"{'inputs': "),
        _report("body is JSON null", None, b"null"),
        _report("body invalid utf-8", None, b'{"inputs": {"maXa": "\xff\xfe"}}'),
        _report("inputs nested 10000 deep", None, b'{"inputs": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"),
        _report("inputs nested 100000 deep", None, b'{"inputs": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}"),
    ]
    bad_ids = [*TRAVERSAL[:4], "planning-report'--", "A" * 3000]
    cases += [Case(f"process id[{i}]", f"/ogc/processes/{v}") for i, v in enumerate(bad_ids)]
    cases += [
        Case(
            f"execute process id[{i}]",
            f"/ogc/processes/{v}/execution",
            "POST",
            b'{"inputs": {}}',
            {"Content-Type": "application/json"},
        )
        for i, v in enumerate(bad_ids)
    ]
    cases += [
        Case(f"job id[{i}]{s}", f"/ogc/jobs/{v}{s}")
        for i, v in enumerate(TRAVERSAL[:4] + (quote("'; drop table x; --"),))
        for s in ("", "/results")
    ]
    return cases


def oversized_cases() -> list[Case]:
    two_mb = b'{"op": "=", "args": [{"property": "loaiDat"}, "' + b"A" * 2_000_000 + b'"]}'
    report = b'{"inputs": {"maXa": "' + b"1" * 2_000_000 + b'"}}'
    return [
        Case("POST items 2 MB CQL2 JSON", ITEMS, "POST", two_mb, {"Content-Type": "application/query-cql-json"}, "413"),
        Case("POST planning-report 2 MB", REPORT, "POST", report, {"Content-Type": "application/json"}, "413"),
        Case(
            "POST planning-report 2 MB chunked (no Content-Length)",
            REPORT,
            "POST",
            report,
            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            "413",
        ),
    ]


def all_cases() -> list[Case]:
    cases = (
        items_cases()
        + path_cases()
        + tile_cases()
        + coverage_cases()
        + records_cases()
        + process_cases()
        + oversized_cases()
    )
    seen: set[str] = set()
    for c in cases:  # ids must be unique for pytest
        while c.id in seen:
            c.id += "'"
        seen.add(c.id)
    return cases


@dataclass
class Answer:
    status: int
    text: str
    seconds: float


def send(base: str, case: Case, timeout: float = 20.0) -> Answer:
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    started = time.monotonic()
    try:
        if case.headers.get("Transfer-Encoding") == "chunked":
            conn.putrequest(case.method, case.path, skip_accept_encoding=True)
            for k, v in case.headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            body = case.body or b""
            try:
                for i in range(0, len(body), 65536):
                    chunk = body[i : i + 65536]
                    conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.send(b"0\r\n\r\n")
            except OSError:  # the server answered 413 and closed while we were still sending
                pass
        else:
            conn.request(case.method, case.path, body=case.body, headers=case.headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        return Answer(response.status, text, time.monotonic() - started)
    finally:
        conn.close()


if __name__ == "__main__":  # explore: python -m tests.hardening.hostile http://127.0.0.1:8000
    import sys

    for c in all_cases():
        try:
            a = send(sys.argv[1], c)
            print(f"{a.status} {a.seconds:5.2f}s {c.expect:8} {c.id[:70]!s:72} {a.text[:150]!r}")
        except Exception as exc:
            print(f"ERR {type(exc).__name__} {c.id[:70]} {exc!r}"[:200])
