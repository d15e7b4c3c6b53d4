"""CAD: polygons built from a cadastral drawing's linework, at 100 000 parcels.

    make bench-cad                      # 100 000 parcels
    python -m benchmarks.cad --parcels 20000

The drawing is made once from the generator's parcels (boundaries on level 10, one
label per parcel on level 13, as the DGN sample) and kept under ``benchmarks/out/``.
Each step runs in its own process so its peak RSS is its own:

- ``bando build``: read the DGN (GDAL), snap-round and node the linework, polygonise,
  assign labels and check them — what ``bando load --profile famis`` does before
  validation;
- ``GEOS polygonize only``: shapely's ``polygonize`` on the same lines, already
  noded, with no snapping and no labels: the floor any polygon builder stands on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.common import OUT, Run, parcels_file, table, timed


def drawing(n: int) -> Path:
    path = OUT / f"cad-{n}" / "thua_dat_99999_to01.dgn"
    if path.exists():
        return path
    import pyogrio

    from bando.data_samples.gen.formats import sheet_linework, write_dgn

    print(f"drawing {n:,} parcels into {path} …", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    parcels = pyogrio.read_dataframe(parcels_file(n))
    lines, labels = sheet_linework(parcels)
    write_dgn(path, lines, labels)
    return path


def build_step(path: Path) -> None:
    """Child process: the profile's build on the drawing, with its own timings."""
    from bando.layers.catalogue import load
    from bando.pipelines.cad.build import build
    from bando.pipelines.cad.drawing import read_dgn
    from bando.settings import get_settings

    profile = load(get_settings().layers_dir).get("parcels").cad_profiles["famis"]
    t0 = time.perf_counter()
    elements = read_dgn(path)
    t1 = time.perf_counter()
    built = build(elements, profile)
    t2 = time.perf_counter()
    print(
        f"read {t1 - t0:.1f} s, build {t2 - t1:.1f} s: {len(built.geometries):,} parcels, {len(built.defects)} defects"
    )


def polygonize_step(path: Path) -> None:
    import numpy as np
    import shapely

    from bando.pipelines.cad.drawing import read_dgn

    lines = np.asarray([ln.geometry for ln in read_dgn(path).lines if ln.layer == "10"], dtype=object)
    t0 = time.perf_counter()
    faces = shapely.get_parts(shapely.polygonize(lines))
    print(f"polygonize {time.perf_counter() - t0:.1f} s: {len(faces):,} faces")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parcels", type=int, default=100_000)
    p.add_argument("--step", choices=["build", "polygonize"], help=argparse.SUPPRESS)
    p.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.step:
        (build_step if args.step == "build" else polygonize_step)(args.path)
        return
    path = drawing(args.parcels)
    import pyogrio

    levels = pyogrio.read_dataframe(path, columns=["Level"], read_geometry=False)["Level"]
    n, drawn = len(levels), int((levels == 13).sum())  # one label per parcel
    me = [sys.executable, "-m", "benchmarks.cad", "--path", str(path)]
    runs: list[Run] = []
    for name, step in (("bando build (read+snap+node+label)", "build"), ("GEOS polygonize only", "polygonize")):
        run = timed(name, [*me, "--step", step], drawn)
        runs.append(run)
    print(
        f"\npolygon building from linework: {args.parcels:,} parcels, {n:,} DGN elements ({path.stat().st_size >> 20} MB)"
    )
    print(table(runs, "GEOS polygonize only"))


if __name__ == "__main__":
    main()
