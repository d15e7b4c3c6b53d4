"""Public comments on a draft plan: token, flood limit, durability, privacy, moderation, export.

A server of this module's own trusts this machine as a proxy, so each test client can be a
different citizen (``X-Forwarded-For``), as behind the province's reverse proxy.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from bando import db as bando_db
from tests.conftest import INTERNAL_TOKEN, cli_env, serving

LAYER, VERSION = "land_use_plan", "qhsdd-2030-dc1"
MARK = "Góp ý thử nghiệm 7f3a"


def serve(bando_bin: str, name: str, extra: dict[str, str] | None = None) -> Iterator[str]:
    settings = {"BANDO_INTERNAL_TOKENS": INTERNAL_TOKEN, "BANDO_TRUSTED_PROXIES": "127.0.0.1"} | (extra or {})
    with serving(bando_bin, dict(settings), log=f"server-{name}.log") as url:
        yield url


@pytest.fixture(scope="module")
def proxied(loaded: list, bando_bin: str) -> Iterator[str]:
    yield from serve(bando_bin, "comments")


def consultation(bando_bin: str, opens: str, closes: str) -> None:
    run = subprocess.run(
        [bando_bin, "consultation", LAYER, VERSION, "--opens", opens, "--closes", closes],
        capture_output=True, text=True, env=cli_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture(scope="module")
def open_period(proxied: str, bando_bin: str, database: str) -> tuple[float, float]:
    """The adjusted plan open to comment; a point inside one of its zones."""
    consultation(bando_bin, "2020-01-01", "2099-01-01")
    with psycopg.connect(database) as conn:
        lon, lat = conn.execute(
            "select st_x(p), st_y(p) from (select st_transform(st_pointonsurface(geom), 4326) p"
            " from data.land_use_plan where version_id = %s order by 1 limit 1) s",
            (VERSION,),
        ).fetchone()
    return lon, lat


def call(url: str, method: str = "GET", body: Any = None, headers: dict | None = None) -> tuple[int, Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, hdrs = r.read(), r.status, r.headers
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, exc.headers
    try:
        return status, json.loads(raw), hdrs
    except ValueError:
        return status, raw.decode("utf-8", "replace"), hdrs


def token(base: str, client: str = "198.51.100.1") -> str:
    status, doc, _ = call(f"{base}/comments/token", headers={"X-Forwarded-For": client})
    assert status == 200
    return doc["token"]


def comment(base: str, point: tuple[float, float], client: str, text: str = MARK, **extra: Any) -> int:
    body = {"layer": LAYER, "version": VERSION, "text": text, "point": list(point), **extra}
    headers = {"X-Forwarded-For": client, "X-Bando-Token": token(base, client)}
    return call(f"{base}/comments/", "POST", body, headers)[0]


def test_posting_without_the_site_token_or_from_another_site_is_refused(proxied: str, open_period) -> None:
    body = {"layer": LAYER, "version": VERSION, "text": "x", "point": list(open_period)}
    assert call(f"{proxied}/comments/", "POST", body)[0] == 403
    assert call(f"{proxied}/comments/", "POST", body, {"X-Bando-Token": "1.forged"})[0] == 403
    good = {"X-Bando-Token": token(proxied)}
    assert call(f"{proxied}/comments/", "POST", body, good | {"Origin": "https://evil.example"})[0] == 403
    assert call(f"{proxied}/comments/", "POST", body, good | {"Sec-Fetch-Site": "cross-site"})[0] == 403


def test_fifty_concurrent_comments_are_all_stored(proxied: str, open_period, database: str) -> None:
    marker = "đồng thời 50"
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda i: comment(proxied, open_period, f"10.0.1.{i}", f"{marker} #{i}"), range(50)))
    assert statuses == [201] * 50
    with psycopg.connect(database) as conn:
        stored = conn.execute("select count(*) from bando.comments where body like %s", (f"{marker} #%",)).fetchone()[0]
    assert stored == 50


def test_the_eleventh_rapid_post_from_one_client_is_429(proxied: str, open_period) -> None:
    statuses = [comment(proxied, open_period, "10.0.2.1", f"lũ {i}") for i in range(11)]
    assert statuses == [201] * 10 + [429]
    assert comment(proxied, open_period, "10.0.2.2") == 201  # another citizen is not held back


def test_the_flood_limit_is_a_setting(proxied: str, open_period, bando_bin: str) -> None:
    """BANDO_COMMENT_LIMIT=3: the fourth rapid post is refused, Retry-After is the window."""
    limited = serve(bando_bin, "comments-limited", {"BANDO_COMMENT_LIMIT": "3", "BANDO_COMMENT_WINDOW_S": "120"})
    base = next(limited)
    try:
        statuses = [comment(base, open_period, "10.0.4.1", f"giới hạn {i}") for i in range(4)]
        assert statuses == [201] * 3 + [429]
        body = {"layer": LAYER, "version": VERSION, "text": "x", "point": list(open_period)}
        headers = {"X-Forwarded-For": "10.0.4.1", "X-Bando-Token": token(base, "10.0.4.1")}
        status, _, hdrs = call(f"{base}/comments/", "POST", body, headers)
        assert (status, hdrs["Retry-After"]) == (429, "120")
    finally:
        limited.close()


def test_a_comment_is_never_public(proxied: str, open_period, database: str) -> None:
    assert comment(proxied, open_period, "10.0.3.1", MARK, name="Nguyễn Văn Bí Mật", contact="0912 345 678") == 201
    lon, lat = open_period
    answers = [
        call(f"{proxied}/comments/consultations")[1],
        call(f"{proxied}/ogc/collections/{LAYER}/items?f=json&limit=100")[1],
        call(f"{proxied}/ogc/processes/planning-report/execution", "POST", {"inputs": {"point": [lon, lat]}})[1],
    ]
    text = json.dumps(answers, ensure_ascii=False)
    for secret in (MARK, "Bí Mật", "0912 345 678"):
        assert secret not in text
    public = psycopg.connect(bando_db.view_url("public"))  # the public API's own role
    with public, pytest.raises(psycopg.errors.InsufficientPrivilege):
        public.execute("select body from bando.comments")


def test_internal_export_and_moderation_need_the_token(proxied: str, open_period) -> None:
    assert comment(proxied, open_period, "10.0.4.1", '=HYPERLINK("http://x")', name="Lê Thị Hoa") == 201
    assert call(f"{proxied}/internal/ogc/comments/?f=csv")[0] == 401
    auth = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
    status, text, headers = call(f"{proxied}/internal/ogc/comments/?f=csv&version={VERSION}", headers=auth)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    mine = next(r for r in rows if r["author_name"] == "Lê Thị Hoa")
    assert mine["body"].startswith("'="), "a formula must not reach a spreadsheet as a formula"
    assert mine["zone"], "the comment was not tied to the plan zone at its point"
    status, doc, _ = call(f"{proxied}/internal/ogc/comments/{mine['id']}", "POST", {"status": "rejected"}, auth)
    assert status == 200 and doc["status"] == "rejected"
    assert call(f"{proxied}/internal/ogc/comments/{mine['id']}", "POST", {"status": "rejected"})[0] == 401


def test_after_the_period_each_zone_shows_its_count(proxied: str, open_period, bando_bin: str) -> None:
    assert comment(proxied, open_period, "10.0.5.1") == 201
    consultation(bando_bin, "2020-01-01", "2021-01-01")  # the period is over
    try:
        assert comment(proxied, open_period, "10.0.5.2") == 409
        mine = next(
            c for c in call(f"{proxied}/comments/consultations")[1]["consultations"] if c["versionId"] == VERSION
        )
        assert not mine["open"] and sum(mine["commentsPerZone"].values()) >= 60
    finally:
        consultation(bando_bin, "2020-01-01", "2099-01-01")
