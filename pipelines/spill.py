"""The delivered rows' geometries, kept beside a load for its overlap check.

While the rows stream to PostgreSQL, each batch's feature ids, partitions (communes)
and EWKB are appended to an unnamed, owner-only Arrow file (``O_TMPFILE``: it
disappears with the process, even a killed one), and each partition's row count,
highest id and extent are tallied. Once the COPY ends, the overlap check reads the
file back in the order it was written and gets each partition whole as soon as its
last row is read, so memory follows the open partitions, not the layer. PostgreSQL
meanwhile builds the indexes: nothing is read back from the server.
"""

from __future__ import annotations

import tempfile
from collections.abc import Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = pa.schema([("key", pa.string()), ("fid", pa.int64()), ("wkb", pa.large_binary())])
Box = tuple[float, float, float, float]


class Spill:
    """Rows appended batch by batch; partitions read back whole, in the order they complete."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (mode 0600, no name; closed by close())
        self._writer: pa.ipc.RecordBatchStreamWriter | None = pa.ipc.new_stream(
            pa.PythonFile(self._file, mode="w"), SCHEMA
        )
        self._writing = ThreadPoolExecutor(1)  # the disk's pace is not the load's: one batch written behind
        self._written: Future | None = None
        #: per partition: rows, highest fid, extent (x0, y0, x1, y1)
        self.stats: dict[Hashable, tuple[int, int, Box]] = {}

    def add(self, keys: pa.Array | pa.ChunkedArray | None, fids: np.ndarray, wkb: pa.Array, bounds: np.ndarray) -> None:
        """One batch: partition values (None: the layer has no partition), ids, EWKB, bounds (n × 4)."""
        assert self._writer is not None, "the spill is closed for writing"
        n = len(fids)
        if keys is None:
            keys = pa.nulls(n, pa.string())
        keys = pc.cast(keys, pa.string())
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        batch = pa.record_batch([keys, pa.array(fids, pa.int64()), pc.cast(wkb, pa.large_binary())], schema=SCHEMA)
        self._wait()
        self._written = self._writing.submit(self._writer.write_batch, batch)
        sums = (
            pa.table(
                {"k": keys, "fid": fids, "x0": bounds[:, 0], "y0": bounds[:, 1], "x1": bounds[:, 2], "y1": bounds[:, 3]}
            )
            .group_by("k")
            .aggregate([("fid", "count"), ("fid", "max"), ("x0", "min"), ("y0", "min"), ("x1", "max"), ("y1", "max")])
            .to_pylist()
        )
        for s in sums:
            k, box = s["k"], (s["x0_min"], s["y0_min"], s["x1_max"], s["y1_max"])
            old = self.stats.get(k)
            if old is None:
                self.stats[k] = (s["fid_count"], s["fid_max"], box)
                continue
            ob = old[2]
            merged = (min(ob[0], box[0]), min(ob[1], box[1]), max(ob[2], box[2]), max(ob[3], box[3]))
            self.stats[k] = (old[0] + s["fid_count"], max(old[1], s["fid_max"]), merged)

    def parts(self, wanted: set[Hashable]) -> Iterator[tuple[Hashable, np.ndarray, pa.Array]]:
        """(partition, fids, EWKB) of each wanted partition, once its last row has been read back."""
        self._finish_writing()
        self._file.seek(0)
        chunks: dict[Hashable, list[tuple[np.ndarray, pa.Array]]] = {}
        seen: dict[Hashable, int] = {}
        with pa.ipc.open_stream(pa.PythonFile(self._file, mode="r")) as reader:
            for batch in reader:
                encoded = pc.dictionary_encode(batch.column(0))
                values = encoded.dictionary.to_pylist()
                codes = encoded.indices.fill_null(len(values)).to_numpy()  # null: the last code
                order = np.argsort(codes, kind="stable")
                cuts = np.flatnonzero(np.diff(codes[order])) + 1
                fids = batch.column(1).to_numpy()
                for rows in np.split(order, cuts):
                    code = int(codes[rows[0]])
                    key = values[code] if code < len(values) else None
                    if key not in wanted:
                        continue
                    chunks.setdefault(key, []).append((fids[rows], batch.column(2).take(pa.array(rows))))
                    seen[key] = seen.get(key, 0) + len(rows)
                    if seen[key] == self.stats[key][0]:
                        done = chunks.pop(key)
                        yield key, np.concatenate([f for f, _ in done]), pa.concat_arrays([w for _, w in done])

    def _wait(self) -> None:
        if self._written is not None:
            self._written.result()  # a full disk fails the load here
            self._written = None

    def _finish_writing(self) -> None:
        if self._writer is not None:
            self._wait()
            self._writer.close()
            self._writer = None
        self._writing.shutdown()

    def close(self) -> None:
        """Let go of the file (a write that failed has already failed the load, or had no reader)."""
        self._writing.shutdown()
        self._writer = None
        self._file.close()
