"""OGC API Coverages for raster layers: the COG the pipeline registered in ``bando.rasters``.

The file path comes only from ``bando.rasters`` (never from a request), so no request
can name a file. Each request reads one window of band 1 with rasterio; its size is
checked against the catalogue's ``raster.max_pixels`` *before* anything is read, so
an oversized request is a 400 that names the limit, never a memory blow-up. The grid
of a published file (transform, size, data type, nodata) is read once per load
(keyed by lineage id) and kept for the process.

Requests: ``bbox`` (``bbox-crs`` CRS84 by default, transformed with the pinned
VN-2000 definition of :mod:`bando.crs`), ``subset=x(a:b),y(c:d)`` in the storage
CRS (or by the CRS's own axis names, ``E(a:b),N(c:d)``), ``f=GTiff`` (GeoTIFF in the storage CRS) or ``f=json`` (CoverageJSON, smaller
limit). pygeoapi 0.24 passes neither ``scale-size`` nor ``scale-factor`` to a
provider, so they are not offered.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import psycopg
import rasterio
from affine import Affine
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError
from pyproj import CRS, Transformer
from rasterio.crs import CRS as RioCRS
from rasterio.errors import RasterioIOError
from rasterio.io import MemoryFile
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from bando.api_config.config import crs_list
from bando.api_config.pygeoapi_seam.handlers import to_provider_error
from bando.api_config.runtime import get_runtime
from bando.crs import CRS84_URI, epsg_uri, parse_crs, transformer
from bando.errors import BadInput, BandoError, NotFound, Unavailable

LOG = logging.getLogger("bando.api")
COVJSON_MAX_CELLS = 500_000  # CoverageJSON lists every value as JSON text: keep it well below max_pixels
AXES = ("x", "y")
_grids: dict[tuple[str, int], Grid] = {}
_grids_lock = threading.Lock()


class FileGone(Unavailable):
    """The registered file cannot be opened: republished meanwhile (retry once) or lost."""


@dataclass(frozen=True)
class Registration:
    """One row of ``bando.rasters``: what the pipeline published."""

    path: str
    srid: int
    lineage_id: int


@dataclass(frozen=True)
class Grid:
    """The published file's grid, read once per load."""

    transform: Affine
    width: int
    height: int
    dtype: str
    nodata: float | None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        x0, y1 = self.transform @ (0, 0)
        x1, y0 = self.transform @ (self.width, self.height)
        return x0, y0, x1, y1


@lru_cache(maxsize=64)
def _parsed(uri: str) -> CRS:
    return parse_crs(uri)


@lru_cache(maxsize=64)
def _to_storage(uri: str, srid: int) -> Transformer:
    return transformer(_parsed(uri), srid)


