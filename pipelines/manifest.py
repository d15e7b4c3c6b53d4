"""``bando load-all``: a delivery manifest says which file feeds which layer, and how."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bando.errors import BadInput
from bando.layers.catalogue import SafeLoader
from bando.pipelines.documents import attach
from bando.pipelines.load import LoadOptions, run_load
from bando.pipelines.publish import Version
from bando.pipelines.report import LoadResult


class VersionBlock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    decision: str | None = None
    decision_date: date | None = None
    authority: str | None = None
    valid_from: date | None = None
    draft: bool = False  # on view for comment, not in force until `bando approve`


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layer: str
    source: Path
    source_layer: str | None = None
    profile: str | None = None
    crs: str | None = None
    encoding: str = "auto"
    x_column: str | None = None
    y_column: str | None = None
    version: VersionBlock | None = None
    documents: list[Path] = []  # of the plan version: decision PDF, explanatory report, drawings
    note: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    province: str | None = None
    deliveries: list[Delivery]


def read_manifest(path: Path) -> Manifest:
    if not path.is_file():
        raise BadInput(f"manifest {path} does not exist")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SafeLoader)
        return Manifest.model_validate(raw)
    except yaml.YAMLError as exc:
        raise BadInput(f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BadInput(f"{path.name}: {where}: {err['msg']}") from None


def run_manifest(
    path: Path, force: bool = False, dry_run: bool = False, on_result: Callable[[LoadResult], None] | None = None
) -> list[LoadResult]:
    manifest = read_manifest(path)
    if manifest.province:
        from bando.province import configured, resolve

        meant, ours = resolve(manifest.province), configured()
        if meant.code != ours.code:
            raise BadInput(
                f"{path.name} is a delivery for {meant.name}, but bando is configured for {ours.name} "
                "(BANDO_PROVINCE / bando.toml); nothing was loaded"
            )
    results = []
    for d in manifest.deliveries:
        version = Version(**d.version.model_dump()) if d.version else None
        opts = LoadOptions(
            crs=d.crs,
            encoding=d.encoding,
            source_layer=d.source_layer,
            profile=d.profile,
            x_column=d.x_column,
            y_column=d.y_column,
            force=force,
            dry_run=dry_run,
            version=version,
        )
        result = run_load(d.layer, (path.parent / d.source).resolve(), opts)
        if d.documents and d.version and not dry_run and result.outcome in ("published", "noop"):
            attach(d.layer, d.version.id, [(path.parent / p).resolve() for p in d.documents])
        if on_result:
            on_result(result)
        results.append(result)
    return results
