"""Attribute rules for one batch, vectorised with Arrow compute.

Text is trimmed and NFC-normalised in C (``pyarrow.compute``); values from small
domains (land-use codes, listed values) are mapped through the column's dictionary,
so a million rows cost a handful of unique lookups. Only the rare flagged rows are
visited one by one, to write their findings.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bando.codes import land_use_codes, legacy_codes
from bando.layers.model import LayerField
from bando.province import TIMEZONE

Flag = Callable[[np.ndarray, str, str, Callable[[int], str]], None]
ARROW_TYPES = {
    "text": pa.string(),
    "integer": pa.int64(),
    "real": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(),
}
TRUE = {"true", "1", "yes", "có", "co", "t", "y"}
FALSE = {"false", "0", "no", "không", "khong", "f", "n"}


def is_text(arr: pa.Array) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def map_values(arr: pa.Array, fn: Callable[[str], str | None]) -> pa.Array:
    """Apply fn to each distinct string once (through the dictionary), keep nulls."""
    encoded = pc.dictionary_encode(arr)
    mapped = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], type=pa.string())
    return pc.take(mapped, encoded.indices)


def clean_text(arr: pa.Array) -> pa.Array:
    if not is_text(arr):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def coerce(arr: pa.Array, f: LayerField, flag: Flag) -> pa.Array:
    """The column as the field's type; unparsable values flagged ``type.invalid`` and nulled."""
    if f.type == "text":
        return clean_text(arr)
    if f.type in ("integer", "real") and (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        as_float = pc.cast(arr, pa.float64())
        if f.type == "integer" and pa.types.is_floating(arr.type):
            frac = _mask(pc.not_equal(pc.floor(as_float), as_float))
            if frac.any():
                flag(frac, "type.invalid", "error", lambda k: f"{f.name} = {arr[k].as_py()} is not a whole number")
                as_float = pc.if_else(pa.array(frac), pa.scalar(None, pa.float64()), as_float)
        return pc.cast(as_float, ARROW_TYPES[f.type]) if f.type == "integer" else as_float
    # Text (CSV, DBF) and the rarer types go through pandas' lenient parsers.
    text = clean_text(arr)
    series = pd.Series(text.to_pylist(), dtype=object)
    present = series.notna().to_numpy()
    if f.type in ("integer", "real"):
        values = pd.to_numeric(series.str.replace(",", ".", regex=False), errors="coerce")
        bad = present & values.isna().to_numpy()
        if f.type == "integer":
            bad |= present & values.notna().to_numpy() & (values.fillna(0) % 1 != 0).to_numpy()
        out = pa.array(values.where(~bad), type=pa.float64(), from_pandas=True)
        out = pc.cast(out, pa.int64()) if f.type == "integer" else out
    elif f.type == "boolean":
        lowered = series.str.lower()
        values = lowered.map(lambda v: True if v in TRUE else False if v in FALSE else None)
        bad = present & values.isna().to_numpy()
        out = pa.array(values, type=pa.bool_(), from_pandas=True)
    else:
        parsed = _times(series)
        bad = present & parsed.isna().to_numpy()
        if f.type == "date":
            out = pa.array(parsed.dt.date.where(parsed.notna(), None), type=pa.date32(), from_pandas=True)
        else:
            if parsed.dt.tz is None:
                parsed = parsed.dt.tz_localize(TIMEZONE)
            out = pa.array(parsed.dt.tz_convert("UTC"), type=ARROW_TYPES["datetime"], from_pandas=True)
    if bad.any():
        what = {
            "integer": "whole number",
            "real": "number",
            "boolean": "yes/no value",
            "date": "date",
            "datetime": "date-time",
        }[f.type]
        flag(bad, "type.invalid", "error", lambda k: f"{f.name} = {str(series[k])[:60]!r} is not a valid {what}")
    return out


def _times(series: pd.Series) -> pd.Series:
    """Parsed dates and times. A column mixing UTC offsets (``+07:00`` and ``Z``), or offsets
    and none, is parsed value by value: each without an offset in the province's time, all
    then in UTC (pandas refuses such a column whole)."""
    try:
        parsed = pd.to_datetime(series, errors="coerce", format="mixed")
        if parsed.dtype != object:
            return parsed
    except (ValueError, TypeError):
        pass

    def one(value: object) -> pd.Timestamp:
        stamp = pd.to_datetime(value, errors="coerce") if value is not None else pd.NaT
        if stamp is pd.NaT:
            return pd.NaT
        return (stamp.tz_localize(TIMEZONE) if stamp.tzinfo is None else stamp).tz_convert("UTC")

    return pd.Series(pd.to_datetime([one(v) for v in series], utc=True), index=series.index)


def check_domain(arr: pa.Array, f: LayerField, flag: Flag) -> pa.Array:
    """Required values and domains; returns the column with spellings and legacy codes mapped."""
    if f.required:
        missing = _mask(pc.is_null(arr))
        if missing.any():
            flag(missing, "required.missing", "error", lambda k: f"{f.name} is required but empty")
    d = f.domain
    if d is None:
        return arr
    if d.codes == "land_use":
        arr = _land_use(arr, f, flag)
    if d.values:
        allowed = [str(v) for v in d.values]
        canonical = {v.casefold(): v for v in allowed}
        arr = map_values(pc.cast(arr, pa.string()), lambda v: canonical.get(v.casefold(), v)) if is_text(arr) else arr
        bad = _mask(pc.invert(pc.is_in(pc.cast(arr, pa.string()), value_set=pa.array(allowed)))) & ~_mask(
            pc.is_null(arr)
        )
        if bad.any():
            flag(
                bad,
                "domain.invalid_value",
                "error",
                lambda k: f"{f.name} = {arr[k].as_py()!r} is not one of {', '.join(sorted(allowed))}",
            )
    if (d.min is not None or d.max is not None) and not is_text(arr):
        num = pc.cast(arr, pa.float64())
        low = _mask(pc.less(num, d.min)) if d.min is not None else False
        high = _mask(pc.greater(num, d.max)) if d.max is not None else False
        bad = np.asarray(low | high, dtype=bool)
        if bad.any():
            flag(
                bad,
                "domain.out_of_range",
                "error",
                lambda k: f"{f.name} = {arr[k].as_py()} is outside [{d.min}, {d.max}]",
            )
    return arr


def _land_use(arr: pa.Array, f: LayerField, flag: Flag) -> pa.Array:
    codes, legacy = land_use_codes(), legacy_codes()
    upper = pc.utf8_upper(arr)
    is_legacy = _mask(pc.is_in(upper, value_set=pa.array(list(legacy))))
    if is_legacy.any():
        flag(
            is_legacy,
            "domain.legacy_code",
            "note",
            lambda k: (
                f"{f.name}: legacy code {upper[k].as_py()} recorded as {legacy[upper[k].as_py()].code} "
                f"({legacy[upper[k].as_py()].note})"
            ),
        )
        upper = map_values(upper, lambda v: legacy[v].code if v in legacy else v)
    unknown = ~_mask(pc.is_in(upper, value_set=pa.array(list(codes)))) & ~_mask(pc.is_null(upper))
    if unknown.any():
        flag(
            unknown,
            "domain.unknown_code",
            "error",
            lambda k: (
                f"{f.name} = {arr[k].as_py()!r} is not a land-use code of Thông tư 08/2024 nor a known legacy code"
            ),
        )
    return upper