class BandoCoverageProvider(BaseProvider):
    """pygeoapi ``coverage`` provider; construction only looks things up (it runs per request)."""

    _fields: dict[str, Any]  # filled by get_fields(); pygeoapi declares it untyped

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        runtime = get_runtime()
        layer_id = str(provider_def["data"]["layer"])
        layer = runtime.catalogue.layers.get(layer_id)
        if layer is None or layer.raster is None:
            raise ProviderItemNotFoundError(user_msg=f"no raster layer {layer_id[:60]!r} in the catalogue")
        self.layer = layer
        self.raster = layer.raster
        self.view = str(provider_def["data"].get("view", "public"))
        self.srid = runtime.srid(layer)
        self.crs = epsg_uri(self.srid)
        self.axes = [*AXES, *axis_names(self.srid)]
        self.num_bands = 1
        self.native_format = provider_def["format"]["name"]
        self.get_fields()

    def get_fields(self) -> dict[str, dict[str, Any]]:
        if not self._fields:
            self._fields = {
                self.layer.id: {"title": self.raster.band_title.vi, "type": "number", "x-ogc-unit": self.raster.unit}
            }
        return self._fields

    # -- what is published -----------------------------------------------------------

    def registration(self) -> Registration:
        try:
            with get_runtime().connection(self.view) as conn:
                row = conn.execute(
                    "select path, srid, lineage_id from bando.rasters where layer = %s and version_id = 'current'",
                    (self.layer.id,),
                ).fetchone()
        except psycopg.Error as exc:
            LOG.warning("coverage %s: could not read bando.rasters: %s", self.layer.id, type(exc).__name__)
            raise Unavailable() from None
        if row is None:
            raise NotFound(
                f"the raster layer {self.layer.id!r} has not been published yet, so there is no coverage"
                f" to serve; a data steward publishes it with 'bando load {self.layer.id} FILE.tif'"
            )
        return Registration(row[0], int(row[1]), int(row[2]))

    def grid(self, reg: Registration) -> Grid:
        key = (self.layer.id, reg.lineage_id)
        with _grids_lock:
            cached = _grids.get(key)
        if cached is not None:
            return cached
        try:
            with rasterio.open(reg.path) as src:
                grid = Grid(src.transform, src.width, src.height, src.dtypes[0], src.nodata)
        except (RasterioIOError, OSError):
            LOG.error(
                "coverage %s: the registered file %s (load #%s) cannot be read", self.layer.id, reg.path, reg.lineage_id
            )
            raise FileGone(
                f"the raster of {self.layer.id!r} cannot be read on the server; "
                "ask the data steward to publish it again"
            ) from None
        with _grids_lock:
            for old in [k for k in _grids if k[0] == self.layer.id]:
                del _grids[old]  # one load per layer is current; forget the replaced ones
            _grids[key] = grid
        return grid

    @property
    def _coverage_properties(self) -> dict[str, Any]:
        """What pygeoapi shows in the collection description; never fails (the layer may be unpublished)."""
        props: dict[str, Any] = {
            "bbox_crs": self.crs,
            "crs_type": "ProjectedCRS",
            "axes": self.axes,
            "x_axis_label": "x",
            "y_axis_label": "y",
            "num_bands": 1,
            "width": 0,
            "height": 0,
            "resx": None,
            "resy": None,
        }
        try:
            grid = self.grid(self.registration())
        except BandoError:
            return props
        props |= {
            "width": grid.width,
            "height": grid.height,
            "resx": grid.transform.a,
            "resy": abs(grid.transform.e),
            "bbox": list(grid.bounds),
        }
        return props

    # -- the request -------------------------------------------------------------------

    def query(
        self,
        properties: list | None = None,
        subsets: dict | None = None,
        bbox: list | None = None,
        bbox_crs: str | None = None,
        datetime_: str | None = None,
        format_: str = "json",
        **kwargs: Any,
    ) -> bytes | dict[str, Any]:
        try:
            covjson = format_ != self.native_format
            if covjson and format_ not in ("json", "html"):
                raise BadInput(f"format {str(format_)[:20]!r} is not offered; use f={self.native_format} or f=json")
            for attempt in (1, 2):  # a load may replace the file between the lookup and the read
                reg = self.registration()
                try:
                    grid = self.grid(reg)
                    window = self._window(grid, reg.srid, bbox or [], bbox_crs, subsets or {})
                    self._check_size(window, covjson)
                    data = self._read(reg, grid, window)
                    break
                except FileGone:
                    if attempt == 2 or self.registration().lineage_id == reg.lineage_id:
                        raise
        except BandoError as exc:
            raise to_provider_error(exc) from None
        transform = window_transform(window, grid.transform)
        if covjson:
            return self._coverage_json(data, transform, grid, reg.srid)
        return self._geotiff(data, transform, grid, reg.srid)

    def _window(self, grid: Grid, srid: int, bbox: list, bbox_crs: str | None, subsets: dict) -> Window:
        if bbox_crs is not None and not bbox:
            raise BadInput("bbox-crs was given without bbox")
        if bbox and subsets:
            raise BadInput("bbox and subset on x/y cannot be combined; use one of them")
        x0, y0, x1, y1 = grid.bounds
        if bbox:
            x0, y0, x1, y1 = storage_bbox(bbox, bbox_crs or CRS84_URI, srid)
        for axis, values in subsets.items():
            name, lo, hi = _interval(axis, values, srid)
            if name == "x":
                x0, x1 = lo, hi
            else:
                y0, y1 = lo, hi
        inv = ~grid.transform
        (ca, ra), (cb, rb) = inv @ (x0, y0), inv @ (x1, y1)
        cols, rows = _span(min(ca, cb), max(ca, cb), grid.width), _span(min(ra, rb), max(ra, rb), grid.height)
        if cols is None or rows is None:
            gx0, gy0, gx1, gy1 = (round(v, 1) for v in grid.bounds)
            raise BadInput(
                f"the requested area does not overlap the coverage, whose extent in EPSG:{srid} is"
                f" {gx0},{gy0},{gx1},{gy1}"
            )
        return Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])

    def _check_size(self, window: Window, covjson: bool) -> None:
        limit = min(self.raster.max_pixels, COVJSON_MAX_CELLS) if covjson else self.raster.max_pixels
        cells = int(window.width) * int(window.height)
        if cells > limit:
            hint = " or ask for f=GTiff" if covjson and limit < self.raster.max_pixels else ""
            what = "per CoverageJSON request" if covjson else "per request"
            raise BadInput(
                f"the request covers {int(window.width)} × {int(window.height)} = {cells:,} pixels;"
                f" this coverage serves at most {limit:,} pixels {what}"
                f" — narrow it with bbox or subset{hint}"
            )

    def _read(self, reg: Registration, grid: Grid, window: Window) -> np.ndarray:
        try:
            with rasterio.open(reg.path) as src:
                return src.read(1, window=window)
        except (RasterioIOError, OSError):
            LOG.error("coverage %s: reading %s (load #%s) failed", self.layer.id, reg.path, reg.lineage_id)
            raise FileGone(f"the raster of {self.layer.id!r} could not be read; try again shortly") from None

    def _nodata(self, grid: Grid) -> float | None:
        return self.raster.nodata if self.raster.nodata is not None else grid.nodata

    def _geotiff(self, data: np.ndarray, transform: Affine, grid: Grid, srid: int) -> bytes:
        height, width = data.shape
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": 1,
            "dtype": grid.dtype,
            "crs": RioCRS.from_epsg(srid),
            "transform": transform,
            "nodata": self._nodata(grid),
            "compress": "deflate",
        }
        if width > 256 and height > 256:
            profile |= {"tiled": True, "blockxsize": 256, "blockysize": 256}
        with MemoryFile() as memfile:
            with memfile.open(**profile) as dst:
                dst.write(data, 1)
                dst.set_band_description(1, self.raster.band_title.en)
                dst.set_band_unit(1, self.raster.unit)
                dst.update_tags(1, title_vi=self.raster.band_title.vi, title_en=self.raster.band_title.en)
                dst.update_tags(layer=self.layer.id)
            return memfile.read()

    def _coverage_json(self, data: np.ndarray, transform: Affine, grid: Grid, srid: int) -> dict[str, Any]:
        height, width = data.shape
        values = data.astype("float64")
        nodata = self._nodata(grid)
        missing = np.isnan(values) if nodata is None else (np.isnan(values) | (values == nodata))
        flat = [None if m else v for v, m in zip(values.ravel().tolist(), missing.ravel().tolist())]
        x_start, y_start = transform @ (0.5, 0.5)
        x_stop, y_stop = transform @ (width - 0.5, height - 0.5)
        key = self.layer.id
        title = {"vi": self.raster.band_title.vi, "en": self.raster.band_title.en}
        return {
            "type": "Coverage",
            "domain": {
                "type": "Domain",
                "domainType": "Grid",
                "axes": {
                    "x": {"start": x_start, "stop": x_stop, "num": width},
                    "y": {"start": y_start, "stop": y_stop, "num": height},
                },
                "referencing": [{"coordinates": ["x", "y"], "system": {"type": "ProjectedCRS", "id": epsg_uri(srid)}}],
            },
            "parameters": {
                key: {
                    "type": "Parameter",
                    "description": title,
                    "unit": {"symbol": self.raster.unit, "label": {"en": self.raster.unit}},
                    "observedProperty": {"id": key, "label": title},
                }
            },
            "ranges": {
                key: {
                    "type": "NdArray",
                    "dataType": "float",
                    "axisNames": ["y", "x"],
                    "shape": [height, width],
                    "values": flat,
                }
            },
        }


