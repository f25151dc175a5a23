"""Explain shards of one run: open the run's row explainer once, explain each shard, write it atomically.

What explains the rows is the run's kind (`shapsweep.row_explainers`: games, gradients, learned explainers);
this module is the job's loop: shard slices in, progress lines, provenance, one atomic file per shard. One bad
row (empty input, too many players, an estimator error) is written with its status and message; the rest of
the shard goes on. A shard file appears only when all its rows are done.

A job of several shards (a block) can die between them (SIGKILL, out of memory, a wall-time limit), and
Snakemake then deletes every output of the job. So each finished shard is first written to a hidden file
beside it (`layout.finished_shard_file`) and the shard file is a hard link to it: the hidden link survives,
the re-run links it back (same inode and bytes) and explains only the shards that have none. The links go
once the job's outputs are all written (a block's record last).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shapsweep import layout
from shapsweep.atomic_outputs import link_file, write_json, write_parquet
from shapsweep.file_schemas import INTERACTION_MATRIX_KEY, INTERACTION_MATRIX_SCHEMA, SHARD_SCHEMA
from shapsweep.row_explainers import ExplainInputs, explain_loaded_row, open_row_explainer
from shapsweep.row_explainers.game import row_seed
from shapsweep.row_explainers.gradients import explain_row as gradient_row
from shapsweep.run_spec import RunSpec
from shapsweep.store import EvaluationStore

__all__ = ["ShardJob", "explain_row", "explain_shards", "gradient_row", "row_seed", "shard_frame"]

# Row statuses that a re-run can fix without any change: the server did not answer.
RETRIED_STATUSES = ("server_error",)
# Fault injection for the tests: SIGKILL this process once this many shards are written (tests/slurm).
KILL_AFTER_SHARDS_ENV = "SHAPSWEEP_TEST_KILL_AFTER_SHARDS"


@dataclass(frozen=True)
class ShardJob:
    shard_id: str
    start: int
    end: int
    out: Path


def explain_row(model, row: dict, run: RunSpec, store: EvaluationStore | None = None) -> dict:
    """One shard row (DESIGN.md shard contract) for one dataset row of a loaded connector model.

    The run's kind (`shapsweep.row_explainers`) explains it; with a `store`, a game takes coalitions already
    evaluated for the same game from it and adds what the model computed here.
    """
    return explain_loaded_row(model, row, run, store)


def progress_line(shard_id: str, index: int, total: int, rec: dict, elapsed: float) -> str:
    """One plain log line per row: where the shard is, what the row cost, when the shard should end."""
    eta = elapsed / (index + 1) * (total - index - 1)
    players = rec.get("n_players")
    cost = (
        ""
        if rec.get("n_evals") is None
        else f" evals {rec['n_evals']} (model {rec['model_evals']}, store {rec['store_hits']})"
    )
    return (
        f"shard {shard_id} row {index + 1}/{total} {rec['row_id']}: {rec['status']}"
        + ("" if players is None else f" players {players}")
        + f"{cost} {rec['runtime_s']:.2f}s, shard ETA {eta:.0f}s"
    )


def shard_frame(records: list[dict]) -> pl.DataFrame:
    """The shard file of these records; a column no kind declared (file_schemas) is a bug, said here."""
    unknown = sorted({col for rec in records for col in rec} - set(SHARD_SCHEMA))
    if unknown:
        raise ValueError(f"shard records carry columns {unknown} that file_schemas.SHARD_SCHEMA does not declare")
    return pl.DataFrame(
        [{col: rec.get(col) for col in SHARD_SCHEMA} for rec in records], schema=SHARD_SCHEMA, orient="row"
    )


def explain_shards(
    run: RunSpec,
    rows_path: str | Path,
    jobs: list[ShardJob],
    threads: int | None = None,
    log=sys.stderr,
    job_facts: dict | None = None,
    store: EvaluationStore | None = None,
    explainer_dir: str | Path | None = None,
    step_block: int | None = None,
    block_record: str | Path | None = None,
) -> None:
    """Explain each shard's rows and write its file as soon as it is done (model loaded once).

    A shard with a finished link from a killed try is linked back, not explained. `block_record`
    (a block job's `layout.block_record`) is written once every shard is, before the links are removed.

    The run's row explainer is opened once (`store`, `explainer_dir` and `step_block` go to the kinds that
    read them: games and component games, empirical runs, path_kernel runs split into step blocks; the rows file to ablation_game
    runs, whose mean ablation takes its reference rows from it).

    Each shard file carries its provenance (`job_facts` from `shapsweep.provenance.job_facts`, the
    device and dtype used, its times and row outcomes) in its Parquet metadata.
    """
    import torch

    from shapsweep import provenance

    if threads:
        torch.set_num_threads(threads)
    rows = pl.read_parquet(rows_path)
    started = time.perf_counter()
    explainer = open_row_explainer(
        run,
        ExplainInputs(
            store=store,
            explainer_dir=None if explainer_dir is None else Path(explainer_dir),
            step_block=step_block,
            rows_path=Path(rows_path),
        ),
    )
    load_s = time.perf_counter() - started
    print(f"model loaded in {load_s:.2f}s", file=log, flush=True)
    facts = job_facts if job_facts is not None else provenance.job_facts()
    facts = {**facts, **provenance.model_device_and_dtype(explainer.computes_with), "model_load_s": load_s}
    incomplete, written = [], 0
    kill_after = int(os.environ.get(KILL_AFTER_SHARDS_ENV) or 0)
    for job in jobs:
        finished = layout.finished_shard_file(job.out)
        if finished.exists():
            link_file(finished, job.out)
            print(f"shard {job.shard_id} kept from an earlier try: {job.out}", file=log, flush=True)
            continue
        shard_started = provenance.utc_now()
        part = rows.slice(job.start, max(0, job.end - job.start))
        partial = layout.partial_shard_file(job.out)
        kept = _kept_records(partial)
        records, matrices = [], []
        shard_clock = time.perf_counter()
        progress = layout.progress_file(job.out)
        bar = _terminal_bar(log, part.height, job.shard_id)
        todo = [(row, kept.get(str(row["row_id"]))) for row in part.iter_rows(named=True)]
        for i, rec in enumerate(_explain_missing(todo, explainer.explain)):
            if INTERACTION_MATRIX_KEY in rec:  # not a shard column: shap.interactions.full_matrix's side file
                matrices.append(rec.pop(INTERACTION_MATRIX_KEY))
            records.append(rec)
            elapsed = time.perf_counter() - shard_clock
            if bar is None:
                print(progress_line(job.shard_id, i, part.height, rec, elapsed), file=log, flush=True)
            else:
                bar.update(1)
            eta = elapsed / (i + 1) * (part.height - i - 1)
            write_json(progress, {"rows_done": i + 1, "rows": part.height, "started_at": shard_started, "eta_s": eta})
        if bar is not None:
            bar.close()
        record = provenance.shard_record(facts, shard_started, provenance.utc_now(), [rec["status"] for rec in records])
        unanswered = sum(rec["status"] in RETRIED_STATUSES for rec in records)
        progress.unlink(missing_ok=True)
        if unanswered:
            write_parquet(partial, shard_frame(records), metadata=provenance.to_metadata(record))
            incomplete.append(f"shard {job.shard_id}: {unanswered} of {len(records)} rows")
            print(f"shard {job.shard_id} kept as {partial}: {unanswered} rows await the server", file=log, flush=True)
            continue
        if matrices:  # before the shard: a shard that exists has its side file
            side = pl.DataFrame(matrices, schema=INTERACTION_MATRIX_SCHEMA, orient="row")
            write_parquet(layout.interaction_matrix_file(job.out), side)
        write_parquet(finished, shard_frame(records), metadata=provenance.to_metadata(record))
        link_file(finished, job.out)
        partial.unlink(missing_ok=True)
        print(f"shard {job.shard_id} written: {job.out}", file=log, flush=True)
        written += 1
        if written == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
    if incomplete:
        # The job fails and Snakemake deletes its outputs; the finished links and partial files stay.
        raise IncompleteShards(
            "the server did not answer every request (" + "; ".join(incomplete) + "). The other rows are kept; "
            "run the workflow again once the server answers and only those rows are explained."
        )
    if block_record is not None:
        shards = [{"shard": job.shard_id, "start": job.start, "end": job.end} for job in jobs]
        write_json(block_record, {"run": run["run_id"], "shards": shards})
    for job in jobs:
        layout.finished_shard_file(job.out).unlink(missing_ok=True)


class IncompleteShards(RuntimeError):
    """Shards with rows a server failed to answer: kept beside their outputs, completed by the next run."""


def _kept_records(partial: Path) -> dict[str, dict]:
    """The rows of an earlier, interrupted try at this shard that need no re-run, by row id."""
    if not partial.exists():
        return {}
    frame = pl.read_parquet(partial).filter(~pl.col("status").is_in(list(RETRIED_STATUSES)))
    return {str(rec["row_id"]): rec for rec in frame.iter_rows(named=True)}


def _explain_missing(todo: list[tuple[dict, dict | None]], explain_part):
    """Records in row order: kept ones as they are, the others explained (in one pass of `explain_part`)."""
    fresh = explain_part(row for row, kept in todo if kept is None)
    for _, kept in todo:
        yield kept if kept is not None else next(fresh)


def _terminal_bar(log, total: int, shard_id: str):
    """A tqdm bar when a person watches a terminal; None for logs, which keep one plain line per row."""
    if not (hasattr(log, "isatty") and log.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"shard {shard_id}", unit="row", file=log)
