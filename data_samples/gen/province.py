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

EPSG codes are never typed: they come from bando's own VN-2000 zone table
(``bando.crs.tm3_for_province(<pre-2025 province name>)``), the same table bando
uses to accept and store deliveries. A merged province (e.g. Tây Ninh, which
since 1 July 2025 includes former Long An) lists one `ParcelDelivery` per former
province: each former province's cadastre keeps its own meridian.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bando.crs import tm3_for_province


def tm3_epsg(former_province: str) -> int:
    """EPSG code of the VN-2000 TM-3 zone of a pre-2025 province (bando's zone table)."""
    return tm3_for_province(former_province).epsg


@dataclass(frozen=True)
class CommuneSpec:
    """One commune (xã) or ward (phường) after the 2025 reform."""

    code: str  # 5-digit national code, kept as text (leading zeros matter elsewhere)
    name: str  # name without the "Xã"/"Phường" prefix
    kind: str  # "Xã" or "Phường"
    villages: tuple[str, ...]  # thôn names used in addresses of residential parcels
    fields: tuple[str, ...]  # xứ đồng names used in addresses of farmland parcels
    former: tuple[str, ...] = ()  # pre-2025 units merged into it (for the README)
    # pre-2025 province its cadastre comes from (decides the parcel delivery and its CRS);
    # "" = the province's first parcel delivery (the part whose name the province kept)
    former_province: str = ""
    cccd_prefix: str = ""  # place-of-birth code of its people's citizen IDs; "" = the province's
    village_word: str = ""  # "Thôn", "Ấp", "Khu phố"…; "" = the province's

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
class ParcelDelivery:
    """One cadastral parcel file: the communes of one former province, in its TM-3 zone."""

    filename: str  # e.g. "parcels_long_an_cu.gpkg"
    former_province: str  # pre-2025 province name, as in bando's zone table
    epsg_override: int | None = None  # only for a province missing from the zone table

    @property
    def epsg(self) -> int:
        return self.epsg_override or tm3_epsg(self.former_province)


@dataclass(frozen=True)
class ProvinceSpec:
    """All province-specific facts the generator uses."""

    code: str  # 2-digit province code (post-2025), as text
    name: str  # "Hưng Yên"
    slug: str  # output folder name, e.g. "hung_yen"
    epsg: int  # VN-2000 TM-3 EPSG code of the layout and storage (merged: the part that kept the name)
    centre_lonlat: tuple[float, float]  # where the sample communes are centred
    communes: tuple[CommuneSpec, ...]
    cccd_prefix: str  # 3-digit place-of-birth prefix of citizen ID numbers
    river_name: str
    canal_name: str
    provincial_road: tuple[str, str]  # (short code, full name) crossing the communes W-E
    national_road: tuple[str, str]  # (short code, full name) crossing N-S
    plan_v1: Decision
    plan_v2: Decision | None  # None: the plan has one version only
    construction_plan: Decision
    construction_plan_title: str
    construction_plan_commune: str  # code of the commune the 1/2000 plan covers
    extra_village_names: tuple[str, ...] = field(default=())
    # one file per former province whose cadastre the province inherits; empty: one
    # parcels.gpkg in `epsg` holding every commune
    parcel_deliveries: tuple[ParcelDelivery, ...] = ()
    grid_cols: int | None = None  # commune layout columns (None: one row of up to 4)
    default_parcels: int = 5000  # parcels drawn when --parcels is not given
    datasets: tuple[str, ...] | None = None  # datasets written by default (None: all)
    manifest_at_root: bool = False  # manifest in OUT/ (True) or in OUT/<slug>/ (False)
    village_word: str = "Thôn"  # hamlet word in addresses: "Thôn" (north), "Ấp" (south)
    field_word: str = "Xứ đồng"  # word before a farmland area's name in addresses
    national_road_class: str = "Quốc lộ"  # capDuong of the N-S trunk road
    # snap-rounding grid (m) of delivered parcel coordinates, so no zero-width spike
    # turns invalid when reprojected; None: raw doubles (kept for Hưng Yên's committed files)
    parcel_grid: float | None = None

    @property
    def deliveries(self) -> tuple[ParcelDelivery, ...]:
        """The parcel files, in order; the first is the storage part's."""
        return self.parcel_deliveries or (ParcelDelivery("parcels.gpkg", self.name, self.epsg),)

    def delivery_for(self, commune: CommuneSpec) -> ParcelDelivery:
        """The parcel file a commune's parcels go to (synthetic communes: the first)."""
        for d in self.deliveries:
            if commune.former_province and d.former_province == commune.former_province:
                return d
        return self.deliveries[0]

    def village_word_of(self, commune: CommuneSpec) -> str:
        return commune.village_word or self.village_word

    def cccd_prefix_of(self, commune: CommuneSpec) -> str:
        return commune.cccd_prefix or self.cccd_prefix

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
    epsg=tm3_epsg("Hưng Yên"),  # VN-2000 / TM-3 105°30' (former Hưng Yên keeps it)
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
    manifest_at_root=True,  # data_samples/manifest.yml, where the demo and the docs expect it
)


