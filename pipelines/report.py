"""What the steward reads after a load: a summary by rule, and the same as a JSON file."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bando.errors import SetupError
from bando.pipelines.normalise import Issue

EXAMPLES = 3


@dataclass
class RuleSummary:
    rule: str
    severity: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class FileResult:
    """One file of a delivery: its rows (from ``first_index`` in the delivery's numbering) and how it was read."""

    name: str
    first_index: int
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    crs: str | None = None
    encoding: str | None = None
    encoding_note: str | None = None


@dataclass
class LoadResult:
    layer: str
    source: str
    outcome: str  # published | refused | noop | dry-run | failed
    lineage_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_repaired: int = 0
    rows_warned: int = 0
    duration_s: float = 0.0
    crs: str | None = None
    encoding: str | None = None
    encoding_note: str | None = None
    version_id: str | None = None
    message: str = ""
    rules: list[RuleSummary] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, for the steward and benchmarks
    report_path: str | None = None
    files: list[FileResult] = field(default_factory=list)  # every file of the delivery, in reading order
    #: told (phase, None) when a phase starts and (phase, seconds) when it ends: progress output
    listener: Callable[[str, float | None], None] | None = field(default=None, repr=False, compare=False)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        if self.listener:
            self.listener(name, None)
        try:
            yield
        finally:
            took = time.perf_counter() - started
            self.phases[name] = round(self.phases.get(name, 0.0) + took, 3)
            if self.listener:
                self.listener(name, took)

    def to_json(self) -> dict:
        listener, self.listener = self.listener, None  # asdict would deep-copy it (and its console)
        try:
            data = asdict(self)
        finally:
            self.listener = listener
        data.pop("listener", None)
        return data


class Tally:
    """Counts issues by rule as batches stream past, keeping a few examples of each."""

    def __init__(self) -> None:
        self.by_rule: dict[tuple[str, str], RuleSummary] = {}
        self.rejected_rows: set[int] = set()
        self.warned_rows: set[int] = set()

    def add(self, issues: list[Issue]) -> None:
        for i in issues:
            s = self.by_rule.setdefault((i.rule, i.severity), RuleSummary(i.rule, i.severity))
            s.count += 1
            if len(s.examples) < EXAMPLES:
                s.examples.append(f"row {i.index}: {i.reason}")
            (self.rejected_rows if i.severity == "error" else self.warned_rows).add(i.index)

    def merge(self, other: Tally) -> None:
        """Add another tally's findings (a piece staged elsewhere), keeping the first examples."""
        for key, theirs in other.by_rule.items():
            mine = self.by_rule.setdefault(key, RuleSummary(theirs.rule, theirs.severity))
            mine.count += theirs.count
            mine.examples += theirs.examples[: EXAMPLES - len(mine.examples)]
        self.rejected_rows |= other.rejected_rows
        self.warned_rows |= other.warned_rows

    def summaries(self) -> list[RuleSummary]:
        order = defaultdict(int, {"error": 0, "warning": 1, "note": 2})
        return sorted(self.by_rule.values(), key=lambda s: (order[s.severity], -s.count, s.rule))


def write_json(result: LoadResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.layer}-{result.lineage_id or 'x'}.json"
    path.write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return path


def check_writable(folder: Path) -> None:
    """Refuse to start a load whose report could not be written (read-only folder, full disk):
    found out only after the publish, it would leave a published layer and a crashed command."""
    probe = folder / f".write-check-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with probe.open("wb") as fh:
            fh.write(bytes(64 * 1024))  # more than a load report takes
    except OSError as exc:
        reason = "not a folder" if isinstance(exc, (FileExistsError, NotADirectoryError)) else exc.strerror
        raise SetupError(
            f"cannot write load reports to {folder} ({reason or type(exc).__name__}); "
            "nothing was loaded. Free space or fix the folder, or set BANDO_HOME."
        ) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
