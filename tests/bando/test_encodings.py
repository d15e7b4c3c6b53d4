"""Tests for bando.encodings.

Every legacy byte string below was written out by hand from the published
code tables (TCVN 5712:1993 VN3 and VNI-Windows), not produced by the module's
encoder, so a wrong table entry makes a test fail.
"""

from __future__ import annotations

import unicodedata

import pytest

from bando.encodings import (
    Detection,
    decode_bytes,
    detect_encoding,
    detect_text,
    encode_legacy,
    repair_text,
    to_nfc,
)

# The 67 non-ASCII lowercase Vietnamese letters, written out (not generated).
LOWER = ("àảãáạ ăằẳẵắặ âầẩẫấậ èẻẽéẹ êềểễếệ ìỉĩíị òỏõóọ ôồổỗốộ ơờởỡớợ ùủũúụ ưừửữứự ỳỷỹýỵ đ").replace(" ", "")
UPPER = ("ÀẢÃÁẠ ĂẰẲẴẮẶ ÂẦẨẪẤẬ ÈẺẼÉẸ ÊỀỂỄẾỆ ÌỈĨÍỊ ÒỎÕÓỌ ÔỒỔỖỐỘ ƠỜỞỠỚỢ ÙỦŨÚỤ ƯỪỬỮỨỰ ỲỶỸÝỴ Đ").replace(" ", "")

# ---------------------------------------------------------------------------
# TCVN3 code table, transcribed row by row in alphabet order
# (tones in the order huyền, hỏi, ngã, sắc, nặng).
# ---------------------------------------------------------------------------
TCVN3_ROWS = {
    "àảãáạ": b"\xb5\xb6\xb7\xb8\xb9",
    "ăằẳẵắặ": b"\xa8\xbb\xbc\xbd\xbe\xc6",
    "âầẩẫấậ": b"\xa9\xc7\xc8\xc9\xca\xcb",
    "èẻẽéẹ": b"\xcc\xce\xcf\xd0\xd1",
    "êềểễếệ": b"\xaa\xd2\xd3\xd4\xd5\xd6",
    "ìỉĩíị": b"\xd7\xd8\xdc\xdd\xde",
    "òỏõóọ": b"\xdf\xe1\xe2\xe3\xe4",
    "ôồổỗốộ": b"\xab\xe5\xe6\xe7\xe8\xe9",
    "ơờởỡớợ": b"\xac\xea\xeb\xec\xed\xee",
    "ùủũúụ": b"\xef\xf1\xf2\xf3\xf4",
    "ưừửữứự": b"\xad\xf5\xf6\xf7\xf8\xf9",
    "ỳỷỹýỵ": b"\xfa\xfb\xfc\xfd\xfe",
    "đ": b"\xae",
    "ĂÂÊÔƠƯĐ": b"\xa1\xa2\xa3\xa4\xa5\xa6\xa7",
}

