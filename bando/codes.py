"""Land-use code tables (Thông tư 08/2024/TT-BTNMT), read from the CSV files they live in.

The same files feed the database tables (see :mod:`bando.migrate`), the pipelines'
domain rule and the legends; the code list is data, never code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class LandUseCode:
    code: str
    name_vi: str
    name_en: str
    group: str  # NNP agricultural, PNN non-agricultural, CSD unused
    colour: str


@dataclass(frozen=True)
class LegacyCode:
    legacy_code: str
    code: str
    note: str


@lru_cache(maxsize=1)
def land_use_codes() -> dict[str, LandUseCode]:
    with (DATA / "land_use_codes.csv").open(encoding="utf-8") as fh:
        return {
            r["code"]: LandUseCode(r["code"], r["name_vi"], r["name_en"], r["group"], r["colour"])
            for r in csv.DictReader(fh)
        }


@lru_cache(maxsize=1)
def legacy_codes() -> dict[str, LegacyCode]:
    with (DATA / "land_use_legacy.csv").open(encoding="utf-8") as fh:
        return {r["legacy_code"]: LegacyCode(r["legacy_code"], r["code"], r["note"]) for r in csv.DictReader(fh)}
