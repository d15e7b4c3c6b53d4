"""Every load accounted for, the same way for vector and raster layers.

Takes the layer's load lock, answers "same file again" with a no-op row, opens the
lineage row, runs the build, and whatever happens — published, refused, failed or
killed — closes the row with counts, the outcome and the JSON report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg

from bando import deployment
from bando.errors import LoadRefused
from bando.pipelines.lineage import Lineage
from bando.pipelines.normalise import Issue
from bando.pipelines.parallel import WorkerLost
from bando.pipelines.report import LoadResult, Tally, check_writable, write_json
from bando.pipelines.sources import FileRefused, sha256
from bando.province import Province
from bando.settings import Settings

Build = Callable[[Lineage, LoadResult], None]


def accounted(
    layer_id: str,
    source: Path,
    *,
    url: str,
    settings: Settings,
    province: Province,
    catalogue_version: str,
    version_id: str | None,
    force: bool,
    dry_run: bool,
    build: Build,
    listener: Callable[[str, float | None], None] | None = None,
) -> LoadResult:
    check_writable(settings.home / "reports")
    result = LoadResult(layer=layer_id, source=str(source), outcome="failed", version_id=version_id, listener=listener)
    started = time.monotonic()
    lineage = Lineage(url, layer_id)
    hashing = ThreadPoolExecutor(1)
    try:
        deployment.check(lineage.conn, province)
        lineage.lock()
        # A forced or dry run only records the delivery's checksum: it is taken beside the load.
        checksum_of = hashing.submit(sha256, source) if source.exists() else None
        checksum = checksum_of.result() if checksum_of is not None and not (force or dry_run) else None
        row = {
            "source_path": str(source),
            "source_sha256": checksum,
            "catalogue_version": catalogue_version,
            "version_id": version_id,
        }
        previous = (
            lineage.previous_publish(checksum, catalogue_version, version_id)
            if checksum and not (force or dry_run)
            else None
        )
        result.lineage_id = lineage.start(**row)
        if previous is not None:
            result.outcome = "noop"
            result.message = f"same file as load #{previous}, already published; nothing to do (use --force to reload)"
            lineage.finish("noop", message=result.message)
            return result
        try:
            build(lineage, result)
        except FileRefused as exc:
            if exc.rule == "crs.missing":  # say which CRSs this province's deliveries come in
                zones = ", ".join(f"EPSG:{z}" for z in province.accepted_srids)
                exc = FileRefused(exc.rule, f"{exc} (deliveries for {province.name} are in VN-2000 TM-3: {zones})")
            result.outcome, result.message = "refused", str(exc)
            lineage.file_reject(exc.rule, str(exc))
            tally = Tally()
            tally.add([Issue(-1, exc.rule, "error", str(exc))])
            result.rules = tally.summaries()
        except LoadRefused as exc:
            result.outcome, result.message = "refused", str(exc)
        except WorkerLost as exc:
            result.outcome = "failed"
            result.message = f"{exc}; nothing was published. Run the load again."
        except (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory, psycopg.errors.InsufficientResources) as exc:
            what = "disk space" if isinstance(exc, psycopg.errors.DiskFull) else "resources"
            result.outcome = "failed"
            result.message = (
                f"the database server ran out of {what} during the load; nothing was published. "
                f"Free {what} on the database server and run the load again."
            )
        except BaseException as exc:
            result.outcome = "failed"
            result.message = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"failed: {type(exc).__name__}"
            raise
        finally:
            result.duration_s = round(time.monotonic() - started, 3)
            result.report_path = str(write_json(result, settings.home / "reports"))
            taken = {"source_sha256": _taken(checksum_of)} if checksum is None and checksum_of is not None else {}
            lineage.finish(
                result.outcome,
                rows_read=result.rows_read,
                rows_loaded=result.rows_loaded,
                rows_rejected=result.rows_rejected,
                rows_repaired=result.rows_repaired,
                rows_warned=result.rows_warned,
                source_crs=result.crs,
                encoding=result.encoding,
                encoding_note=result.encoding_note,
                message=result.message,
                report=result.to_json(),
                **taken,
            )
    finally:
        lineage.close()
        hashing.shutdown(wait=False)
    return result


def _taken(checksum_of: Future[str]) -> str | None:
    """The checksum taken beside the load; None if the file could not be read to its end."""
    try:
        return checksum_of.result()
    except OSError:
        return None
