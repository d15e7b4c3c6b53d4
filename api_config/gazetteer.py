"""Names people search by — communes (today's and pre-2025), and what the catalogue marks
searchable (roads, hamlets, plan zones, …) — held in memory.

Citizens know their commune, often by its pre-2025 name still printed on their land-use
certificate, and their road, not coordinates. The names are few (hundreds to tens of
thousands per province, against a million parcels), so the public API keeps them folded
(no diacritics, no case: "van giang" finds "Văn Giang") in one list per server process,
rebuilt when a layer is published; a query is a scan of that list, well under a
millisecond, and never touches the parcels. A parcel named by commune + sheet + parcel
number is one index lookup on the parcels' key, with the commune resolved here — old
names to today's codes *and* the old codes, since parcel numbers did not change on
1 July 2025 but commune codes did, and deliveries carry either.

Former communes come from the maintained ``vietnam-provinces`` conversions, never typed
by hand. Which other layers are searched, by which fields, is each layer's ``search`` block
in the catalogue (:class:`bando.layers.model.Search`): a new searchable layer needs no code.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import psycopg
from psycopg import sql
from vietnam_provinces import Ward
from vietnam_provinces._ward_conversion_2025 import find_old_wards
from vietnam_provinces.legacy import District as OldDistrict
from vietnam_provinces.legacy import Ward as OldWard

from bando.encodings import unaccented
from bando.layers.model import BUILTIN_SEARCH_KINDS, Search
from bando.province import short_name

TYPE_WORDS = ("thi tran ", "phuong ", "xa ", "dac khu ")
RECHECK_S = 10.0  # how often a search asks whether a layer was published since the last build


def fold(text: str) -> str:
    """Lower case, no diacritics, đ → d, punctuation to spaces: the form both sides are compared in."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", unaccented(text)).split())


@dataclass(frozen=True)
class SearchedLayer:
    """A layer the catalogue marks searchable, with its table (present or not in the database)."""

    id: str
    table: str
    search: Search


@dataclass(frozen=True)
class Place:
    kind: str
    name: str
    folded: str
    doc: dict[str, Any]
    codes: tuple[str, ...] = ()  # commune codes a parcel named with this commune may carry
    aliases: tuple[str, ...] = field(default=())  # further folded forms (without the unit type)

    @property
    def haystack(self) -> str:
        """Every form in one string: a word not inside it rules the place out with one C-level scan."""
        return " ".join((self.folded, *self.aliases))

    def rank(self, q: str, tokens: list[str]) -> int | None:
        """0 exact, 1 starts with the query, 2 every word a word's prefix, 3 inside; None: no match."""
        forms = (self.folded, *self.aliases)
        if q in forms:
            return 0
        if any(f.startswith(q) for f in forms):
            return 1
        words = self.folded.split()
        if all(any(w.startswith(t) for w in words) for t in tokens):
            return 2
        return 3 if q in self.folded else None


class ParcelQuery(NamedTuple):
    place: str  # folded commune part
    sheet: int
    number: int


_PARCEL = re.compile(
    r"^(?P<place>.*?)\s*(?:\b(?:to|sheet)\s+(?:ban\s+do\s+)?(?:so\s+)?)?(?P<sheet>\d{1,5})"
    r"\s+(?:(?:thua|parcel)\s+(?:so\s+)?)?(?P<num>\d{1,6})$"
)


def parcel_query(q: str) -> ParcelQuery | None:
    """ "Vĩnh Khúc tờ 12 thửa 45", "vinh khuc 12/45", "Vinh Khuc sheet 12 parcel 45" (folded) → its parts."""
    m = _PARCEL.match(q)
    if not m:
        return None
    place = re.sub(r"\b(?:to|sheet|thua|parcel|so)\s*$", "", m.group("place")).strip()
    return ParcelQuery(place, int(m.group("sheet")), int(m.group("num"))) if place else None


@lru_cache(maxsize=4)
def former_communes(province_code: int) -> tuple[tuple[str, str, str, str], ...]:
    """(old code, old name, old district, today's code) for every pre-2025 commune now in the province."""
    out = []
    for ward in Ward.iter_all():
        if int(ward.province_code) != province_code or not (entry := find_old_wards(int(ward.code))):
            continue
        for old in entry.old_wards:
            try:
                o = OldWard.from_code(old.code)  # type: ignore[arg-type]
                district = OldDistrict.from_code(o.district_code).name
            except ValueError:
                continue
            out.append((f"{int(old.code):05d}", o.name, district, f"{int(ward.code):05d}"))
    return tuple(out)


