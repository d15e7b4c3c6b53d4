"""Province-specific facts, kept in one place.

Everything the generator needs to know about a real province lives in a
`ProvinceSpec`: its name and code, its VN-2000 TM-3 CRS, where it is, which
communes to draw and the names of the rivers, roads and plan decisions that
appear in the data. The rest of the generator is province-agnostic, so a later
``--province <code>`` option only has to add one more spec to `PROVINCES`.

Commune codes and names come from the PyPI package ``vietnam-provinces``
(data version 2026-09-20, post-1 July 2025 divisions: province + commune, no
district). They are copied here rather than imported so that the generator does
not need that package at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CommuneSpec:
    """One commune (xã) or ward (phường) after the 2025 reform."""

    code: str  # 5-digit national code, kept as text (leading zeros matter elsewhere)
    name: str  # name without the "Xã"/"Phường" prefix
    kind: str  # "Xã" or "Phường"
    villages: tuple[str, ...]  # thôn names used in addresses of residential parcels
    fields: tuple[str, ...]  # xứ đồng names used in addresses of farmland parcels
    former: tuple[str, ...] = ()  # pre-2025 units merged into it (for the README)

    @property
    def full_name(self) -> str:
        """E.g. "Xã Văn Giang"."""
        return f"{self.kind} {self.name}"

    @property
    def authority(self) -> str:
        """The commune People's Committee, owner of state land: "UBND xã Văn Giang"."""
        return f"UBND {self.kind.lower()} {self.name}"


@dataclass(frozen=True)
class Decision:
    """An approval decision (number, date, authority) of a plan version."""

    version_id: str
    number: str  # e.g. "1234/QĐ-UBND"
    date: str  # ISO date
    authority: str


@dataclass(frozen=True)
class ProvinceSpec:
    """All province-specific facts the generator uses."""

    code: str  # 2-digit province code (post-2025), as text
    name: str  # "Hưng Yên"
    slug: str  # output folder name, e.g. "hung_yen"
    epsg: int  # VN-2000 TM-3 EPSG code of the province's cadastral data
    centre_lonlat: tuple[float, float]  # where the sample communes are centred
    communes: tuple[CommuneSpec, ...]
    cccd_prefix: str  # 3-digit place-of-birth prefix of citizen ID numbers
    river_name: str
    canal_name: str
    provincial_road: tuple[str, str]  # (short code, full name) crossing the communes W-E
    national_road: tuple[str, str]  # (short code, full name) crossing N-S
    plan_v1: Decision
    plan_v2: Decision
    construction_plan: Decision
    construction_plan_title: str
    construction_plan_commune: str  # code of the commune the 1/2000 plan covers
    extra_village_names: tuple[str, ...] = field(default=())

    def communes_for(self, n: int) -> list[CommuneSpec]:
        """The first `n` communes: the real ones, then synthetic ones for scale tests.

        Synthetic communes get codes 90000+ (no real commune uses them) and names
        "Xã Mẫu NNN", so that a million-parcel file is obviously not real data.
        """
        out = list(self.communes[:n])
        pool = self.extra_village_names or ("Đông", "Đoài", "Nam", "Bắc", "Trung")
        for i in range(len(out), n):
            villages = tuple(pool[(i + k) % len(pool)] for k in range(4))
            out.append(
                CommuneSpec(
                    code=f"{90000 + i:05d}",
                    name=f"Mẫu {i:03d}",
                    kind="Xã",
                    villages=villages,
                    fields=("Đồng Trên", "Đồng Dưới", "Đồng Giữa", "Đồng Sau"),
                )
            )
        return out

    @property
    def province_label(self) -> str:
        """E.g. "tỉnh Hưng Yên" (as written at the end of an address)."""
        return f"tỉnh {self.name}"


HUNG_YEN = ProvinceSpec(
    code="33",
    name="Hưng Yên",
    slug="hung_yen",
    epsg=9209,  # VN-2000 / TM-3 105°30' (former Hưng Yên keeps this meridian)
    centre_lonlat=(105.985, 20.905),  # between Văn Giang and Khoái Châu
    cccd_prefix="033",  # place-of-birth code of Hưng Yên in citizen ID numbers
    communes=(
        CommuneSpec(
            code="12049",
            name="Mễ Sở",
            kind="Xã",
            villages=("Mễ Sở", "Đa Ngưu", "Bình Trù", "Thắng Lợi"),
            fields=("Bãi Giữa", "Đồng Chằm", "Cửa Đình", "Đồng Sậy"),
            former=("Xã Thắng Lợi", "Xã Mễ Sở", "Xã Bình Minh"),
        ),
        CommuneSpec(
            code="12019",
            name="Văn Giang",
            kind="Xã",
            villages=("Đông", "Đoài", "Liên Nghĩa", "Tân Tiến"),
            fields=("Đồng Quan", "Cửa Chùa", "Bãi Nổi", "Đồng Mả"),
            former=("Thị trấn Văn Giang", "Xã Liên Nghĩa", "Xã Tân Tiến"),
        ),
        CommuneSpec(
            code="12031",
            name="Nghĩa Trụ",
            kind="Xã",
            villages=("Nghĩa Trụ", "Long Hưng", "Vĩnh Khúc", "Phú Thị"),
            fields=("Đồng Cao", "Đồng Trũng", "Đồng Gò", "Cửa Đền"),
            former=("Xã Nghĩa Trụ", "Xã Long Hưng", "Xã Vĩnh Khúc"),
        ),
    ),
    river_name="sông Bắc Hưng Hải",
    canal_name="kênh Trung Thủy Nông",
    provincial_road=("ĐT.379", "Đường tỉnh 379"),
    national_road=("QL.39", "Quốc lộ 39"),
    plan_v1=Decision("qhsdd-2030", "1234/QĐ-UBND", "2024-03-15", "UBND tỉnh Hưng Yên"),
    plan_v2=Decision("qhsdd-2030-dc1", "2468/QĐ-UBND", "2025-09-22", "UBND tỉnh Hưng Yên"),
    construction_plan=Decision("qhpk-vangiang-2025", "3157/QĐ-UBND", "2025-11-20", "UBND tỉnh Hưng Yên"),
    construction_plan_title="Quy hoạch phân khu tỷ lệ 1/2000 khu trung tâm xã Văn Giang",
    construction_plan_commune="12019",
    extra_village_names=(
        "Đông",
        "Đoài",
        "Thượng",
        "Hạ",
        "Trung",
        "Cầu",
        "Chợ",
        "Đình",
        "Nội",
        "Ngoại",
        "Tiền",
        "Hậu",
        "Kim",
        "Phú",
        "An",
        "Bình",
    ),
)

PROVINCES: dict[str, ProvinceSpec] = {HUNG_YEN.code: HUNG_YEN, HUNG_YEN.slug: HUNG_YEN}
