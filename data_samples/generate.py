#!/usr/bin/env python
"""Generate bando's sample data for one province, deterministically from a seed.

    python data_samples/generate.py                       # the committed samples
    python data_samples/generate.py --seed 7 --out /tmp/s # another draw elsewhere
    python data_samples/generate.py --parcels 1000000 --out /tmp/big   # scale test

    python data_samples/generate.py --province tay_ninh   # the merged southern province
    python data_samples/generate.py --parcels 1000000 --clean-grid --out /tmp/grid
                                                          # a topologically clean grid only

`--out` is a root folder: the province's files go to ``OUT/<province>/``; the
manifest goes to ``OUT/manifest.yml`` for Hưng Yên and to ``OUT/<province>/manifest.yml``
for the others (paths in it are relative to it). Above
SCALE_THRESHOLD parcels only the parcels are written (in chunks, so memory stays
flat), unless `--datasets` asks for more. See data_samples/README.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bando.data_samples.gen import grid
from bando.data_samples.gen.geometry import build_layout, commune_side
from bando.data_samples.gen.parcels import TARGET_PER_COMMUNE, commune_parcels, parcels_frame
from bando.data_samples.gen.province import PROVINCES
from bando.data_samples.gen.writers import remove_dataset, write_gpkg

DEFAULT_SEED = 20250701  # the day the two-level administration took effect
DEFAULT_PARCELS = PROVINCES["hung_yen"].default_parcels  # 5 000
SCALE_THRESHOLD = 50_000  # above this, only parcels unless asked
CHUNK_ROWS = 100_000  # parcels per GeoPackage append in scale mode
ALL_DATASETS = (
    "communes",
    "hamlets",
    "parcels",
    "parcels_tcvn3",
    "land_use_status",
    "land_use_plan",
    "construction_plan",
    "infrastructure",
    "ioc",
    "flood_depth",
    "dirty",
    "formats",
    "manifest",
)

Log = Callable[[str], None]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def generate(
    out_root: Path | str,
    seed: int = DEFAULT_SEED,
    parcels: int | None = None,
    province: str = "hung_yen",
    datasets: Iterable[str] | None = None,
    log: Log = _log,
    clean_grid: bool = False,
) -> dict[str, object]:
    """Write the sample datasets under `out_root` and return a small summary.

    Deterministic: the same (seed, parcels, province) gives the same features and
    attributes, whatever else is requested (each dataset draws from its own
    random stream, see gen/rng.py). `parcels` defaults to the province's
    `default_parcels` (5 000 for Hưng Yên; 1 500 for Tây Ninh, which draws ~1 750).
    """
    t0 = time.perf_counter()
    if province not in PROVINCES:
        raise ValueError(f"unknown province {province!r}: one of {', '.join(sorted(PROVINCES))}")
    prov = PROVINCES[province]
    parcels = prov.default_parcels if parcels is None else parcels
    out_root = Path(out_root)
    out = out_root / prov.slug
    out.mkdir(parents=True, exist_ok=True)
    if datasets is None:
        datasets = (prov.datasets or ALL_DATASETS) if parcels <= SCALE_THRESHOLD else ("parcels",)
    wanted = set(datasets)
    unknown = wanted - set(ALL_DATASETS)
    if unknown:
        raise ValueError(f"unknown datasets: {', '.join(sorted(unknown))}")
    full = wanted - {"parcels"} != set()

    n_communes = max(len(prov.communes), math.ceil(parcels / TARGET_PER_COMMUNE))
    side = commune_side(parcels / n_communes)
    layout = build_layout(seed, prov, n_communes, side)
    deliveries = prov.deliveries
    files = ", ".join(f"{d.filename} EPSG:{d.epsg}" for d in deliveries) if len(deliveries) > 1 else ""
    log(
        f"[bando samples] {prov.name}: seed {seed}, {n_communes} communes of ~{side / 1000:.2f} km, "
        f"EPSG:{prov.epsg}{f' (parcels: {files})' if files else ''}, output {out}"
    )
    summary: dict[str, object] = {"seed": seed, "province": prov.name, "communes": n_communes, "side_m": side}
    if clean_grid:  # parcels sharing their vertices exactly (gen/grid.py), nothing else
        summary["parcels"] = grid.write(seed, layout, parcels, out / "parcels_grid.gpkg", prov.epsg, log)
        return summary

    # --- parcels: generated commune by commune, written in chunks, one file per
    # delivery (a merged province: one per former province, each in its own TM-3 zone)
    communes_data = []
    written = 0
    if "parcels" in wanted or full:
        if "parcels" in wanted:
            for d in deliveries:
                remove_dataset(out / d.filename)
        batch: dict[str, list] = {d.filename: [] for d in deliveries}
        rows = dict.fromkeys(batch, 0)
        started: set[str] = set()
        last = {prov.delivery_for(c.spec).filename: i for i, c in enumerate(layout.communes)}
        for i, cell in enumerate(layout.communes):
            cp = commune_parcels(seed, layout, cell, want_network=full)
            if full:
                communes_data.append(cp)
            if "parcels" in wanted:
                d = prov.delivery_for(cell.spec)
                batch[d.filename].append(cp)
                rows[d.filename] += len(cp)
                if rows[d.filename] >= CHUNK_ROWS or i == last[d.filename]:
                    frame = parcels_frame(batch[d.filename], prov.epsg, d.epsg, prov.parcel_grid)
                    write_gpkg(frame, out / d.filename, "thua_dat", append=d.filename in started)
                    written += rows[d.filename]
                    started.add(d.filename)
                    batch[d.filename], rows[d.filename] = [], 0
                    where = f" → {d.filename} (EPSG:{d.epsg})" if len(deliveries) > 1 else ""
                    log(
                        f"  parcels: {written:,} written ({i + 1}/{n_communes} communes, "
                        f"{time.perf_counter() - t0:.0f} s){where}"
                    )
        summary["parcels"] = written or sum(len(c) for c in communes_data)

    if full:
        from bando.data_samples.gen import pipeline

        summary.update(pipeline.write_all(seed, layout, communes_data, out_root, out, wanted, log))

    summary["seconds"] = round(time.perf_counter() - t0, 1)
    log(f"[bando samples] done in {summary['seconds']} s")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="root folder: files go to OUT/<province>/, the manifest to OUT/manifest.yml (default: data_samples/)",
    )
    p.add_argument(
        "--parcels",
        type=int,
        default=None,
        help=f"approximate number of parcels (default: the province's, {DEFAULT_PARCELS} for Hưng Yên, "
        f"{PROVINCES['tay_ninh'].default_parcels} for Tây Ninh); more communes are added "
        f"beyond ~{TARGET_PER_COMMUNE} per commune",
    )
    p.add_argument(
        "--province",
        default="hung_yen",
        choices=sorted({s.slug for s in PROVINCES.values()}),
        help="province spec (data_samples/gen/province.py)",
    )
    p.add_argument(
        "--datasets",
        default=None,
        help=f"comma-separated subset of: {', '.join(ALL_DATASETS)} "
        f"(default: the province's set — all for Hưng Yên, no TCVN3 or dirty files for Tây Ninh — "
        f"or only parcels above {SCALE_THRESHOLD:,} parcels)",
    )
    p.add_argument(
        "--clean-grid",
        action="store_true",
        help="write only OUT/<province>/parcels_grid.gpkg: rectangular parcels sharing their vertices exactly",
    )
    args = p.parse_args(argv)
    if args.parcels is not None and args.parcels < 100:
        p.error("--parcels must be at least 100")
    datasets = [d.strip() for d in args.datasets.split(",")] if args.datasets else None
    try:
        generate(
            args.out,
            seed=args.seed,
            parcels=args.parcels,
            province=args.province,
            datasets=datasets,
            clean_grid=args.clean_grid,
        )
    except ValueError as exc:
        p.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