@lru_cache(maxsize=4)
def todays_communes(province_code: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{int(w.code):05d}", w.name) for w in Ward.iter_all() if int(w.province_code) == province_code)


def _bbox(row: Iterable[Any]) -> list[float] | None:
    values = list(row)
    return [round(float(v), 6) for v in values] if all(v is not None for v in values) else None


class Gazetteer:
    """The searchable names of one server process, rebuilt after a publish."""

    def __init__(self, tables: dict[str, str], province_code: int, searched: Iterable[SearchedLayer] = ()) -> None:
        self.searched = sorted(searched, key=lambda s: (s.search.order, s.search.kind))
        # layer id → table name in schema data (communes, parcels and the searched layers)
        self.tables = tables | {s.id: s.table for s in self.searched}
        self.province_code = province_code
        #: kind → its rank among equally good hits: the search's own first, then by `order`
        self.kind_rank = {k: i for i, k in enumerate((*BUILTIN_SEARCH_KINDS, *(s.search.kind for s in self.searched)))}
        #: kind → (vi, en) label of the catalogue's kinds
        self.labels = {s.search.kind: (s.search.label.vi, s.search.label.en) for s in self.searched}
        self.places: list[Place] = []
        self._index: list[tuple[Place, str]] = []  # (place, its forms in one string)
        self.communes: dict[str, tuple[str, list[float] | None]] = {}  # code → (name, bbox)
        self._lock = threading.Lock()
        self._stamp: Any = object()
        self._checked = float("-inf")

    # -- building ---------------------------------------------------------------------

    def due(self) -> bool:
        """Whether the next search should ask if a layer was published since the last build."""
        return time.monotonic() - self._checked >= RECHECK_S

    def refresh(self, conn: psycopg.Connection) -> None:
        """Rebuild when a layer was published since the last build (asked at most every few seconds)."""
        if time.monotonic() - self._checked < RECHECK_S:
            return
        with self._lock:
            if time.monotonic() - self._checked < RECHECK_S:
                return
            row = conn.execute("select max(published_at), count(*) from bando.layer_state").fetchone()
            stamp = tuple(row) if row else None
            if stamp != self._stamp:
                self.places = self._build(conn)
                self._index = [(p, p.haystack) for p in self.places]
                self._stamp = stamp
            self._checked = time.monotonic()

    def _exists(self, conn: psycopg.Connection, layer_id: str) -> bool:
        table = self.tables.get(layer_id)
        row = conn.execute("select to_regclass(%s)", (f"data.{table}",)).fetchone() if table else None
        return bool(row and row[0])

    def _extent(self, table: str, name: str, search: Search, where: str) -> sql.Composed:
        """name, commune, bbox in WGS 84 and the detail per distinct name (and commune, if the layer has one).

        The bbox goes through bando's registered VN-2000 SRIDs, so it agrees with pyproj.
        """
        commune = sql.Identifier(search.commune) if search.commune else sql.SQL("null::text")
        return sql.SQL(
            "select n, c, st_xmin(b), st_ymin(b), st_xmax(b), st_ymax(b), x from ("
            " select {n} n, {c} c, st_transform(st_setsrid(st_extent(geom)::geometry, min(st_srid(geom))), 4326) b,"
            " min({x}::text) x from data.{t} where {n} is not null {w} group by 1, 2) g order by 1, 2"
        ).format(
            n=sql.Identifier(name),
            c=commune,
            x=sql.Identifier(search.detail) if search.detail else sql.SQL("null"),
            t=sql.Identifier(table),
            w=sql.SQL(where),
        )

    def _build(self, conn: psycopg.Connection) -> list[Place]:
        places: list[Place] = []
        self.communes = {}
        if self._exists(conn, "communes"):
            rows = conn.execute(
                sql.SQL(
                    'select "maXa", "tenXa", "loaiDonVi", st_xmin(b), st_ymin(b), st_xmax(b), st_ymax(b)'
                    ' from (select "maXa", "tenXa", "loaiDonVi", st_transform(st_envelope(geom), 4326) b'
                    " from data.{t}) s"
                ).format(t=sql.Identifier(self.tables["communes"]))
            ).fetchall()
            for code, name, unit, *corners in rows:
                label = " ".join(x for x in (unit, name) if x)
                self.communes[code] = (label, _bbox(corners))
        for code, name in todays_communes(self.province_code):
            self.communes.setdefault(code, (name, None))
        former = former_communes(self.province_code)
        by_today: dict[str, list[str]] = {}
        for old_code, _, _, today in former:
            by_today.setdefault(today, []).append(old_code)
        for code, (name, box) in self.communes.items():
            folded = fold(name)
            codes = tuple(sorted({code, *by_today.get(code, [])}))
            doc: dict[str, Any] = {"kind": "commune", "name": name, "maXa": code, "bbox": box}
            places.append(Place("commune", name, folded, doc, codes, (short_name(folded, TYPE_WORDS),)))
        for old_code, old_name, district, today in former:
            now_name, box = self.communes.get(today, (today, None))
            if old_code == today and fold(old_name) == fold(now_name):
                continue  # the same commune under the same name: listed once, as today's
            folded = fold(old_name)
            doc = {
                "kind": "formerCommune",
                "name": old_name,
                "district": district,
                "maXa": today,
                "formerMaXa": old_code,
                "now": now_name,
                "bbox": box,
            }
            places.append(
                Place("formerCommune", old_name, folded, doc, (today, old_code), (short_name(folded, TYPE_WORDS),))
            )
        for layer in self.searched:
            if self._exists(conn, layer.id):
                places += self._layer_places(conn, layer)
        return places

    def _layer_places(self, conn: psycopg.Connection, layer: SearchedLayer) -> list[Place]:
        """One place per distinct value of each name field (per commune, when the layer names one)."""
        search, places = layer.search, []
        units = tuple(fold(w) + " " for w in search.unit_words)  # compared folded, as the names are
        current = "and valid_to is null" if self._has_column(conn, layer.id, "valid_to") else ""
        for name_field in search.names:
            query = self._extent(layer.table, name_field, search, current)
            for name, commune, *rest in conn.execute(query).fetchall():
                box, detail = rest[:4], rest[4]
                doc: dict[str, Any] = {"kind": search.kind, "name": str(name), "layer": layer.id, "field": name_field}
                doc["bbox"] = _bbox(box)
                if detail is not None:
                    doc["detail"] = str(detail)
                if search.commune and commune is not None:
                    doc |= {"maXa": str(commune), "communeField": search.commune}
                    doc["commune"] = self.communes.get(str(commune), (str(commune), None))[0]
                folded = fold(str(name))
                bare = short_name(folded, units)
                aliases = (bare,) if bare != folded and not bare.isdigit() else ()  # "Thôn 3" is not "3"
                places.append(Place(search.kind, str(name), folded, doc, aliases=aliases))
        return places

    def _has_column(self, conn: psycopg.Connection, layer_id: str, column: str) -> bool:
        return bool(
            conn.execute(
                "select 1 from information_schema.columns where table_schema = 'data' and table_name = %s"
                " and column_name = %s",
                (self.tables[layer_id], column),
            ).fetchone()
        )

    # -- searching ----------------------------------------------------------------------

    def search(self, q: str, limit: int) -> list[Place]:
        folded = fold(q)
        tokens = folded.split()
        if not tokens:
            return []
        scored = []
        longest = max(tokens, key=len)
        for place, haystack in self._index:
            if longest not in haystack:
                continue
            r = place.rank(folded, tokens)
            if r is not None:
                scored.append((r, self.kind_rank[place.kind], len(place.folded), place.folded, place))
        scored.sort(key=lambda s: s[:4])
        return [s[4] for s in scored[:limit]]

    def communes_named(self, folded: str) -> list[Place]:
        """Communes (today's first, then former) whose name the folded words name well."""
        hits = [p for p in self.search(folded, 50) if p.kind in ("commune", "formerCommune")]
        best = [p for p in hits if p.rank(folded, folded.split()) in (0, 1)]
        return (best or hits)[:5]