def storage_bbox(bbox: list, bbox_crs: str, srid: int) -> tuple[float, float, float, float]:
    """A request bbox (in ``bbox_crs`` and its axis order) as minx, miny, maxx, maxy in the storage CRS."""
    if len(bbox) == 6:
        bbox = [bbox[0], bbox[1], bbox[3], bbox[4]]
    if len(bbox) != 4 or not all(isinstance(b, (int, float)) and math.isfinite(b) for b in bbox):
        raise BadInput("bbox must be four finite numbers: minx,miny,maxx,maxy")
    supported = crs_list(srid)
    if bbox_crs not in supported:
        raise BadInput(f"bbox-crs {bbox_crs[:80]!r} is not supported here; use one of: {', '.join(supported)}")
    crs = _parsed(bbox_crs)
    if crs.axis_info and crs.axis_info[0].direction in ("north", "south"):
        bbox = [bbox[1], bbox[0], bbox[3], bbox[2]]  # e.g. EPSG:4326 is latitude first
    x0, y0, x1, y1 = bbox
    if x0 >= x1 or y0 >= y1:
        raise BadInput("bbox must be minx,miny,maxx,maxy with minx below maxx and miny below maxy")
    if crs.is_geographic and (x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90):
        raise BadInput("bbox is outside the range of longitude (-180..180) and latitude (-90..90)")
    if crs.to_epsg() == srid:
        return x0, y0, x1, y1
    out = _to_storage(bbox_crs, srid).transform_bounds(x0, y0, x1, y1, densify_pts=21)
    if not all(math.isfinite(v) for v in out):
        raise BadInput("bbox cannot be expressed in the coverage's CRS; is it in the right CRS and axis order?")
    return out


