"""The layer catalogue's model: what one ``layers/<id>.yml`` may say.

Every step derives from this one definition of a layer — the pipelines' field
mapping and validation, the API configuration, tile attributes, QGIS styles and the
site's legends — so nothing about a layer is written twice.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

GeometryType = Literal["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
FieldType = Literal["text", "integer", "real", "date", "datetime", "boolean"]
Severity = Literal["error", "warning", "off"]

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLUMN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A bilingual string: Vietnamese first, English second."""

    vi: str
    en: str


Theme = Literal["base", "cadastre", "land_use", "planning", "infrastructure", "ioc", "raster"]
#: The themes layers are grouped by, with the titles every client shows (records, site, QGIS).
THEMES: dict[str, Text] = {
    "base": Text(vi="Nền địa lý", en="Base data"),
    "cadastre": Text(vi="Địa chính", en="Cadastre"),
    "land_use": Text(vi="Sử dụng đất", en="Land use"),
    "planning": Text(vi="Quy hoạch xây dựng", en="Construction planning"),
    "infrastructure": Text(vi="Hạ tầng kỹ thuật", en="Technical infrastructure"),
    "ioc": Text(vi="Trung tâm điều hành (IOC)", en="Operations centre (IOC)"),
    "raster": Text(vi="Dữ liệu ảnh lưới", en="Gridded data"),
}