TCVN3_VECTORS = [
    (b"H\xadng Y\xaan", "Hưng Yên"),
    (b"V\xa8n Giang", "Văn Giang"),
    (b"Kho\xb8i Ch\xa9u", "Khoái Châu"),
    (b"Ph\xe8 Hi\xd5n", "Phố Hiến"),
    (b"\xa7\xbek L\xbek", "Đắk Lắk"),
    (b"Th\xf5a Thi\xaan Hu\xd5", "Thừa Thiên Huế"),
    (b"B\xb5 R\xdea \x96 V\xf2ng T\xb5u", "Bà Rịa – Vũng Tàu"),  # 0x96: cp1252 en dash
    (b"\xa7\xcat \xeb t\xb9i n\xabng th\xabn", "Đất ở tại nông thôn"),
    (b"\xa7\xcat chuy\xaan tr\xe5ng l\xf3a n\xad\xedc", "Đất chuyên trồng lúa nước"),
    (b"\xa7\xcat nu\xabi tr\xe5ng th\xf1y s\xb6n", "Đất nuôi trồng thủy sản"),
    (
        b"Th\xabn \xa7\xabng, x\xb7 Ph\xf4ng C\xabng, t\xd8nh H\xadng Y\xaan",
        "Thôn Đông, xã Phụng Công, tỉnh Hưng Yên",
    ),
    (b"Nguy\xd4n Th\xde H\xad\xeang", "Nguyễn Thị Hường"),
    (b"Tr\xc7n \xa7\xf8c L\xad\xeeng", "Trần Đức Lượng"),
    (b"\xa7\xcat \xeb t\xb9i \xae\xab th\xde", "Đất ở tại đô thị"),
    (b"L\xaa V\xa8n H\xb6i", "Lê Văn Hải"),
    (b"Ph\xb9m Th\xde Thu H\xbbng", "Phạm Thị Thu Hằng"),
    (b"\xa7\xcat tr\xe5ng c\xa9y l\xa9u n\xa8m", "Đất trồng cây lâu năm"),
    (b"\xa7\xcat r\xf5ng ph\xdfng h\xe9", "Đất rừng phòng hộ"),
    (b"\xa7\xcat c\xac s\xeb gi\xb8o d\xf4c v\xb5 \xae\xb5o t\xb9o", "Đất cơ sở giáo dục và đào tạo"),
    (b"\xa7\xcat b\xbbng ch\xada s\xf6 d\xf4ng", "Đất bằng chưa sử dụng"),
    (b"Th\xf6a \xae\xcat s\xe8 12, t\xea b\xb6n \xae\xe5 s\xe8 5", "Thửa đất số 12, tờ bản đồ số 5"),
    (b"M\xfc H\xb5o", "Mỹ Hào"),
    (b"Ti\xaan L\xf7", "Tiên Lữ"),
    (b"\xa2n Thi", "Ân Thi"),
    (b"Kim \xa7\xe9ng", "Kim Động"),
    (b"Ph\xef C\xf5", "Phù Cừ"),
    (b"\xa7\xb5 N\xbdng", "Đà Nẵng"),
    (b"Qu\xfanh Ph\xf4", "Quỳnh Phụ"),
    (b"H\xdfa B\xd7nh", "Hòa Bình"),
    (b"K\xce S\xc6t, M\xc9u S\xacn, C\xc8m Gi\xb5ng", "Kẻ Sặt, Mẫu Sơn, Cẩm Giàng"),
    (b"ng\xe2 h\xd1p, v\xcf, ki\xd3m k\xaa, b\xe1 ng\xe7", "ngõ hẹp, vẽ, kiểm kê, bỏ ngỗ"),
    (b"\xa4ng Nguy\xd4n V\xa8n \xa5n", "Ông Nguyễn Văn Ơn"),  # VN3 capital base letters
    # Capitals typed for a .VnTimeH font: toned letters use the lowercase codes.
    (b"C\xe9NG H\xdfA X\xb7 H\xe9I CH\xf1 NGH\xdcA VI\xd6T NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    (b"\xa7\xa6\xeaNG L\xa3 L\xeeI", "ĐƯỜNG LÊ LỢI"),
]

# ---------------------------------------------------------------------------
# VNI-Windows code table, transcribed per letter (latin-1 view of the bytes).
# ---------------------------------------------------------------------------
VNI_ROWS = [
    ("à ả ã á ạ", "aø aû aõ aù aï"),
    ("ă ằ ẳ ẵ ắ ặ", "aê aè aú aü aé aë"),
    ("â ầ ẩ ẫ ấ ậ", "aâ aà aå aã aá aä"),
    ("è ẻ ẽ é ẹ", "eø eû eõ eù eï"),
    ("ê ề ể ễ ế ệ", "eâ eà eå eã eá eä"),
    ("ì ỉ ĩ í ị", "ì æ ó í ò"),
    ("ò ỏ õ ó ọ", "oø oû oõ où oï"),
    ("ô ồ ổ ỗ ố ộ", "oâ oà oå oã oá oä"),
    ("ơ ờ ở ỡ ớ ợ", "ô ôø ôû ôõ ôù ôï"),
    ("ù ủ ũ ú ụ", "uø uû uõ uù uï"),
    ("ư ừ ử ữ ứ ự", "ö öø öû öõ öù öï"),
    ("ỳ ỷ ỹ ý ỵ", "yø yû yõ yù î"),
    ("đ", "ñ"),
    ("À Ả Ã Á Ạ", "AØ AÛ AÕ AÙ AÏ"),
    ("Ă Ằ Ẳ Ẵ Ắ Ặ", "AÊ AÈ AÚ AÜ AÉ AË"),
    ("Â Ầ Ẩ Ẫ Ấ Ậ", "AÂ AÀ AÅ AÃ AÁ AÄ"),
    ("È Ẻ Ẽ É Ẹ", "EØ EÛ EÕ EÙ EÏ"),
    ("Ê Ề Ể Ễ Ế Ệ", "EÂ EÀ EÅ EÃ EÁ EÄ"),
    ("Ì Ỉ Ĩ Í Ị", "Ì Æ Ó Í Ò"),
    ("Ò Ỏ Õ Ó Ọ", "OØ OÛ OÕ OÙ OÏ"),
    ("Ô Ồ Ổ Ỗ Ố Ộ", "OÂ OÀ OÅ OÃ OÁ OÄ"),
    ("Ơ Ờ Ở Ỡ Ớ Ợ", "Ô ÔØ ÔÛ ÔÕ ÔÙ ÔÏ"),
    ("Ù Ủ Ũ Ú Ụ", "UØ UÛ UÕ UÙ UÏ"),
    ("Ư Ừ Ử Ữ Ứ Ự", "Ö ÖØ ÖÛ ÖÕ ÖÙ ÖÏ"),
    ("Ỳ Ỷ Ỹ Ý Ỵ", "YØ YÛ YÕ YÙ Î"),
    ("Đ", "Ñ"),
]
VNI_LETTERS = [
    (u, v.encode("latin-1"))
    for letters, legacy in VNI_ROWS
    for u, v in zip(letters.split(), legacy.split(), strict=True)
]

VNI_VECTORS = [
    (b"H\xf6ng Ye\xe2n", "Hưng Yên"),
    (b"Va\xean Giang", "Văn Giang"),
    (b"Khoa\xf9i Cha\xe2u", "Khoái Châu"),
    (b"Pho\xe1 Hie\xe1n", "Phố Hiến"),
    (b"\xd1a\xe9k La\xe9k", "Đắk Lắk"),
    (b"Th\xf6\xf8a Thie\xe2n Hue\xe1", "Thừa Thiên Huế"),
    (b"Ba\xf8 R\xf2a \x96 Vu\xf5ng Ta\xf8u", "Bà Rịa – Vũng Tàu"),
    (b"\xd1a\xe1t \xf4\xfb ta\xefi no\xe2ng tho\xe2n", "Đất ở tại nông thôn"),
    (b"\xd1a\xe1t chuye\xe2n tro\xe0ng lu\xf9a n\xf6\xf4\xf9c", "Đất chuyên trồng lúa nước"),
    (b"\xd1a\xe1t nuo\xe2i tro\xe0ng thu\xfby sa\xfbn", "Đất nuôi trồng thủy sản"),
    (
        b"Tho\xe2n \xd1o\xe2ng, xa\xf5 Phu\xefng Co\xe2ng, t\xe6nh H\xf6ng Ye\xe2n",
        "Thôn Đông, xã Phụng Công, tỉnh Hưng Yên",
    ),
    (b"Nguye\xe3n Th\xf2 H\xf6\xf4\xf8ng", "Nguyễn Thị Hường"),
    (b"Tra\xe0n \xd1\xf6\xf9c L\xf6\xf4\xefng", "Trần Đức Lượng"),
    (b"Co\xe4ng ho\xf8a", "Cộng hòa"),
    (b"\xd1a\xe1t r\xf6\xf8ng pho\xf8ng ho\xe4", "Đất rừng phòng hộ"),
    (b"\xd1a\xe1t c\xf4 s\xf4\xfb gia\xf9o du\xefc va\xf8 \xf1a\xf8o ta\xefo", "Đất cơ sở giáo dục và đào tạo"),
    (b"Th\xf6\xfba \xf1a\xe1t so\xe1 12, t\xf4\xf8 ba\xfbn \xf1o\xe0 so\xe1 5", "Thửa đất số 12, tờ bản đồ số 5"),
    (b"\xd1a\xf8 Na\xfcng", "Đà Nẵng"),
    (b"Quy\xf8nh Phu\xef", "Quỳnh Phụ"),
    (b"My\xf5 Ha\xf8o", "Mỹ Hào"),
    (b"Tie\xe2n L\xf6\xf5", "Tiên Lữ"),
    (b"Kim \xd1o\xe4ng", "Kim Động"),
    (b"Ho\xf8a B\xecnh", "Hòa Bình"),
    (b"\xd1a\xfbo Ly\xf9 S\xf4n", "Đảo Lý Sơn"),
    (b"Tha\xfang, ma\xebt ba\xe8ng, M\xee Cha\xe2u", "Thẳng, mặt bằng, Mỵ Châu"),
    (b"Ke\xfb Sa\xebt, Ma\xe3u S\xf4n, Ca\xe5m Gia\xf8ng", "Kẻ Sặt, Mẫu Sơn, Cẩm Giàng"),
    (b"ngo\xf5 he\xefp, ve\xf5", "ngõ hẹp, vẽ"),
    (b"A\xc2n Thi", "Ân Thi"),
    (b"O\xc2ng Nguye\xe3n Va\xean \xd4n", "Ông Nguyễn Văn Ơn"),
    (b"CO\xc4NG HO\xd8A XA\xd5 HO\xc4I CHU\xdb NGH\xd3A VIE\xc4T NAM", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
    (b"\xd1O\xc4C LA\xc4P - T\xd6\xcf DO - HA\xcfNH PHU\xd9C", "ĐỘC LẬP - TỰ DO - HẠNH PHÚC"),
    (b"U\xdbY BAN NHA\xc2N DA\xc2N T\xc6NH H\xd6NG YE\xc2N", "ỦY BAN NHÂN DÂN TỈNH HƯNG YÊN"),
    (b"KHU \xd1O\xc2 TH\xd2 VA\xcaN GIANG", "KHU ĐÔ THỊ VĂN GIANG"),
    (b"\xd1\xd6\xd4\xd8NG LE\xc2 L\xd4\xcfI", "ĐƯỜNG LÊ LỢI"),
    (b"TH\xd6\xdbA \xd1A\xc1T SO\xc1 12, T\xd4\xd8 BA\xdbN \xd1O\xc0 SO\xc1 5", "THỬA ĐẤT SỐ 12, TỜ BẢN ĐỒ SỐ 5"),
    (b"MA\xcbT BA\xc8NG, THA\xdaNG, NA\xdcNG, \xcdT, M\xce", "MẶT BẰNG, THẲNG, NẴNG, ÍT, MỴ"),
]

# cp1258: precomposed where the code page has the letter, base + combining tone otherwise.
CP1258_VECTORS = [
    (b"\xd0\xe2\xect \xf5\xd2 ta\xf2i \xf0\xf4 thi\xf2", "Đất ở tại đô thị"),
    (b"H\xfdng Y\xean", "Hưng Yên"),
    (b"V\xe3n Giang", "Văn Giang"),
    (b"Kho\xe1i Ch\xe2u", "Khoái Châu"),
    (b"Nguy\xea\xden Thi\xf2 H\xfd\xf5\xccng", "Nguyễn Thị Hường"),
    (b"Tr\xe2\xccn \xd0\xfd\xecc L\xfd\xf5\xf2ng", "Trần Đức Lượng"),
    (b"\xd0\xe2\xect chuy\xean tr\xf4\xccng l\xfaa n\xfd\xf5\xecc", "Đất chuyên trồng lúa nước"),
    (b"Th\xf4n \xd0\xf4ng, xa\xde Phu\xf2ng C\xf4ng", "Thôn Đông, xã Phụng Công"),
]


def test_vector_counts() -> None:
    assert len(TCVN3_VECTORS) >= 20 and len(VNI_VECTORS) >= 20
    assert len(LOWER) == 67 and len(UPPER) == 67 and len(set(LOWER + UPPER)) == 134
    assert len(VNI_LETTERS) == 134


# ---------------------------------------------------------------------------
# TCVN3
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("letters", "codes"), TCVN3_ROWS.items())
def test_tcvn3_code_table(letters: str, codes: bytes) -> None:
    assert decode_bytes(codes, "tcvn3") == letters
    assert encode_legacy(letters, "tcvn3") == codes


@pytest.mark.parametrize(("raw", "expected"), TCVN3_VECTORS)
def test_tcvn3_real_strings(raw: bytes, expected: str) -> None:
    assert decode_bytes(raw, "tcvn3") == expected
    assert repair_text(raw.decode("latin-1"), "tcvn3") == expected


@pytest.mark.parametrize(("raw", "expected"), TCVN3_VECTORS[:-2])
def test_tcvn3_encode_matches_hand_written_bytes(raw: bytes, expected: str) -> None:
    assert encode_legacy(expected, "tcvn3") == raw


def test_tcvn3_design_doc_example_as_latin1_view() -> None:
    assert repair_text("§Êt ë t¹i ®« thÞ", "tcvn3") == "Đất ở tại đô thị"


def test_tcvn3_roundtrip_all_lowercase_and_capital_bases() -> None:
    for letter in LOWER + "ĂÂÊÔƠƯĐ":
        assert decode_bytes(encode_legacy(letter, "tcvn3"), "tcvn3") == letter, letter
    text = "Đất ở tại nông thôn, xã Phụng Công"
    assert decode_bytes(encode_legacy(text, "tcvn3"), "tcvn3") == text


def test_tcvn3_capital_toned_letters_use_lowercase_code() -> None:
    assert encode_legacy("ĐẮK LẮK", "tcvn3") == b"\xa7\xbeK L\xbeK"
    assert encode_legacy("Ủy", "tcvn3") == encode_legacy("ủy", "tcvn3") == b"\xf1y"
    # A value typed in capitals comes back in capitals ...
    assert decode_bytes(b"\xa7\xbeK L\xbeK", "tcvn3") == "ĐẮK LẮK"
    # ... but a single capital word cannot be told from a proper name, nor a lowercase start.
    assert decode_bytes(b"H\xb5", "tcvn3") == "Hà"
    assert decode_bytes(b"\xf1y ban nh\xa9n d\xa9n", "tcvn3") == "ủy ban nhân dân"
    assert decode_bytes(b"UBND x\xb7 Ph\xf4ng C\xabng", "tcvn3") == "UBND xã Phụng Công"


# ---------------------------------------------------------------------------
# VNI
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("letter", "legacy"), VNI_LETTERS)
def test_vni_code_table(letter: str, legacy: bytes) -> None:
    assert decode_bytes(legacy, "vni") == letter
    assert encode_legacy(letter, "vni") == legacy