def _span(lo: float, hi: float, size: int) -> tuple[int, int] | None:
    """Whole pixels [a, b) covering fractional pixel coordinates lo..hi, clipped to 0..size; None if outside."""
    if hi < 0 or lo > size or (lo < hi and (hi <= 0 or lo >= size)):
        return None
    a = min(max(0, math.floor(lo + 1e-9)), size - 1)
    return a, min(size, max(math.ceil(hi - 1e-9), a + 1))


@lru_cache(maxsize=16)
def axis_names(srid: int) -> tuple[str, ...]:
    """The storage CRS's own axis abbreviations (``E``, ``N`` for VN-2000 / TM-3), in its order:
    ``subset`` takes them as it takes ``x`` and ``y``, since a client reads them off the CRS."""
    return tuple(a.abbrev for a in CRS.from_epsg(srid).axis_info)


def _interval(axis: str, values: list, srid: int) -> tuple[str, float, float]:
    """(``x`` or ``y``, low, high) of one subset axis, named either way."""
    names = axis_names(srid)
    if axis in names[:2]:
        axis = AXES[names.index(axis)]
    if axis not in AXES:
        raise BadInput(f"unknown axis {axis[:20]!r}; the axes are {', '.join([*AXES, *names])}")
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if len(nums) != len(values) or len(nums) not in (1, 2):
        raise BadInput(f"subset on {axis} needs one number or an interval low:high in the coverage's CRS")
    lo, hi = nums[0], nums[-1]
    if lo > hi:
        raise BadInput(f"subset on {axis}: low ({lo}) is greater than high ({hi})")
    return axis, float(lo), float(hi)