# Tây Ninh since 1 July 2025 = former Tây Ninh (TM-3 105°30') + former Long An
# (105°45'). Four real communes meeting at the old provincial border between
# Trảng Bàng (Tây Ninh) and Đức Huệ / Đức Hòa (Long An), laid out 2 x 2: the former
# Tây Ninh communes in the north row, the former Long An ones in the south row, so the
# row boundary is the old provincial border; sông Vàm Cỏ Đông runs N-S between the columns.
TAY_NINH = ProvinceSpec(
    code="80",
    name="Tây Ninh",
    slug="tay_ninh",
    epsg=tm3_epsg("Tây Ninh"),  # storage zone: the part whose name the province kept
    centre_lonlat=(106.335, 11.025),  # south of Trảng Bàng, north of Lộc Giang (Đức Hòa)
    cccd_prefix="072",  # place-of-birth code of (former) Tây Ninh
    communes=(
        CommuneSpec(  # north-west: west bank of the Vàm Cỏ Đông, former Tây Ninh
            code="25729",
            name="Phước Chỉ",
            kind="Xã",
            villages=("Phước Mỹ", "Phước Hòa", "Bình Phú", "Phước Lợi"),
            fields=("Rạch Sẻ", "Bình Hòa", "Phước Giang", "Bình Quới"),
            former=("Xã Phước Bình", "Xã Phước Chỉ"),
            former_province="Tây Ninh",
            village_word="Ấp",
        ),
        CommuneSpec(  # north-east: east bank, former Tây Ninh (former Phường An Hòa borders Lộc Giang)
            code="25708",
            name="Trảng Bàng",
            kind="Phường",
            villages=("Lộc An", "Lộc Du", "An Phú", "An Hội"),
            fields=("Lộc Vĩnh", "An Thới", "Suối Cao", "Lộc Trung"),
            former=("Phường Trảng Bàng", "Phường An Hòa"),
            former_province="Tây Ninh",
            village_word="Khu phố",
        ),
        CommuneSpec(  # south-west: west bank, former Long An (north of Đức Huệ)
            code="27907",
            name="Mỹ Quý",
            kind="Xã",
            villages=("Mỹ Thạnh", "Quý Hòa", "Mỹ Lợi", "Quý Tân"),
            fields=("Mỹ Hòa", "Quý Bình", "Mỹ Phú", "Quý Lộc"),
            former=("Xã Mỹ Quý Đông", "Xã Mỹ Thạnh Bắc", "Xã Mỹ Quý Tây"),
            former_province="Long An",
            cccd_prefix="080",  # former Long An
            village_word="Ấp",
        ),
        CommuneSpec(  # south-east: east bank, former Long An (former Xã Lộc Giang, north tip of Đức Hòa)
            code="27943",
            name="An Ninh",
            kind="Xã",
            villages=("Lộc Chánh", "Lộc Bình", "Lộc Thạnh", "Lộc Hưng"),
            fields=("Lộc An", "Lộc Thuận", "Lộc Hòa", "An Thủy"),
            former=("Xã Lộc Giang", "Xã An Ninh Đông", "Xã An Ninh Tây"),
            former_province="Long An",
            cccd_prefix="080",
            village_word="Ấp",
        ),
    ),
    river_name="sông Vàm Cỏ Đông",
    canal_name="kênh Thầy Cai",
    provincial_road=("ĐT.787A", "Đường tỉnh 787A"),
    national_road=("ĐT.821", "Đường tỉnh 821"),  # the N-S trunk crossing the old border (Lộc Giang – Trảng Bàng)
    national_road_class="Đường tỉnh",
    plan_v1=Decision("qhsdd-2030", "2315/QĐ-UBND", "2025-10-28", "UBND tỉnh Tây Ninh"),
    plan_v2=None,
    construction_plan=Decision("qhpk-phuocchi-2025", "2790/QĐ-UBND", "2025-12-10", "UBND tỉnh Tây Ninh"),
    construction_plan_title="Quy hoạch phân khu tỷ lệ 1/2000 khu trung tâm xã Phước Chỉ",
    construction_plan_commune="25729",
    extra_village_names=("An", "Bình", "Phú", "Hòa", "Thạnh", "Lộc", "Phước", "Long", "Tân", "Mỹ", "Hưng", "Lợi"),
    # the cadastre arrives as it was surveyed: one file per former province, each in its meridian
    parcel_deliveries=(
        ParcelDelivery("parcels_tay_ninh_cu.gpkg", "Tây Ninh"),  # TM-3 105°30′
        ParcelDelivery("parcels_long_an_cu.gpkg", "Long An"),  # TM-3 105°45′
    ),
    grid_cols=2,
    default_parcels=1500,  # gives ~1 750 (small communes have more boundary pieces)
    datasets=(
        "communes",
        "parcels",
        "land_use_status",
        "land_use_plan",
        "construction_plan",
        "infrastructure",
        "ioc",
        "flood_depth",
        "manifest",
    ),
    village_word="Ấp",
    field_word="Cánh đồng",
    parcel_grid=1e-6,
)

PROVINCES: dict[str, ProvinceSpec] = {key: spec for spec in (HUNG_YEN, TAY_NINH) for key in (spec.code, spec.slug)}