@pytest.mark.parametrize(("raw", "expected"), VNI_VECTORS)
def test_vni_real_strings(raw: bytes, expected: str) -> None:
    assert decode_bytes(raw, "vni") == expected
    assert repair_text(raw.decode("latin-1"), "vni") == expected
    assert encode_legacy(expected, "vni") == raw


def test_vni_design_doc_example_as_latin1_view() -> None:
    assert repair_text("Coäng hoøa", "vni") == "Cộng hòa"


def test_vni_roundtrip_all_134_letters() -> None:
    for letter in LOWER + UPPER:
        assert decode_bytes(encode_legacy(letter, "vni"), "vni") == letter, letter
    for text in ("Thừa Thiên Huế", "BÀ RỊA – VŨNG TÀU", "Nguyễn Thị Hường"):
        assert decode_bytes(encode_legacy(text, "vni"), "vni") == text


def test_vni_lenient_decoding_of_non_canonical_forms() -> None:
    assert decode_bytes(b"A\xf9", "vni") == "Á"  # capital base, lowercase mark
    assert decode_bytes(b"o\xc2", "vni") == "ô"  # lowercase base, capital mark
    assert decode_bytes(b"i\xf9 y\xef", "vni") == "í ỵ"


# ---------------------------------------------------------------------------
# Pass-through encodings, NFC, names
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "expected"), CP1258_VECTORS)
def test_cp1258_decoded_and_composed(raw: bytes, expected: str) -> None:
    assert decode_bytes(raw, "cp1258") == expected
    assert repair_text(raw.decode("latin-1"), "cp1258") == expected
    assert unicodedata.is_normalized("NFC", decode_bytes(raw, "cp1258"))


