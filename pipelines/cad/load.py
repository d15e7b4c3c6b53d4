"""The load's hook for drawings: open through the profile, record every defect, refuse if any.

A drawing with a gap, a stray or a missing label would publish wrong parcels (two
merged into one, one missing), so any defect refuses the whole file; each is written
to the rejects table with its rule and location first, for the steward to fix.
"""

from __future__ import annotations

from pathlib import Path

import shapely

from bando.errors import LoadRefused
from bando.layers.model import Layer
from bando.pipelines.cad import CAD_SUFFIXES
from bando.pipelines.cad.source import open_cad
from bando.pipelines.lineage import Lineage
from bando.pipelines.normalise import Issue
from bando.pipelines.report import LoadResult, Tally
from bando.pipelines.sources import Source, SourceSpec


def is_drawing(path: Path) -> bool:
    return path.suffix.lower() in CAD_SUFFIXES


def open_drawing(layer: Layer, spec: SourceSpec, profile: str | None, lineage: Lineage, result: LoadResult) -> Source:
    cad = open_cad(layer, spec, profile)
    if not cad.defects:
        return cad.source
    issues = [Issue(n, d.rule, "error", d.reason) for n, d in enumerate(cad.defects)]
    wkt = {n: shapely.to_wkt(d.where, rounding_precision=3) for n, d in enumerate(cad.defects)}
    lineage.write_rejects(issues, {}, wkt)
    tally = Tally()
    tally.add(issues)
    result.rules = tally.summaries()
    counts = ", ".join(f"{s.rule} × {s.count}" for s in result.rules)
    raise LoadRefused(
        f"{spec.path.name}: {len(issues)} drawing defect(s) ({counts}); nothing was published. "
        f"See `bando rejects {layer.id}` for where each is, and fix the drawing."
    )
