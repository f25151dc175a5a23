"""What a `snakemake` invocation left behind, per run: rows ok / failed by status, with the first row ids.

A row that cannot be explained is written with its status (docs/DESIGN.md, shard file contract), so a run
where half the rows failed still succeeds. The Snakefile's `onsuccess:` / `onerror:` handlers print this
summary so that the user hears of those rows without opening a file. It reads a run's `summary.json` where
the aggregate rule wrote one (status counts and the first failed ids are there), else the run's shard files
that exist (an interrupted or failed invocation), else says the run has no results yet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shapsweep import layout

IDS_SHOWN = 5  # row ids printed per failed status
RUNS_SHOWN = 20  # a bigger sweep lists only its runs with failed rows or missing shards, up to this many
NOT_FAILURES = ("ok", "skipped")  # skipped rows are a selection choice, not an error


@dataclass
class RunOutcome:
    run_id: str
    shards_planned: int
    shards_done: int
    status_counts: dict[str, int] = field(default_factory=dict)
    failed_ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def rows_ok(self) -> int:
        return self.status_counts.get("ok", 0)

    @property
    def rows_failed(self) -> int:
        return sum(n for status, n in self.status_counts.items() if status not in NOT_FAILURES)


def run_outcome(set_dir: str | Path, run_id: str, shard_ids: Sequence[str]) -> RunOutcome:
    """One run's outcome from its summary.json, or from the shard files present when there is none."""
    shards = [layout.shard_file(set_dir, run_id, s) for s in shard_ids]
    done = [p for p in shards if p.exists()]
    outcome = RunOutcome(run_id, len(shards), len(done))
    summary_path = layout.summary_file(set_dir, run_id)
    if summary_path.exists() and len(done) == len(shards):
        summary = json.loads(summary_path.read_text())
        outcome.status_counts = {str(k): int(v) for k, v in summary.get("status_counts", {}).items()}
        outcome.failed_ids = summary.get("failed_row_ids") or {}
        if outcome.rows_failed and not outcome.failed_ids:  # a summary written before ids were recorded
            outcome.failed_ids = _failed_ids(done)
        return outcome
    if done:
        import polars as pl

        rows = pl.concat([pl.read_parquet(p, columns=["row_id", "status"]) for p in done])
        outcome.status_counts = dict(rows.group_by("status", maintain_order=True).len().iter_rows())
        outcome.failed_ids = _failed_ids(done, rows)
    return outcome


def _failed_ids(paths, rows=None) -> dict[str, list[str]]:
    import polars as pl

    if rows is None:
        rows = pl.concat([pl.read_parquet(p, columns=["row_id", "status"]) for p in paths])
    failed = rows.filter(~pl.col("status").is_in(NOT_FAILURES))
    return {
        str(status): part["row_id"].head(IDS_SHOWN).cast(pl.Utf8).to_list()
        for (status,), part in failed.group_by("status", maintain_order=True)
    }


def describe(outcome: RunOutcome) -> str:
    """One line: `<run>: 4 ok, 2 failed (empty_input 1: 1; too_many_players 1: 5)`."""
    if not outcome.shards_done:
        return f"{outcome.run_id}: no shard explained yet (0/{outcome.shards_planned} shards)"
    parts = [f"{outcome.rows_ok} ok", f"{outcome.rows_failed} failed"]
    skipped = outcome.status_counts.get("skipped", 0)
    if skipped:
        parts.append(f"{skipped} skipped")
    line = f"{outcome.run_id}: rows {', '.join(parts)}"
    failures = [
        f"{status} {n}: {', '.join(outcome.failed_ids.get(status, [])[:IDS_SHOWN])}"
        + (", ..." if n > IDS_SHOWN else "")
        for status, n in sorted(outcome.status_counts.items())
        if status not in NOT_FAILURES
    ]
    if failures:
        line += f" ({'; '.join(failures)})"
    if outcome.shards_done < outcome.shards_planned:
        line += f"; {outcome.shards_done}/{outcome.shards_planned} shards done"
    return line


def outcome_report(set_dir: str | Path, shard_ids: Mapping[str, Sequence[str]], set_name: str = "") -> str:
    """The lines printed at the end of `snakemake`: one per run, then the totals."""
    outcomes = [run_outcome(set_dir, run_id, ids) for run_id, ids in shard_ids.items()]
    ok = sum(o.rows_ok for o in outcomes)
    failed = sum(o.rows_failed for o in outcomes)
    shown = outcomes
    if len(outcomes) > RUNS_SHOWN:  # a big sweep: name the runs that need a look, count the rest
        shown = [o for o in outcomes if o.rows_failed or o.shards_done < o.shards_planned][:RUNS_SHOWN]
    header = f"shapsweep: row outcomes of experiment set {set_name or Path(set_dir).name} ({set_dir})"
    footer = f"shapsweep: {len(outcomes)} run{'s' if len(outcomes) != 1 else ''}, {ok} rows ok, {failed} failed"
    if failed:
        footer += " (failed rows are kept in the shards with their status and error; see docs/pipeline.md)"
    lines = [header, *(f"  {describe(o)}" for o in shown)]
    if len(shown) < len(outcomes):
        lines.append(f"  ... {len(outcomes) - len(shown)} more runs (`shapsweep status` lists them all)")
    return "\n".join([*lines, footer])


def print_outcomes(set_dir: str | Path, shard_ids: Mapping[str, Sequence[str]], set_name: str = "") -> None:
    """Print `outcome_report` to stderr, beside Snakemake's own log (the Snakefile's handlers call this)."""
    import sys

    print(outcome_report(set_dir, shard_ids, set_name), file=sys.stderr)