@pytest.mark.parametrize("text", [e for _, e in TCVN3_VECTORS])
def test_utf8_unchanged(text: str) -> None:
    assert decode_bytes(text.encode("utf-8"), "utf-8") == text
    assert repair_text(text.encode("utf-8").decode("latin-1"), "utf-8") == text


def test_nfd_input_normalised_to_nfc() -> None:
    nfc = "Nguyễn Thị Hường, Đắk Lắk"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    assert decode_bytes(nfd.encode("utf-8"), "utf-8") == nfc
    assert to_nfc(nfd) == nfc
    assert encode_legacy(nfd, "vni") == encode_legacy(nfc, "vni")
    assert repair_text(nfd, "utf-8") == nfc  # already Unicode (chars > U+00FF): only normalised


def test_ascii_and_latin1() -> None:
    assert decode_bytes(b"ONT LUC", "ascii") == "ONT LUC"
    assert decode_bytes(b"caf\xe9", "latin-1") == "café"
    assert repair_text("ONT", "tcvn3") == "ONT"
    with pytest.raises(UnicodeDecodeError):
        decode_bytes(b"\xa7\xcat", "utf-8")


@pytest.mark.parametrize("name", ["UTF8", "Windows-1258", "TCVN3", "vni_windows", "Latin1"])
def test_encoding_name_aliases(name: str) -> None:
    assert decode_bytes(b"abc", name) == "abc"


