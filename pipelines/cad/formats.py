"""Which CAD files bando can read, recognised from their first bytes, not their names.

Debian's GDAL reads DGN v7 and DXF. DGN v8 (an OLE2 compound file) and DWG need the
proprietary RealDWG/Teigha SDKs, so such files are refused with one line that names
the file's version and the export to ask the surveyor for.
"""

from __future__ import annotations

from pathlib import Path

from bando.pipelines.sources import FileRefused

OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")
#: DWG's version string (the first six bytes) → the AutoCAD release that writes it.
DWG_RELEASES = {
    "AC1009": "AutoCAD R11/R12",
    "AC1012": "AutoCAD R13",
    "AC1014": "AutoCAD R14",
    "AC1015": "AutoCAD 2000",
    "AC1018": "AutoCAD 2004",
    "AC1021": "AutoCAD 2007",
    "AC1024": "AutoCAD 2010",
    "AC1027": "AutoCAD 2013",
    "AC1032": "AutoCAD 2018",
}
EXPORT_HINT = "ask for the drawing as DGN v7 or DXF"


def sniff(path: Path) -> str:
    """'dgn7' or 'dxf' for a readable drawing; refuses DWG, DGN v8 and what is neither."""
    with path.open("rb") as fh:
        head = fh.read(16)
    name = path.name
    if head[:4] == b"AC10" or head[:4] == b"AC1.":
        version = head[:6].decode("ascii", errors="replace")
        release = DWG_RELEASES.get(version, "an AutoCAD release")
        raise FileRefused(
            "file.dwg",
            f"{name} is an AutoCAD DWG drawing ({version}, {release}), which bando cannot read: "
            f"{EXPORT_HINT} (AutoCAD: SAVEAS → AutoCAD DXF)",
        )
    if head[:8] == OLE2:
        raise FileRefused(
            "file.dgn_v8",
            f"{name} is a MicroStation DGN V8 file, which bando cannot read: "
            f"{EXPORT_HINT} (MicroStation: File → Save As → MicroStation V7 DGN)",
        )
    if len(head) >= 4 and head[0] in (0x08, 0xC8) and head[1:4] == b"\x09\xfe\x02":
        return "dgn7"
    if path.suffix.lower() == ".dxf":
        return "dxf"
    raise FileRefused("file.corrupt", f"{name} is neither a DGN v7 nor a DXF drawing (unknown header)")
