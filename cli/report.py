"""What a steward reads on the terminal after a load, and while it runs; fits 80 columns.

Lines are packed phrase by phrase ("CRS EPSG:9209", "rejected 12") and never broken
inside one, so a narrow terminal wraps between facts, not in the middle of them. On
a terminal the load shows a bar with its phase and rows/s; in a log (no terminal)
it prints one line per phase as each finishes.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bando.pipelines.report import LoadResult

SHOWN_FILES = 20  # files listed on the terminal; the report and `bando lineage --load` hold all


def packed(phrases: Iterable[str], width: int, indent: str = "  ", sep: str = " · ") -> list[str]:
    """Phrases joined into lines of at most ``width`` characters, breaking only between phrases."""
    lines: list[str] = []
    line = ""
    for phrase in phrases:
        if len(indent) + len(phrase) <= width:
            pieces = [phrase]
        else:  # prose longer than a line: wrap it between words
            pieces = textwrap.wrap(phrase, max(20, width - len(indent)), break_long_words=False)
        if len(pieces) > 1:
            if line:
                lines.append(line)
            lines += [f"{indent}{piece}" for piece in pieces]
            line = ""
            continue
        p = pieces[0] if pieces else ""
        candidate = f"{line}{sep}{p}" if line else f"{indent}{p}"
        if line and len(candidate) > width:
            lines.append(line)
            line = f"{indent}{p}"
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def _say(console: Console, phrases: Iterable[str], indent: str = "  ") -> None:
    for line in packed(phrases, console.width, indent):
        console.print(Text(line), soft_wrap=True)


def print_result(console: Console, result: LoadResult) -> None:
    colour = {"published": "green", "noop": "cyan", "dry-run": "cyan", "refused": "red"}.get(result.outcome, "red")
    head = f"{result.layer}: {result.outcome}"
    lines = textwrap.wrap(
        f"{head} — {result.message}", console.width, subsequent_indent="  ", break_long_words=False
    ) or [head]
    first = Text(lines[0])
    first.stylize(f"bold {colour}", 0, len(head))
    console.print(first, soft_wrap=True)
    for line in lines[1:]:
        console.print(Text(line), soft_wrap=True)
    if result.outcome != "noop":
        _say(
            console,
            [
                f"read {result.rows_read:,}",
                f"loaded {result.rows_loaded:,}",
                f"rejected {result.rows_rejected:,}",
                f"repaired {result.rows_repaired:,}",
                f"with warnings {result.rows_warned:,}",
                f"{result.duration_s:.1f} s",
            ],
        )
        _say(console, [f"CRS {result.crs or '—'}", f"encoding {result.encoding or '—'}"])
    if result.encoding_note:
        _say(console, [f"text: {result.encoding_note}"])
    if result.phases and result.duration_s > 5:
        _say(console, ["time:", *(f"{k} {v:.1f} s" for k, v in result.phases.items())])
    if len(result.files) > 1:
        console.print(files_table(result, console.width))
    if result.rules:
        table = Table(box=None, padding=(0, 1), width=min(console.width, 200))
        table.add_column("rule", no_wrap=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("count", justify="right", no_wrap=True)
        table.add_column("examples", overflow="fold")
        for r in result.rules:
            table.add_row(r.rule, r.severity, str(r.count), "\n".join(r.examples))
        console.print(table)
    if result.report_path:
        _say(console, [f"report: {result.report_path}", f"lineage #{result.lineage_id}"])


def files_table(result: LoadResult, width: int) -> Table:
    """Every file of a delivery (the first SHOWN_FILES, and those with rejects), one row each."""
    shown = [f for n, f in enumerate(result.files) if n < SHOWN_FILES or f.rows_rejected]
    table = Table(title=f"{len(result.files)} files", box=None, padding=(0, 1), width=min(width, 200))
    table.add_column("file", overflow="fold", ratio=1)
    for col in ("read", "loaded", "rejected"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("encoding", no_wrap=True)
    table.add_column("CRS", no_wrap=True)
    for f in shown:
        table.add_row(
            f.name, f"{f.rows_read:,}", f"{f.rows_loaded:,}", f"{f.rows_rejected:,}", f.encoding or "—", f.crs or "—"
        )
    if len(shown) < len(result.files):
        table.add_row(f"… {len(result.files) - len(shown)} more in the report", "", "", "", "", "")
    return table


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


class LoadProgress:
    """Rows and phases of a running load: a bar on a terminal, a line per phase elsewhere."""

    def __init__(self, console: Console, layer: str) -> None:
        self.console = console
        self.layer = layer
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.rows = 0
        self.started = time.perf_counter()

    @contextmanager
    def running(self) -> Iterator[LoadProgress]:
        if self.console.is_terminal:
            self.bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                RowsPerSecond(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            with self.bar:
                self.task = self.bar.add_task(f"{self.layer}: starting", total=None)
                yield self
        else:
            yield self

    def on_rows(self, read: int, total: int | None) -> None:
        self.rows = read
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=read, total=total)

    def on_phase(self, name: str, seconds: float | None) -> None:
        if self.bar is not None and self.task is not None:
            if seconds is None:
                self.bar.update(self.task, description=f"{self.layer}: {name}")
            return
        if seconds is None:
            return
        rate = f" ({self.rows / seconds:,.0f} rows/s)" if name.startswith("read") and seconds > 0 else ""
        self.console.print(
            Text(f"  {name}: {seconds:.1f} s{rate}" + (f", {self.rows:,} rows" if rate else "")), soft_wrap=True
        )


def print_lineage(console: Console, layer: str, rows: list[dict], files: bool = False) -> None:
    """Each load as a short block (80 columns): what, when, counts, how it was read, what happened."""
    console.print(Text(f"lineage of {layer}", style="bold"))
    for r in rows:
        colour = "green" if r["outcome"] == "published" else "red" if r["outcome"] in ("failed", "refused") else "cyan"
        head = Text(f"#{r['id']}  {r['started']}  ")
        head.append(str(r["outcome"]), style=colour)
        console.print(head, soft_wrap=True)
        source = str(r["source_path"]).rsplit("/", 1)[-1]
        listed = r["files"] or []
        where = [f"source {source}"] + ([f"{len(listed)} files"] if len(listed) > 1 else [])
        if r["version_id"]:
            where.append(f"version {r['version_id']}")
        _say(console, where, indent="    ")
        if r["rows_read"] is not None:
            _say(
                console,
                [
                    f"read {r['rows_read']:,}",
                    f"loaded {r['rows_loaded'] or 0:,}",
                    f"rejected {r['rows_rejected'] or 0:,}",
                    f"repaired {r['rows_repaired'] or 0:,}",
                    *([f"{r['duration_s']:.1f} s"] if r["duration_s"] is not None else []),
                ],
                indent="    ",
            )
            _say(console, [f"CRS {r['source_crs'] or '—'}", f"encoding {r['encoding'] or '—'}"], indent="    ")
        if r["message"]:
            _say(console, [str(r["message"])], indent="    ")
        if files and len(listed) > 1:
            table = Table(box=None, padding=(0, 1), width=min(console.width, 200))
            table.add_column("file", overflow="fold", ratio=1)
            for col in ("read", "loaded", "rejected", "encoding", "CRS"):
                table.add_column(
                    col, no_wrap=True, justify="right" if col in ("read", "loaded", "rejected") else "left"
                )
            for f in listed:
                table.add_row(
                    f["name"],
                    f"{f['rows_read']:,}",
                    f"{f['rows_loaded']:,}",
                    f"{f['rows_rejected']:,}",
                    f.get("encoding") or "—",
                    f.get("crs") or "—",
                )
            console.print(table)