def test_unknown_encoding_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown text encoding 'koi8-r'"):
        decode_bytes(b"abc", "koi8-r")
    with pytest.raises(ValueError, match="unknown text encoding"):
        repair_text("abc", "viscii")
    with pytest.raises(ValueError, match="only tcvn3 or vni"):
        encode_legacy("abc", "utf-8")


def test_unencodable_characters_are_named() -> None:
    with pytest.raises(ValueError, match=r"U\+4E2D"):
        encode_legacy("Hà Nội 中", "tcvn3")
    with pytest.raises(ValueError, match=r"U\+00FC"):
        encode_legacy("Müller", "tcvn3")  # 0xFC is ỹ in TCVN3
    with pytest.raises(ValueError, match=r"U\+00F8"):
        encode_legacy("ø", "vni")  # a VNI mark byte
    assert encode_legacy("25°C", "tcvn3") == b"25\xb0C"


# ---------------------------------------------------------------------------
# Detection
# ---------------------------------------------------------------------------
def _check(detection: Detection, encoding: str, min_confidence: float = 0.7) -> None:
    assert detection.encoding == encoding, detection
    assert min_confidence <= detection.confidence <= 1.0, detection
    assert detection.reason


def test_detect_tcvn3() -> None:
    _check(detect_encoding(raw for raw, _ in TCVN3_VECTORS), "tcvn3")
    _check(detect_text(raw.decode("latin-1") for raw, _ in TCVN3_VECTORS), "tcvn3")