class Domain(Strict):
    """Allowed values: a code table kept as data, an explicit list, or a range."""

    codes: Literal["land_use"] | None = None
    values: tuple[str | int, ...] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Domain:
        if self.codes and self.values:
            raise ValueError("give either 'codes' or 'values', not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class LayerField(Strict):
    name: Annotated[str, Field(description="canonical column and API property name")]
    type: FieldType
    title: Text
    required: bool = False
    public: bool = True
    personal: bool = False
    aliases: tuple[str, ...] = ()
    domain: Domain | None = None
    unit: str | None = None

    @field_validator("name")
    @classmethod
    def _column(cls, v: str) -> str:
        if not _COLUMN.match(v):
            raise ValueError(f"{v!r} is not a plain column name (letters, digits, _)")
        return v

    @model_validator(mode="after")
    def _personal_is_restricted(self) -> LayerField:
        if self.personal and self.public:
            raise ValueError(f"field {self.name!r} is personal data and cannot be public")
        return self


class Rules(Strict):
    """Validation rules; each maps to a stable rule code in the rejects table."""

    geometry_repair: bool = False
    extent: Literal["province", "none"] = "province"
    area_field: str | None = None
    area_tolerance: float = Field(default=0.05, ge=0, le=1)
    overlaps: Severity = "off"
    overlap_tolerance: float = Field(default=0.1, ge=0, description="m² of overlap ignored as digitising noise")
    sliver_min_area: float = Field(default=0.0, ge=0)
    max_reject_ratio: float = Field(default=0.05, ge=0, le=1)


class Style(Strict):
    """How the layer is drawn (site legend, QGIS style, IOC map)."""

    by: str | None = Field(default=None, description="field whose code decides the colour")
    codes: Literal["land_use"] | None = None
    fill: str | None = None
    stroke: str = "#555555"
    width: float = 1.0
    dash: bool = False
    radius: float = 5.0
    label: str | None = Field(
        default=None, description="label text: public fields in braces, e.g. '{soHieuToBanDo}/{soThuTuThua}'"
    )
    label_minzoom: int = Field(default=14, ge=0, le=24, description="MapLibre zoom from which labels show")
    ramp: tuple[tuple[float, str], ...] = Field(
        default=(), description="raster colour ramp: (value, #RRGGBB) stops, interpolated, ascending"
    )

    @field_validator("ramp")
    @classmethod
    def _ramp(cls, v: tuple[tuple[float, str], ...]) -> tuple[tuple[float, str], ...]:
        values = [x for x, _ in v]
        if values != sorted(values) or any(not _COLOUR.match(c) for _, c in v):
            raise ValueError("ramp stops must ascend and carry #RRGGBB colours")
        return v

    @property
    def label_fields(self) -> tuple[str, ...]:
        """The fields the label template names, in order."""
        return tuple(re.findall(r"\{([A-Za-z][A-Za-z0-9_]*)\}", self.label or ""))

    @field_validator("fill", "stroke")
    @classmethod
    def _colour(cls, v: str | None) -> str | None:
        if v is not None and not _COLOUR.match(v):
            raise ValueError(f"{v!r} is not a #RRGGBB colour")
        return v


class Tiles(Strict):
    minzoom: int = Field(default=10, ge=0, le=24)
    maxzoom: int = Field(default=20, ge=0, le=24)
    properties: tuple[str, ...] | None = Field(
        default=None, description="tile attributes; default: the key and the styled field"
    )
    max_features: int = Field(default=20000, ge=1)


class Contact(Strict):
    organisation: str
    email: str | None = None
    phone: str | None = None


class Metadata(Strict):
    source_decision: str | None = None
    date: str | None = Field(default=None, description="date of the data or of its decision")
    license: str = "CC-BY-4.0"
    contact: Contact
    keywords: tuple[str, ...] = ()
    update_frequency: str | None = None


class Alert(Strict):
    """Thresholds that turn an IOC point's reading into an alert, per sensor kind."""

    field: str
    by: str
    thresholds: dict[str, float]


class Raster(Strict):
    unit: str
    band_title: Text
    nodata: float | None = None
    max_pixels: int = Field(default=4_000_000, ge=1, description="largest coverage request")


class CadLabels(Strict):
    """Where a feature's attributes are written in the drawing: a text pattern or a block's attributes."""

    layers: tuple[str, ...] = Field(description="CAD layers (DXF) or level numbers (DGN) holding the labels")
    pattern: str | None = Field(
        default=None, description="regular expression over a text label; its named groups are field names"
    )
    block: str | None = Field(default=None, description="block name whose attributes carry the fields")
    attributes: dict[str, str] = Field(default_factory=dict, description="block attribute tag -> field")

    @model_validator(mode="after")
    def _one_kind(self) -> CadLabels:
        if (self.pattern is None) == (self.block is None):
            raise ValueError("labels need either a text 'pattern' or a 'block' with 'attributes'")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {exc}") from None
        if self.block is not None and not self.attributes:
            raise ValueError("a label block needs its 'attributes' (tag: field)")
        return self

    @property
    def fields(self) -> tuple[str, ...]:
        if self.pattern is not None:
            return tuple(re.compile(self.pattern).groupindex)
        return tuple(self.attributes.values())


class CadProfile(Strict):
    """How one kind of CAD delivery (a DGN cadastral sheet, a DXF plan) becomes this layer's features."""

    format: Literal["dgn", "dxf"]
    description: Text
    build: Literal["faces", "closed", "lines"] = Field(
        description="faces: polygons built from boundary linework; closed: one polygon per closed "
        "polyline; lines: one line feature per polyline"
    )
    linework: tuple[str, ...] = Field(description="CAD layers (DXF) or level numbers (DGN) holding the geometry")
    labels: CadLabels
    file_name: str | None = Field(
        default=None, description="regular expression over the file name; its named groups are field names"
    )
    snap: float = Field(default=0.001, gt=0, le=1, description="snap-rounding grid in metres (faces)")
    label_distance: float = Field(default=1.0, gt=0, description="how far (m) a line's label may lie from it")

    @property
    def fields(self) -> tuple[str, ...]:
        named = tuple(re.compile(self.file_name).groupindex) if self.file_name else ()
        return (*named, *self.labels.fields)


#: Result kinds the search makes itself (not from a layer's ``search``): a layer may not take them.
BUILTIN_SEARCH_KINDS = ("parcel", "commune", "formerCommune")
_KIND = re.compile(r"^[a-z][A-Za-z]{0,31}$")


class Search(Strict):
    """How the site's name search finds this layer: the fields people type, and what a hit is called.

    Each distinct value of a ``names`` field becomes one place (per commune when ``commune``
    names the field holding the commune code: "Thôn 3" exists in many communes), with the
    extent of its features; adding a searchable layer is this block, not code.
    """

    kind: str = Field(description="result kind the API answers, e.g. road, hamlet")
    label: Text = Field(description="what a result of this kind is called on the site")
    names: tuple[str, ...] = Field(min_length=1, description="text fields whose values are searched")
    detail: str | None = Field(default=None, description="a field whose value is shown beside the name")
    commune: str | None = Field(default=None, description="field with the commune code: places per commune")
    order: int = Field(default=50, ge=0, le=999, description="among equally good hits, lower kinds list first")
    unit_words: tuple[str, ...] = Field(
        default=(), description='words a name may start with that people leave out ("Thôn Đông" found as "Đông")'
    )

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if not _KIND.match(v):
            raise ValueError(f"search kind {v!r} must be a short camelCase word")
        if v in BUILTIN_SEARCH_KINDS:
            raise ValueError(f"search kind {v!r} is the search's own ({', '.join(BUILTIN_SEARCH_KINDS)})")
        return v

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for f in (*self.names, self.detail, self.commune) if f)


