"""Detect and convert the legacy Vietnamese text encodings found in old GIS data.

Why this module exists
----------------------
Shapefiles and MicroStation exports made with the pre-Unicode Vietnamese fonts
store text in "font encodings" that no code page or ``.cpg`` file can name:

* **TCVN3** (TCVN 5712:1993 "VN3", the ABC / ``.VnTime`` fonts): one byte per
  letter in 0xA1-0xFE. ``Đất ở tại đô thị`` is stored as the bytes that show
  as ``§Êt ë t¹i ®« thÞ`` in latin-1.
* **VNI-Windows** (``VNI-Times`` fonts): a base ASCII letter followed by a mark
  byte (``Cộng hòa`` -> ``Coäng hoøa``), plus a few one-byte letters
  (ơ ư đ and the toned i's).

A reader of a file of unknown encoding opens it as ``latin-1`` (so every byte
survives as one character), calls :func:`detect_text` on a sample of values,
then :func:`repair_text` on every value. Everything returned is NFC, the form
the rest of bando stores and compares. UTF-8 and cp1258 go through the same
path and come out unchanged (cp1258's combining tone marks composed by NFC).

Choices the code tables cannot make for us
------------------------------------------
* **Uppercase in TCVN3.** VN3 has only seven capitals (Ă Â Ê Ô Ơ Ư Đ);
  capital *toned* letters were shown by typing the lowercase codes in a
  ``.VnTimeH`` font whose glyphs are all capitals. The bytes cannot tell "Hà"
  from "HÀ", so :func:`encode_legacy` writes a capital toned letter with its
  lowercase code (what a ``.VnTimeH`` user typed), and decoding returns
  lowercase toned letters -- except in a value with no lowercase letter at all
  and a word with two or more capitals (``C\\xe9NG H\\xdfA`` -> ``CỘNG HÒA``):
  such a value was typed in capitals, so its toned letters are capitalised
  too. A one-capital word alone (``Hµ``) stays ``Hà``.
* **VN1 capitals are not decoded.** The full TCVN3 repertoire (VN1) puts the
  capital toned letters in C0 controls and 0x80-0x9F; in the Windows files we
  meet those bytes are cp1252 punctuation (0x96 is the en dash of
  "Bà Rịa – Vũng Tàu"). Bytes that VN3/VNI leave unused decode as cp1252,
  or as latin-1 where cp1252 has no character.
* **VNI is decoded leniently, encoded canonically.** A mark byte becomes the
  combining marks it stands for and NFC joins them to the letter before it,
  whatever the two cases are (the base letter decides), so the rare ``Aù``,
  ``iù``, ``yï`` forms read as Á, í, ỵ; :func:`encode_legacy` writes only the
  canonical VNI-Windows sequences (ì í ỉ ĩ ị ỵ are one byte each there).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

__all__ = [
    "Detection",
    "Encoding",
    "decode_bytes",
    "detect_encoding",
    "detect_text",
    "encode_legacy",
    "repair_text",
    "to_nfc",
]

Encoding = Literal["utf-8", "cp1258", "tcvn3", "vni", "ascii"]

# --------------------------------------------------------------------------
# The Vietnamese alphabet, built from its parts so that no letter is mistyped.
# --------------------------------------------------------------------------
_TONES = "\u0300\u0309\u0303\u0301\u0323"  # huyền, hỏi, ngã, sắc, nặng
_VOWELS = "aăâeêioôơuưy"


def _alphabet() -> str:
    """The 67 non-ASCII lowercase Vietnamese letters (12 vowels x 5 tones + ă â ê ô ơ ư đ)."""
    out = [v for v in _VOWELS if not v.isascii()] + ["đ"]
    out += [unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES]
    return "".join(out)


VIETNAMESE_LOWER = _alphabet()
VIETNAMESE_UPPER = VIETNAMESE_LOWER.upper()
_VIET = frozenset(VIETNAMESE_LOWER + VIETNAMESE_UPPER)
assert len(VIETNAMESE_LOWER) == 67 and len(_VIET) == 134


def _cp1252(b: int) -> str:
    """How a Windows program shows byte ``b`` >= 0x80 when the font has no Vietnamese glyph there."""
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(b)


# --------------------------------------------------------------------------
# TCVN3 (TCVN 5712:1993 VN3): runs of consecutive byte values -> letters.
# --------------------------------------------------------------------------
_TCVN3_RUNS = (
    (0xA1, "ĂÂÊÔƠƯĐăâêôơưđ"),  # A1-AE
    (0xB5, "àảãáạ"),  # B5-B9
    (0xBB, "ằẳẵắ"),  # BB-BE
    (0xC6, "ặầẩẫấậè"),  # C6-CC
    (0xCE, "ẻẽéẹềểễếệìỉ"),  # CE-D8
    (0xDC, "ĩíịò"),  # DC-DF
    (0xE1, "ỏõóọồổỗốộờởỡớợù"),  # E1-EF
    (0xF1, "ủũúụừửữứựỳỷỹýỵ"),  # F1-FE
)
_TCVN3 = {start + i: ch for start, run in _TCVN3_RUNS for i, ch in enumerate(run)}
assert set(_TCVN3.values()) == set(VIETNAMESE_LOWER + "ĂÂÊÔƠƯĐ") and len(_TCVN3) == 74

_TCVN3_DECODE = {b: _TCVN3.get(b) or _cp1252(b) for b in range(0x80, 0x100)}
_TCVN3_CHARMAP = "".join(map(chr, range(0x80))) + "".join(_TCVN3_DECODE.values())
_TCVN3_CAPS_CHARMAP = _TCVN3_CHARMAP.translate({ord(c): c.upper() for c in VIETNAMESE_LOWER})
_LOWER_BASE = re.compile(b"[\xa8-\xae]")  # TCVN3 lowercase ă â ê ô ơ ư đ
_CAPS_WORD = re.compile(b"[A-Z\xa1-\xa7][\xa1-\xfe]*[A-Z\xa1-\xa7]")  # two capitals in one word


def _tcvn3_bytes(raw: bytes) -> str:
    """Decode TCVN3 bytes; a value typed in capitals gets capital toned letters (module docstring)."""
    if raw.upper() == raw and not _LOWER_BASE.search(raw) and _CAPS_WORD.search(raw):
        return codecs.charmap_decode(raw, "strict", _TCVN3_CAPS_CHARMAP)[0]
    return codecs.charmap_decode(raw, "strict", _TCVN3_CHARMAP)[0]


# --------------------------------------------------------------------------
# VNI-Windows: one-byte letters, and mark bytes that follow a base vowel.
# --------------------------------------------------------------------------
_VNI_SINGLE = dict(zip("ñÑôÔöÖìÌíÍæÆóÓòÒîÎ", "đĐơƠưƯìÌíÍỉỈĩĨịỊỵỴ"))
# (what the mark adds, lowercase mark bytes, uppercase mark bytes); tones in _TONES order.
_VNI_MARK_ROWS = (
    ("", "øûõùï", "ØÛÕÙÏ"),  # tone alone: F8 FB F5 F9 EF
    ("\u0302", "âàåãáä", "ÂÀÅÃÁÄ"),  # circumflex: alone E2, then E0 E5 E3 E1 E4
    ("\u0306", "êèúüéë", "ÊÈÚÜÉË"),  # breve: alone EA, then E8 FA FC E9 EB
)
_VNI_MARK: dict[str, str] = {}  # mark byte (latin-1 char) -> combining sequence
_VNI_MARK_FOR: dict[tuple[str, bool], str] = {}  # (combining sequence, uppercase) -> mark byte
for _quality, _lower, _upper in _VNI_MARK_ROWS:
    _tones = ("", *_TONES) if _quality else tuple(_TONES)
    for _lo, _up, _tone in zip(_lower, _upper, _tones, strict=True):
        _VNI_MARK[_lo] = _VNI_MARK[_up] = _quality + _tone
        _VNI_MARK_FOR[(_quality + _tone, False)] = _lo
        _VNI_MARK_FOR[(_quality + _tone, True)] = _up

_VNI_DECODE = {b: _VNI_SINGLE.get(chr(b)) or _cp1252(b) for b in range(0x80, 0x100)}
_VNI_CHARMAP = {b: _VNI_MARK.get(chr(b)) or _VNI_DECODE.get(b, chr(b)) for b in range(0x100)}


def _vni_bytes(raw: bytes) -> str:
    """Decode VNI bytes: one-byte letters map directly, mark bytes become combining marks.

    NFC then joins each mark to the vowel before it: that is the VNI rule
    itself, done in C (a regex over pairs was 3x slower on a million values).
    """
    return unicodedata.normalize("NFC", codecs.charmap_decode(raw, "strict", _VNI_CHARMAP)[0])


_LEGACY_BYTES: dict[str, Callable[[bytes], str]] = {"tcvn3": _tcvn3_bytes, "vni": _vni_bytes}
_LATIN1_RUN = re.compile("[\x00-\xff]+")


def _legacy_view(text: str, enc: str) -> str:
    """Decode a latin-1 view of legacy bytes; characters above U+00FF (not bytes) are kept."""
    decode = _LEGACY_BYTES[enc]
    try:
        return decode(text.encode("latin-1"))
    except UnicodeEncodeError:
        return _LATIN1_RUN.sub(lambda m: decode(m[0].encode("latin-1")), text)


def _vni_canonical(letter: str) -> str:
    """The canonical VNI-Windows spelling of one Vietnamese letter, as latin-1 chars."""
    single = {v: k for k, v in _VNI_SINGLE.items()}
    if letter in single:
        return single[letter]
    base, *marks = list(unicodedata.normalize("NFD", letter))
    if "\u031b" in marks:  # horn: ơ/ư are one-byte letters that take tone marks
        base = single[unicodedata.normalize("NFC", base + "\u031b")]
    quality = next((m for m in marks if m in "\u0302\u0306"), "")
    tone = next((m for m in marks if m in _TONES), "")
    if not quality and not tone:
        return base
    return base + _VNI_MARK_FOR[(quality + tone, base.isupper())]


# --------------------------------------------------------------------------
# Encoding tables: Unicode -> latin-1 chars standing for the legacy bytes.
# --------------------------------------------------------------------------
_UNENCODABLE = "\ufffd"  # never a latin-1 char, so .encode("latin-1") stops on it


def _encode_table(decoded: dict[int, str], letters: dict[str, str], unsafe: Iterable[str]) -> dict[int, str]:
    """Build a str.translate table for one legacy encoding.

    A byte that is not a letter code may be written for the character it shows
    (``°``, ``–``) unless that character is a Vietnamese letter (which has its
    own spelling) or the byte could merge with a neighbour (VNI mark bytes).
    Every other latin-1 character maps to a sentinel so encoding fails loudly.
    """
    unsafe = set(unsafe)
    table = {ord(c): chr(b) for b, c in decoded.items() if c not in _VIET and chr(b) not in unsafe}
    table.update({ord(letter): legacy for letter, legacy in letters.items()})
    for cp in range(0x80, 0x100):
        table.setdefault(cp, _UNENCODABLE)
    return table


_TCVN3_LETTER_CODES = {c: chr(b) for b, c in _TCVN3.items()}
for _c in VIETNAMESE_LOWER:  # capital toned letters -> lowercase code (the .VnTimeH convention)
    _TCVN3_LETTER_CODES.setdefault(_c.upper(), _TCVN3_LETTER_CODES[_c])
_ENCODE = {
    "tcvn3": _encode_table(_TCVN3_DECODE, _TCVN3_LETTER_CODES, ()),
    "vni": _encode_table(_VNI_DECODE, {c: _vni_canonical(c) for c in _VIET}, [*_VNI_MARK, *_VNI_SINGLE]),
}

# --------------------------------------------------------------------------
# Public conversion API
# --------------------------------------------------------------------------
_ALIASES = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "cp1258": "cp1258",
    "windows-1258": "cp1258",
    "tcvn3": "tcvn3",
    "tcvn": "tcvn3",
    "abc": "tcvn3",
    "vni": "vni",
    "vni-windows": "vni",
    "ascii": "ascii",
    "us-ascii": "ascii",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}


def _canonical(encoding: str) -> str:
    """Map an encoding name (any case, ``_`` or ``-``) to ours, or say clearly what is accepted."""
    name = _ALIASES.get(encoding) or _ALIASES.get(str(encoding).strip().lower().replace("_", "-"))
    if name is None:
        raise ValueError(
            f"unknown text encoding {encoding!r}; expected one of utf-8, cp1258, tcvn3, vni, ascii, latin-1"
        )
    return name


def to_nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the single form bando stores, indexes and compares."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def decode_bytes(raw: bytes, encoding: str, errors: str = "strict") -> str:
    """Decode ``raw`` from ``encoding`` (utf-8, cp1258, tcvn3, vni, ascii or latin-1) to NFC.

    TCVN3 and VNI decoding never fails: bytes outside the letter tables decode
    as cp1252/latin-1. For the real codecs ``errors`` is passed to ``bytes.decode``
    (``UnicodeDecodeError`` is a ``ValueError``). Unknown names raise ``ValueError``.
    """
    enc = _canonical(encoding)
    if enc in _LEGACY_BYTES:
        return to_nfc(_LEGACY_BYTES[enc](raw))
    return to_nfc(raw.decode(enc, errors))


def repair_text(text: str, encoding: str) -> str:
    """Convert a value that was read as latin-1 (one char per original byte) from ``encoding``.

    This is the per-value hot path of a reader, so it never raises on data:
    invalid UTF-8/cp1258/ASCII bytes become U+FFFD (visible, not silently
    dropped), and text holding characters above U+00FF -- which cannot be a
    latin-1 byte view, so it was already decoded -- is only normalised (legacy
    tables still convert its latin-1 part).
    """
    enc = _canonical(encoding)
    if text.isascii():
        return text
    if enc in _LEGACY_BYTES:
        return to_nfc(_legacy_view(text, enc))
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return to_nfc(text)
    return to_nfc(raw.decode(enc, "replace"))


def encode_legacy(text: str, encoding: Literal["tcvn3", "vni"]) -> bytes:
    """Encode Unicode ``text`` as TCVN3 or VNI-Windows bytes (for writing legacy sample data).

    Input is NFC-normalised first, so decomposed text encodes the same. Capital
    toned letters get the lowercase code in TCVN3 (see module docstring).
    Raises ``ValueError`` naming the first character the encoding cannot hold.
    """
    enc = _canonical(encoding)
    if enc not in _ENCODE:
        raise ValueError(f"encode_legacy writes only tcvn3 or vni, not {encoding!r}")
    table, nfc = _ENCODE[enc], to_nfc(text)
    try:
        return nfc.translate(table).encode("latin-1")
    except UnicodeEncodeError:
        bad = next(c for c in nfc if not c.isascii() and table.get(ord(c), _UNENCODABLE) == _UNENCODABLE)
        raise ValueError(f"{bad!r} (U+{ord(bad):04X}) cannot be written in {enc}") from None


# --------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Detection:
    """What :func:`detect_encoding` decided, how sure it is (0-1), and why, for the lineage."""

    encoding: str
    confidence: float
    reason: str


_MAX_SAMPLES = 5000  # values looked at; a DBF column's first few thousand settle it
_TOKEN = re.compile(b"[A-Za-z\xa1-\xff]+")  # a word, in any of the candidate byte layouts
_CLUSTERS = [
    "iêu",
    "yêu",
    "oai",
    "oay",
    "oao",
    "oeo",
    "uây",
    "uôi",
    "ươi",
    "ươu",
    "uya",
    "uyê",
    "uyu",
    "ai",
    "ao",
    "au",
    "ay",
    "âu",
    "ây",
    "eo",
    "êu",
    "ia",
    "iê",
    "iu",
    "oa",
    "oă",
    "oe",
    "oi",
    "oo",
    "ôi",
    "ơi",
    "ua",
    "uâ",
    "uê",
    "ui",
    "uô",
    "uơ",
    "uy",
    "ưa",
    "ưi",
    "ươ",
    "ưu",
    "yê",
    "a",
    "ă",
    "â",
    "e",
    "ê",
    "i",
    "o",
    "ô",
    "ơ",
    "u",
    "ư",
    "y",
]  # longest first, so the regex tries "uyê" before "uy" before "u"
_SYLLABLE = re.compile(
    f"(?:ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdđghklmnprstvx])?(?:{'|'.join(_CLUSTERS)})(?:ch|ng|nh|[cmnpt])?"
)
_STRIP_TONES = str.maketrans("", "", _TONES)


@lru_cache(maxsize=65536)
def _is_syllable(word: str) -> bool:
    """Whether ``word`` spells a plausible Vietnamese syllable: onset, vowel cluster, coda, one tone."""
    nfd = unicodedata.normalize("NFD", word.lower())
    if sum(nfd.count(t) for t in _TONES) > 1:
        return False
    return _SYLLABLE.fullmatch(unicodedata.normalize("NFC", nfd.translate(_STRIP_TONES))) is not None


def _cp1258_bytes(raw: bytes) -> str:
    return to_nfc(raw.decode("cp1258", "replace"))


_CANDIDATES = {"tcvn3": _tcvn3_bytes, "vni": _vni_bytes, "cp1258": _cp1258_bytes}
_LABEL = {"tcvn3": "TCVN3", "vni": "VNI", "cp1258": "cp1258"}


def detect_encoding(samples: Iterable[bytes]) -> Detection:
    """Guess the encoding of a sample of values from one column.

    Pure ASCII -> ``ascii``; valid UTF-8 -> ``utf-8`` (a few invalid values are
    tolerated: DBF fields truncate multi-byte characters). Otherwise every
    word holding a byte >= 0xA1 is decoded as TCVN3, VNI and cp1258, and the
    candidate under which most such words are plausible Vietnamese syllables
    wins. Many values are judged together because one short value may read as
    Vietnamese in two encodings, while a column almost never does.
    """
    values = [s for s in samples if s][:_MAX_SAMPLES]
    if not values:
        return Detection("ascii", 0.0, "No non-empty values to inspect; assuming ASCII.")
    non_ascii = [v for v in values if not v.isascii()]
    if not non_ascii:
        return Detection("ascii", 1.0, f"All {len(values)} sampled values are plain ASCII.")
    valid = sum(1 for v in non_ascii if _is_utf8(v))
    if valid == len(non_ascii):
        return Detection("utf-8", 0.99, f"All {valid} sampled values with non-ASCII bytes are valid UTF-8.")
    if valid >= 0.9 * len(non_ascii) and len(non_ascii) >= 10:
        return Detection(
            "utf-8",
            round(0.9 * valid / len(non_ascii), 2),
            f"{valid} of {len(non_ascii)} values with non-ASCII bytes are valid UTF-8 (the rest probably truncated).",
        )
    words = [w for v in non_ascii for w in _TOKEN.findall(v) if not w.isascii()]
    scores = {enc: sum(map(_is_syllable, map(dec, words))) / max(len(words), 1) for enc, dec in _CANDIDATES.items()}
    ranked = sorted(scores, key=lambda e: (scores[e], e == "cp1258"), reverse=True)
    best, second = ranked[0], ranked[1]
    others = ", ".join(f"{_LABEL[e]} {scores[e]:.0%}" for e in ranked[1:])
    if scores[best] < 0.5:
        return Detection(
            "cp1258",
            round(min(0.3, scores["cp1258"]), 2),
            f"No candidate reads as Vietnamese (best {_LABEL[best]} {scores[best]:.0%}, {others}); "
            "falling back to cp1258, which leaves Western text intact.",
        )
    margin = scores[best] - scores[second]
    confidence = scores[best] * min(1.0, margin / 0.3) * min(1.0, len(words) / 10)
    good = round(scores[best] * len(words))
    return Detection(
        best,
        round(confidence, 2),
        f"{good} of {len(words)} words with non-ASCII bytes read as Vietnamese syllables "
        f"in {_LABEL[best]} (vs {others}).",
    )


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_text(samples: Iterable[str]) -> Detection:
    """:func:`detect_encoding` for values read as latin-1 (each character stands for one byte).

    A value with characters outside latin-1 was not read byte-for-byte; it is
    taken as already-decoded Unicode and fed to the detector as UTF-8.
    """

    def to_bytes(s: str) -> bytes:
        try:
            return s.encode("latin-1")
        except UnicodeEncodeError:
            return s.encode("utf-8")

    return detect_encoding(to_bytes(s) for s in samples)


def unaccented(text: str) -> str:
    """Lower case without diacritics, đ → d: how Vietnamese names compare when typed without marks."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
