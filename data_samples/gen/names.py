"""Synthetic owners: Vietnamese full names and 12-digit citizen ID numbers.

Owner names and ID numbers are personal data (Decree 13/2023/NĐ-CP), so the
samples must exercise the code paths that hide them, without being anybody's
real data. Names are drawn from common family, middle and given names with
realistic frequencies (Nguyễn ≈ 38 %); ID numbers follow the structure of the
citizen identity card (3-digit place-of-birth code, 1 digit for sex and century,
2 digits of birth year, 6 random digits) so format checks behave as on real data.

No name starts with an upper-case letter that carries a tone mark (Á, Ấ, Ứ, …):
TCVN3 (ABC) has no single-byte upper-case toned letters, and the legacy-encoded
Shapefile must round-trip exactly.
"""

from __future__ import annotations

import numpy as np

FAMILY: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 5.0),
    ("Vũ", 4.0),
    ("Đỗ", 3.0),
    ("Bùi", 2.5),
    ("Đặng", 2.0),
    ("Ngô", 1.5),
    ("Dương", 1.0),
    ("Đào", 1.5),
    ("Đinh", 1.0),
    ("Phan", 1.0),
    ("Trịnh", 1.0),
    ("Lương", 0.8),
    ("Tạ", 0.6),
    ("Hà", 0.8),
    ("Lưu", 0.6),
    ("Mai", 0.6),
    ("Cao", 0.7),
    ("Tô", 0.5),
    ("Nghiêm", 0.4),
    ("Chu", 0.5),
    ("Quách", 0.3),
)
MIDDLE_MALE: tuple[tuple[str, float], ...] = (
    ("Văn", 45.0),
    ("Đức", 10.0),
    ("Minh", 8.0),
    ("Quang", 6.0),
    ("Hữu", 6.0),
    ("Xuân", 5.0),
    ("Thành", 4.0),
    ("Công", 4.0),
    ("Mạnh", 3.0),
    ("Trọng", 3.0),
    ("Tiến", 3.0),
    ("Duy", 3.0),
)
MIDDLE_FEMALE: tuple[tuple[str, float], ...] = (
    ("Thị", 60.0),
    ("Ngọc", 7.0),
    ("Thu", 6.0),
    ("Thanh", 6.0),
    ("Hồng", 5.0),
    ("Kim", 4.0),
    ("Thúy", 4.0),
    ("Phương", 4.0),
    ("Minh", 4.0),
)
GIVEN_MALE: tuple[str, ...] = (
    "Hùng",
    "Dũng",
    "Tuấn",
    "Nam",
    "Hải",
    "Long",
    "Thắng",
    "Cường",
    "Huy",
    "Sơn",
    "Tùng",
    "Quân",
    "Bình",
    "Hưng",
    "Khánh",
    "Đạt",
    "Hiếu",
    "Trung",
    "Thành",
    "Lâm",
    "Phong",
    "Toàn",
    "Vinh",
    "Kiên",
    "Tâm",
    "Chiến",
    "Quyết",
    "Lợi",
    "Thịnh",
    "Hòa",
)
GIVEN_FEMALE: tuple[str, ...] = (
    "Lan",
    "Hoa",
    "Hương",
    "Mai",
    "Thảo",
    "Hà",
    "Linh",
    "Nga",
    "Yến",
    "Huyền",
    "Hằng",
    "Nhung",
    "Phượng",
    "Loan",
    "Dung",
    "Trang",
    "Thủy",
    "Hạnh",
    "Vân",
    "Liên",
    "Tuyết",
    "Xuân",
    "Thơm",
    "Lụa",
    "Duyên",
    "Nhàn",
    "Chi",
    "Quyên",
    "Ngân",
    "Thoa",
)


def _weighted(rng: np.random.Generator, pool: tuple[tuple[str, float], ...], n: int) -> np.ndarray:
    words = np.array([w for w, _ in pool], dtype=object)
    p = np.array([w for _, w in pool], dtype=float)
    return words[rng.choice(len(words), size=n, p=p / p.sum())]


def people(rng: np.random.Generator, n: int, cccd_prefix: str) -> tuple[list[str], list[str]]:
    """`n` synthetic (full name, 12-digit citizen ID) pairs.

    Vectorised with numpy so that a million owners cost well under a second.
    """
    male = rng.random(n) < 0.62  # land-use rights are more often in a man's name
    family = _weighted(rng, FAMILY, n)
    mid_m = _weighted(rng, MIDDLE_MALE, n)
    mid_f = _weighted(rng, MIDDLE_FEMALE, n)
    giv_m = np.array(GIVEN_MALE, dtype=object)[rng.integers(0, len(GIVEN_MALE), n)]
    giv_f = np.array(GIVEN_FEMALE, dtype=object)[rng.integers(0, len(GIVEN_FEMALE), n)]
    middle = np.where(male, mid_m, mid_f)
    given = np.where(male, giv_m, giv_f)
    names = [f"{a} {b} {c}" for a, b, c in zip(family, middle, given)]

    year = rng.integers(1940, 2004, n)
    century_digit = np.where(year >= 2000, 2, 0) + np.where(male, 0, 1)
    serial = rng.integers(0, 1_000_000, n)
    ids = [
        f"{cccd_prefix}{c}{y % 100:02d}{s:06d}"
        for c, y, s in zip(century_digit.tolist(), year.tolist(), serial.tolist())
    ]
    return names, ids