class Layer(Strict):
    id: str
    title: Text
    description: Text
    theme: Theme
    kind: Literal["vector", "raster", "table"] = "vector"
    geometry: GeometryType | None = None
    storage_crs: str = Field(default="province", description="'province' (its VN-2000 TM-3 zone) or EPSG:nnnn")
    fields: tuple[LayerField, ...] = ()
    key: tuple[str, ...] = ()
    versioned: bool = False
    partition: str | None = Field(
        default=None,
        description="field a delivery is partitioned by (e.g. maXa): a load replaces only the "
        "partitions it contains and keeps the others",
    )
    time_field: str | None = None
    parent: str | None = Field(default=None, description="layer this table belongs to")
    rules: Rules = Rules()
    style: Style = Style()
    tiles: Tiles | None = None
    raster: Raster | None = None
    alert: Alert | None = None
    cad_profiles: dict[str, CadProfile] = Field(
        default_factory=dict, description="named ways a CAD drawing delivers this layer (`bando load --profile`)"
    )
    search: Search | None = Field(default=None, description="what the public name search finds in this layer")
    metadata: Metadata

    @field_validator("id")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not _IDENT.match(v):
            raise ValueError(f"{v!r} must be lower-case letters, digits and _")
        return v

    @field_validator("storage_crs")
    @classmethod
    def _crs(cls, v: str) -> str:
        if v != "province" and not re.match(r"^EPSG:\d{4,5}$", v):
            raise ValueError(f"{v!r} must be 'province' or EPSG:<code>")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Layer:
        names = [f.name for f in self.fields]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"fields repeated: {sorted(dupes)}")
        aliases = [a for f in self.fields for a in {x.lower() for x in (f.name, *f.aliases)}]
        clash = {a for a in aliases if aliases.count(a) > 1}
        if clash:
            raise ValueError(f"aliases map to more than one field: {sorted(clash)}")
        refs = [*self.key, self.time_field, self.rules.area_field, self.style.by, self.partition]
        refs += [*self.style.label_fields]
        refs += [*(self.tiles.properties or ())] if self.tiles else []
        refs += [self.alert.field, self.alert.by] if self.alert else []
        for ref in filter(None, refs):
            if ref not in names:
                raise ValueError(f"{ref!r} is referred to but is not a field of this layer")
        if self.kind == "vector" and self.geometry is None:
            raise ValueError("a vector layer needs a geometry type")
        if self.kind != "vector" and self.geometry is not None:
            raise ValueError(f"a {self.kind} layer has no geometry type")
        if self.partition and self.versioned:
            raise ValueError("a layer is either versioned or partitioned, not both")
        if self.kind == "raster" and self.raster is None:
            raise ValueError("a raster layer needs a 'raster' section")
        for name in self.style.label_fields:
            if not self.field(name).public:
                raise ValueError(f"label field {name!r} is not public: labels are drawn on public maps")
        for pname, profile in self.cad_profiles.items():
            unknown = [f for f in profile.fields if f not in names]
            if unknown:
                raise ValueError(f"CAD profile {pname!r} names fields this layer lacks: {unknown}")
            if profile.build == "lines" and self.geometry not in ("LineString", "MultiLineString"):
                raise ValueError(f"CAD profile {pname!r} builds lines but the layer is {self.geometry}")
            if profile.build != "lines" and self.geometry not in ("Polygon", "MultiPolygon"):
                raise ValueError(f"CAD profile {pname!r} builds polygons but the layer is {self.geometry}")
        if self.search:
            self._check_search(self.search, names)
        for name in self.key:
            if not self.field(name).required:
                raise ValueError(f"key field {name!r} must be required")
        if self.monthly:
            self._check_monthly()
        return self

    def _check_search(self, search: Search, names: list[str]) -> None:
        if self.kind != "vector":
            raise ValueError("search: only a vector layer can be searched (a hit carries its extent)")
        for name in search.fields:
            if name not in names:
                raise ValueError(f"search: {name!r} is not a field of this layer")
            if not self.field(name).public:
                raise ValueError(f"search: field {name!r} is not public, and the search is")
        for name in search.names:
            if self.field(name).type != "text":
                raise ValueError(f"search: name field {name!r} must be text")

    def _check_monthly(self) -> None:
        """Readings are stored partitioned by month on the time field: PostgreSQL needs it in every
        unique key and in every row, and a table has one way of being partitioned."""
        assert self.time_field
        time = self.field(self.time_field)
        if time.type != "datetime" or not time.required:
            raise ValueError(f"the time field {time.name!r} of a layer of readings must be a required datetime")
        if self.key and time.name not in self.key:
            raise ValueError(f"the key of a layer of readings must contain its time field {time.name!r}")
        if self.versioned or self.partition:
            raise ValueError("a layer of readings is partitioned by month: it cannot be versioned or partitioned")

    @property
    def monthly(self) -> bool:
        """A layer of readings (a time series with alert thresholds): stored partitioned by month."""
        return self.alert is not None and bool(self.time_field)

    def field(self, name: str) -> LayerField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def public_fields(self) -> tuple[LayerField, ...]:
        return tuple(f for f in self.fields if f.public)

    @property
    def table(self) -> str:
        return self.id
