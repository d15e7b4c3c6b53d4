"""Attribute coercion of text columns (CSV, DBF): what a source may mix, and what it may not."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from bando.layers.catalogue import load as load_catalogue
from bando.pipelines.attributes import coerce


def test_a_column_mixing_utc_offsets_is_read_value_by_value_in_province_time() -> None:
    """Gateways differ: one writes +07:00, one Z, a spreadsheet nothing; all mean one instant."""
    field = next(layer for layer in load_catalogue() if layer.id == "sensor_readings").field("thoiGian")
    found: list[tuple[list[int], str]] = []
    column = pa.array(["2026-10-01T08:00:00+07:00", "2026-10-01T01:00:00Z", "2026-10-01 08:00", "hôm qua", None])
    out = coerce(column, field, lambda mask, rule, severity, why: found.append((list(np.flatnonzero(mask)), rule)))
    instant = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)
    assert out.to_pylist()[:3] == [instant] * 3 and out.to_pylist()[3:] == [None, None]
    assert found == [([3], "type.invalid")]  # the text that is no time at all is refused, not the load
