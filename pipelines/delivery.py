"""A delivery as it arrives: one file, a folder of files, or a zip of them — one load.

Cadastral data comes commune by commune: a district sends a folder (or a zip) of a
few hundred Shapefiles. Each file is opened on its own (its encoding and CRS are
detected on their own) and all of them stream into one staging table, so the
delivery is published whole or not at all, and its lineage lists every file.
A zip is unpacked into a private temporary folder, within bounds (members, size,
compression ratio, no path outside the folder), and removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from bando.pipelines.sources import VECTOR_SUFFIXES, FileRefused

#: Files that travel beside a data file and are read with it, not on their own.
SIDECARS = {
    ".dbf",
    ".shx",
    ".prj",
    ".cpg",
    ".qpj",
    ".sbn",
    ".sbx",
    ".qix",
    ".xml",
    ".qmd",
    ".aux",
    ".dat",
    ".map",
    ".id",
    ".ind",
    ".mid",
}
MAX_MEMBERS = 20_000
MAX_RATIO = 200  # uncompressed / compressed: beyond it, a zip bomb rather than survey data


def is_bundle(path: Path) -> bool:
    """A folder (not a File Geodatabase) or a zip: many files, one delivery."""
    if path.is_dir():
        return path.suffix.lower() != ".gdb"
    return path.suffix.lower() == ".zip" and path.is_file()


def data_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The files to load in a folder, in name order, and the names it ignores."""
    found: list[Path] = []
    ignored: list[str] = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or any(q.suffix.lower() == ".gdb" for q in rel.parents):
            continue
        suffix = p.suffix.lower()
        if p.is_dir():
            if suffix == ".gdb":
                found.append(p)
        elif suffix in VECTOR_SUFFIXES and suffix != ".gdb":
            found.append(p)
        elif suffix not in SIDECARS:
            ignored.append(str(rel))
    if not found:
        raise FileRefused("file.empty", f"{folder.name} holds no file bando reads (.shp .gpkg .geojson .gdb .csv)")
    return found, ignored


@contextmanager
def unpacked(path: Path, scratch: Path) -> Iterator[Path]:
    """The folder to read a delivery from: the folder itself, or a zip unpacked under ``scratch``."""
    if path.is_dir():
        yield path
        return
    scratch.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="delivery-", dir=scratch))
    try:
        _extract(path, target)
        yield target
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _extract(path: Path, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRefused("file.corrupt", f"{path.name} is not a readable zip ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_MEMBERS:
            raise FileRefused(
                "file.too_large", f"{path.name} holds {len(members)} files; bando reads at most {MAX_MEMBERS}"
            )
        total = sum(m.file_size for m in members)
        packed = max(1, sum(m.compress_size for m in members))
        if total > MAX_RATIO * packed:
            raise FileRefused("file.corrupt", f"{path.name} unpacks to {total / packed:.0f}× its size: refused")
        free = shutil.disk_usage(target).free
        if total > free:
            raise FileRefused("file.too_large", f"{path.name} unpacks to {total >> 20} MB; only {free >> 20} MB free")
        for m in members:
            name = PurePosixPath(m.filename)
            if name.is_absolute() or ".." in name.parts:
                raise FileRefused("file.corrupt", f"{path.name}: member {m.filename[:80]!r} points outside the zip")
            try:
                archive.extract(m, target)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise FileRefused(
                    "file.corrupt", f"{path.name}: {m.filename[:80]} cannot be unpacked ({exc})"
                ) from None
