"""Adaptation 2 of the seam: a small, explicit override of two pygeoapi CRS helpers.

Measured in pygeoapi 0.24: ``pygeoapi.crs.get_crs`` builds a new ``pyproj.CRS`` from
a URI on every call and ``transform_bbox`` builds a new ``Transformer`` too — about
20–45 ms of every ``bbox`` request. This module replaces them with versions that
(1) cache CRS objects and transformers, and (2) transform VN-2000 with the pinned
EPSG:6960 parameters (:mod:`bando.crs`) instead of PROJ's automatic choice.
Everything else in pygeoapi is untouched; the package checks the pygeoapi version.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pygeoapi.api.itemtypes as itemtypes
import pygeoapi.crs as pcrs
import pygeoapi.provider.base as pbase
import pyproj

from bando import crs as bando_crs

_original_get_crs = pcrs.get_crs
_installed = False


@lru_cache(maxsize=256)
def _get_crs_cached(uri: str) -> pyproj.CRS:
    return _original_get_crs(uri)


def get_crs(crs: str | pyproj.CRS) -> pyproj.CRS:
    return _get_crs_cached(crs) if isinstance(crs, str) else _original_get_crs(crs)


@lru_cache(maxsize=256)
def _bbox_transformer(from_uri: str, to_uri: str):
    src, dst = _get_crs_cached(from_uri), _get_crs_cached(to_uri)
    # pygeoapi hands bboxes over in each CRS's own axis order (always_xy=False).
    return pyproj.Transformer.from_crs(bando_crs.pinned(src), bando_crs.pinned(dst), always_xy=False), dst.to_epsg()


def transform_bbox(bbox: list, from_crs: str | pyproj.CRS, to_crs: str | pyproj.CRS, always_xy: bool = False) -> list:
    """Same contract as ``pygeoapi.crs.transform_bbox``, cached and VN-2000-pinned."""
    if not isinstance(from_crs, str) or not isinstance(to_crs, str) or always_xy:
        return _original_transform_bbox(bbox, from_crs, to_crs, always_xy)
    if any(not math.isfinite(b) or abs(b) > 1e9 for b in bbox):
        # transform_bounds would drop the unplaceable corners and return a finite box of garbage:
        # hand the provider a box it refuses ("bbox must be four finite numbers")
        return [math.nan] * len(bbox)
    transformer, to_epsg = _bbox_transformer(from_crs, to_crs)
    if to_epsg == 3857:
        bbox = [bbox[0], max(-85.0511, bbox[1]), bbox[2], min(85.0511, bbox[3])]
    if len(bbox) == 4:
        # The densified edges, not just two corners: the TM-3 grid is turned against the
        # lon/lat one, so a corner-only box would miss strips along two edges.
        return list(transformer.transform_bounds(*bbox, densify_pts=21))
    n = len(bbox) // 2
    return list(transformer.transform(*bbox[:n]) + transformer.transform(*bbox[n:]))


_original_transform_bbox = pcrs.transform_bbox


def install() -> None:
    """Replace the helpers where pygeoapi looks them up; safe to call again."""
    global _installed
    if _installed:
        return
    pcrs.get_crs = get_crs
    pbase.get_crs = get_crs
    pcrs.transform_bbox = transform_bbox
    itemtypes.transform_bbox = transform_bbox
    _installed = True
