"""Read a drawing's elements: lines, texts and block references, each with its CAD layer.

DGN v7 is read through GDAL (pyogrio): every element is a row with its ``Level`` and,
for text, its ``Text``. DXF is read with ezdxf, which keeps what GDAL flattens away:
a polyline's closed flag and a block reference's attributes by tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from bando.pipelines.sources import FileRefused


@dataclass
class Line:
    geometry: shapely.LineString
    layer: str
    closed: bool  # the CAD entity says so (a closed polyline or a DGN shape)


@dataclass
class Label:
    point: shapely.Point
    layer: str
    text: str | None = None  # a text element
    block: str | None = None  # or a block reference with attributes
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Drawing:
    lines: list[Line] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)


def read_dgn(path: Path) -> Drawing:
    """Lines and shapes become :class:`Line` s, text elements :class:`Label` s, keyed by level number."""
    try:
        df = pyogrio.read_dataframe(path, columns=["Level", "Text"])
    except (DataSourceError, DataLayerError) as exc:
        raise FileRefused("file.corrupt", f"{path.name} cannot be read as DGN v7: {str(exc)[:200]}") from None
    out = Drawing()
    geoms = shapely.force_2d(np.asarray(df.geometry.values))
    for level, text, geom in zip(df["Level"].to_numpy(), df["Text"].to_numpy(), geoms, strict=True):
        if geom is None:
            continue
        layer = str(int(level))
        kind = shapely.get_type_id(geom)
        if kind == 0 and isinstance(text, str):
            out.labels.append(Label(geom, layer, text=text))
        elif kind in (1, 2):
            out.lines.append(Line(geom, layer, closed=bool(geom.is_closed)))
        elif kind == 3:  # a DGN shape: a closed boundary
            out.lines.append(Line(shapely.LineString(geom.exterior.coords), layer, closed=True))
    return out


def read_dxf(path: Path) -> Drawing:
    """LINE, LWPOLYLINE, POLYLINE, TEXT, MTEXT and INSERT (with ATTRIBs) from the model space."""
    import ezdxf
    from ezdxf import recover
    from ezdxf.entities import Insert, LWPolyline, MText, Polyline, Text
    from ezdxf.entities import Line as DxfLine

    try:
        doc, _ = recover.readfile(path)
    except (OSError, ezdxf.DXFError) as exc:
        raise FileRefused("file.corrupt", f"{path.name} cannot be read as DXF: {str(exc)[:200]}") from None
    out = Drawing()
    for e in doc.modelspace():
        layer = str(e.dxf.get("layer", "0"))
        if isinstance(e, DxfLine):
            start, end = e.dxf.start, e.dxf.end
            out.lines.append(Line(shapely.LineString([(start.x, start.y), (end.x, end.y)]), layer, closed=False))
        elif isinstance(e, (LWPolyline, Polyline)):
            if isinstance(e, LWPolyline):
                points, closed = [(p[0], p[1]) for p in e.get_points("xy")], bool(e.closed)
            else:
                points, closed = [(p.x, p.y) for p in e.points()], bool(e.is_closed)
            if len(points) >= 2:
                coords = [*points, points[0]] if closed and points[0] != points[-1] else points
                out.lines.append(Line(shapely.LineString(coords), layer, closed=closed))
        elif isinstance(e, (Text, MText)):
            text = str(e.dxf.text) if isinstance(e, Text) else str(e.plain_text(split=False))
            out.labels.append(Label(shapely.Point(e.dxf.insert.x, e.dxf.insert.y), layer, text=text))
        elif isinstance(e, Insert):
            attributes = {a.dxf.tag: a.dxf.text for a in e.attribs}
            out.labels.append(
                Label(shapely.Point(e.dxf.insert.x, e.dxf.insert.y), layer, block=e.dxf.name, attributes=attributes)
            )
    return out