def test_detect_vni() -> None:
    _check(detect_encoding(raw for raw, _ in VNI_VECTORS), "vni")
    _check(detect_text(raw.decode("latin-1") for raw, _ in VNI_VECTORS), "vni")


def test_detect_utf8() -> None:
    samples = [e.encode("utf-8") for _, e in VNI_VECTORS]
    _check(detect_encoding(samples), "utf-8")
    _check(detect_text(s.decode("latin-1") for s in samples), "utf-8")


def test_detect_cp1258() -> None:
    _check(detect_encoding(raw for raw, _ in CP1258_VECTORS), "cp1258")


def test_detect_ascii() -> None:
    _check(detect_encoding([b"ONT", b"LUC", b"", b"12/3"]), "ascii", 1.0)
    assert detect_encoding([]).encoding == "ascii"


def test_detect_on_mixed_column_with_codes_and_numbers() -> None:
    column = [b"ONT", b"123", b""] + [raw for raw, _ in TCVN3_VECTORS[:6]]
    _check(detect_encoding(column), "tcvn3")


def test_detect_then_repair_pipeline_vni() -> None:
    values = [raw.decode("latin-1") for raw, _ in VNI_VECTORS]
    found = detect_text(values)
    assert [repair_text(v, found.encoding) for v in values] == [e for _, e in VNI_VECTORS]


def test_detect_non_vietnamese_latin_falls_back_with_low_confidence() -> None:
    found = detect_encoding([b"M\xfcller Stra\xdfe", b"Gr\xf6\xdfe \xfcber"])
    assert found.encoding == "cp1258" and found.confidence <= 0.3
