"""A drawing as a load source: the profile applied, the features as one Arrow table.

The result is an ordinary :class:`~bando.pipelines.sources.Source` whose rows are
already built, so the rest of the load (field mapping, validation, COPY, publish) is
the one every other format goes through. Drawing defects come back beside it, with a
location each, for the load to record and refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import shapely

from bando.crs import parse_crs
from bando.errors import BadInput
from bando.layers.model import CadProfile, Layer
from bando.pipelines.cad.build import Defect, build
from bando.pipelines.cad.drawing import read_dgn, read_dxf
from bando.pipelines.cad.formats import sniff
from bando.pipelines.sources import FileRefused, Source, SourceSpec


@dataclass
class CadSource:
    source: Source
    defects: list[Defect]


def profile_of(layer: Layer, name: str | None) -> CadProfile:
    """The layer's CAD profile by name; a drawing without one is refused with the names there are."""
    have = ", ".join(layer.cad_profiles) or "none"
    if name is None:
        raise BadInput(f"a CAD drawing needs a profile for layer {layer.id!r}: --profile NAME (it has: {have})")
    if name not in layer.cad_profiles:
        raise BadInput(f"layer {layer.id!r} has no CAD profile {name!r} (it has: {have})")
    return layer.cad_profiles[name]


def open_cad(layer: Layer, spec: SourceSpec, profile_name: str | None) -> CadSource:
    path = spec.path
    if not path.is_file():
        raise FileRefused("file.not_found", f"{path} does not exist")
    kind = sniff(path)  # refuses DWG and DGN v8 before anything else
    profile = profile_of(layer, profile_name)
    if (kind == "dgn7") != (profile.format == "dgn"):
        raise FileRefused("cad.wrong_format", f"{path.name} is not a {profile.format.upper()} drawing")
    constants = _from_file_name(path.name, profile)
    if spec.crs is None:
        raise FileRefused(
            "crs.missing", f"{path.name}: a CAD drawing declares no coordinate reference system; say which with --crs"
        )
    drawing = read_dgn(path) if kind == "dgn7" else read_dxf(path)
    built = build(drawing, profile)
    fields = list(dict.fromkeys([*constants, *profile.labels.fields]))
    columns = {f: [_value(constants.get(f, rec.get(f))) for rec in built.records] for f in fields}
    table = pa.table(
        {
            **{f: pa.array(v, type=pa.string()) for f, v in columns.items()},
            "wkb_geometry": pa.array(shapely.to_wkb(built.geometries).tolist(), type=pa.binary()),
        }
    )
    source = Source(
        spec=spec,
        driver=kind.upper(),
        layer=None,
        crs=parse_crs(spec.crs),
        crs_origin="declared",
        feature_count=table.num_rows,
        columns=fields,
        geometry_type="MultiLineString" if profile.build == "lines" else "MultiPolygon",
        read_encoding=None,
        prebuilt=table,
    )
    return CadSource(source, built.defects)


def _from_file_name(name: str, profile: CadProfile) -> dict[str, str]:
    if profile.file_name is None:
        return {}
    m = re.search(profile.file_name, name)
    if m is None:
        raise FileRefused(
            "cad.file_name",
            f"{name} does not match the profile's file name pattern {profile.file_name!r}, which gives "
            f"{', '.join(re.compile(profile.file_name).groupindex)}; rename the file",
        )
    return {k: v for k, v in m.groupdict().items() if v is not None}


def _value(value: str | None) -> str | None:
    return value.strip() if value is not None else None
