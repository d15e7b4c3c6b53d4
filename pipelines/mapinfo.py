"""MapInfo TAB/MIF: the charset the file declares, and the bytes behind GDAL's recoding.

A MapInfo table names its charset in its header (``!charset WindowsLatin1`` in a
``.tab``, ``Charset "WindowsVietnamese"`` in a ``.mif``). GDAL recodes the charsets it
knows to UTF-8 and passes the others (``Neutral``, ``WindowsVietnamese``) through as
bytes. Planning institutes often typed TCVN3 into a "Neutral" or "WindowsLatin1" file,
so bando takes every value back to the file's own bytes and lets its text decoder
decide — honouring a Vietnamese charset the file declares, detecting legacy text in
the others. (GDAL's own ``TCVN5712-1`` recoding drops letters; bando's tables do not.)
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pyarrow as pa

#: MapInfo charsets GDAL recodes to UTF-8 on reading, with the Python codec of their bytes.
GDAL_RECODED = {
    "windowslatin1": "cp1252",
    "windowslatin2": "cp1250",
    "iso8859_1": "latin-1",
    "utf-8": "utf-8",
    "utf8": "utf-8",
}
#: What a declared charset says about the text, for bando's decoder (None: detect).
DECLARED_TEXT = {"windowsvietnamese": "cp1258", "utf-8": "utf-8", "utf8": "utf-8"}
_CHARSET = re.compile(rb'^\s*(?:!charset\s+|.*\bCharset\s+")([A-Za-z0-9_-]+)', re.IGNORECASE | re.MULTILINE)


def declared_charset(path: Path) -> str | None:
    """The charset a .tab or .mif header declares (read from its first 4 kB), or None."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    match = _CHARSET.search(head)
    return match[1].decode("ascii") if match else None


def text_encoding(charset: str | None) -> str:
    """The --encoding the declared charset amounts to ("auto": bando detects, e.g. TCVN3 in "Neutral")."""
    return DECLARED_TEXT.get((charset or "").lower(), "auto")


def as_file_bytes(values: pa.Array, charset: str | None) -> pa.Array:
    """Values read byte-for-byte (latin-1) back to the file's own bytes, undoing GDAL's recoding.

    For a charset GDAL recodes, what arrives is UTF-8 made from the file's bytes; encoding it
    again in the declared codec gives those bytes back exactly.
    """
    codec = GDAL_RECODED.get((charset or "").lower())
    if codec is None:
        return values

    def back(v: str) -> str:
        return v.encode("latin-1").decode("utf-8", errors="replace").encode(codec, errors="replace").decode("latin-1")

    return pa.array([back(v) if v is not None else None for v in values.to_pylist()], type=pa.string())


# GDAL says so for every WindowsVietnamese file; bando reads those bytes itself, so the warning is noise.
warnings.filterwarnings(
    "ignore", message="Cannot find iconv encoding corresponding to MapInfo", category=RuntimeWarning
)
