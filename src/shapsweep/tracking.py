"""Weights & Biases tracking: one W&B run per concrete run, written after the run's files exist.

W&B run `{set}__{run}` (id: a hash of the two, so tracking the same run again reuses its id) gets:
config = the run's spec (plus `provenance`, its summary's roll-up), one step per explained row with its
numbers (and its faithfulness metrics when evaluated), the run summary's metrics, and the summary, shard
and faithfulness files as one artifact. `shapsweep results` reads such runs back (results_log.py).
The default mode is `offline` (files under `<set>/wandb/`, `wandb sync` uploads them later).

Tracking never fails the pipeline nor touches its files: any error is logged and reported in the
returned record (which the `track` rule writes as its marker file), and the job still succeeds.
`read_offline_run` reads an offline run back from its `.wandb` file, which is how the tests check it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

# Per-row shard columns logged at each step (numbers only: W&B charts them).
ROW_COLUMNS = ("runtime_s", "n_evals", "n_players", "v_empty", "v_full", "efficiency_gap", "forward_passes")


def wandb_run_name(set_name: str, run_id: str) -> str:
    return f"{set_name}__{run_id}"


def wandb_run_id(set_name: str, run_id: str) -> str:
    """Stable W&B id (W&B ids must be short and free of most punctuation)."""
    return hashlib.sha1(wandb_run_name(set_name, run_id).encode()).hexdigest()[:16]


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value == value
        and abs(value) != float("inf")
    )


def row_steps(shards: pl.DataFrame, faithfulness: pl.DataFrame | None) -> list[dict[str, Any]]:
    """One dict of numbers per explained row, in shard order; faithfulness metrics prefixed `faith_`."""
    faith_by_row: dict[str, dict] = {}
    if faithfulness is not None and faithfulness.height:
        numeric = [c for c, t in faithfulness.schema.items() if t.is_numeric()]
        for r in faithfulness.select("row_id", *numeric).iter_rows(named=True):
            faith_by_row[r["row_id"]] = {f"faith_{k}": v for k, v in r.items() if k != "row_id" and _finite(v)}
    steps = []
    for i, r in enumerate(shards.iter_rows(named=True)):
        step = {"row_index": i, "ok": int((r.get("status") or "ok") == "ok")}
        step.update({c: r[c] for c in ROW_COLUMNS if c in r and _finite(r[c])})
        step.update(faith_by_row.get(r["row_id"], {}))
        steps.append(step)
    return steps


def track_run(
    *,
    set_name: str,
    run_id: str,
    spec: dict,
    summary_path: Path,
    shard_paths: list[Path],
    faithfulness_paths: list[Path],
    wandb_cfg: dict,
    wandb_dir: Path,
) -> dict[str, Any]:
    """Log one run to W&B. Returns {status: ok|disabled|failed, mode, name, id, run_dir, error}."""
    name, run_key = wandb_run_name(set_name, run_id), wandb_run_id(set_name, run_id)
    mode = wandb_cfg.get("mode", "offline")
    record: dict[str, Any] = {
        "status": "disabled",
        "mode": mode,
        "name": name,
        "id": run_key,
        "run_dir": None,
        "error": None,
    }
    if not wandb_cfg.get("enabled", False) or mode == "disabled":
        return record
    run = None
    try:
        import wandb

        summary = json.loads(Path(summary_path).read_text())
        shards = (
            pl.concat([pl.read_parquet(p) for p in shard_paths], how="diagonal_relaxed")
            if shard_paths
            else pl.DataFrame()
        )
        faith = (
            pl.concat([pl.read_parquet(p) for p in faithfulness_paths], how="diagonal_relaxed")
            if faithfulness_paths
            else None
        )
        Path(wandb_dir).mkdir(parents=True, exist_ok=True)
        run = wandb.init(
            project=wandb_cfg.get("project", "shapsweep"),
            entity=wandb_cfg.get("entity"),
            name=name,
            id=run_key,
            mode=mode,
            dir=str(wandb_dir),
            tags=list(wandb_cfg.get("tags", [])),
            config={**spec, "provenance": summary.get("provenance")},  # read back by `shapsweep results`
            resume="allow",
            settings=wandb.Settings(console="off", silent=True, x_disable_stats=True),
        )
        for step, values in enumerate(row_steps(shards, faith)):
            run.log(values, step=step)
        metrics = {k: v for k, v in summary.get("metrics", {}).items() if v is not None}
        metrics.update({f"rows_{k}": v for k, v in summary.get("status_counts", {}).items()})
        run.summary.update(metrics)
        artifact = wandb.Artifact(
            f"{run_key}-files", type="shapsweep-run", metadata={"set": set_name, "run_id": run_id}
        )
        artifact.add_file(str(summary_path), name="summary.json")
        for path in shard_paths:
            artifact.add_file(str(path), name=f"shards/{Path(path).name}")
        for path in faithfulness_paths:
            artifact.add_file(str(path), name=f"faithfulness/{Path(path).name}")
        run.log_artifact(artifact)
        record["run_dir"] = str(Path(run.dir).parent.resolve())
        run.finish()
        # finish() can return before W&B's service has flushed the run to disk (seen under load);
        # teardown waits for it, so "ok" means the offline run is complete on disk.
        wandb.teardown()
        record["status"] = "ok"
    except Exception as exc:  # never fail the pipeline for its tracking
        print(f"shapsweep track: W&B tracking of {name} failed, pipeline files untouched:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        if run is not None:
            with contextlib.suppress(Exception):
                run.finish(exit_code=1)
    return record


# ---- reading an offline run back (the .wandb file: a LevelDB-style log of protobuf records) ----

_BLOCK = 32768
_HEADER = 7  # crc32 (4) + length (2) + chunk type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    run: dict[str, Any] = field(default_factory=dict)  # id, name, project, tags
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)


def _records(path: Path):
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B transaction log")
    pos, pending = 7, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        if kind == 0 and length == 0:  # zero padding up to the block end
            pos += left
            continue
        pending += data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind in (_FULL, _LAST):
            yield pending
            pending = b""


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(run_dir: str | Path) -> OfflineRun:
    """What an offline W&B run directory (`.../offline-run-*`) holds, decoded from its `.wandb` file."""
    from wandb.proto import wandb_internal_pb2 as pb

    (log,) = Path(run_dir).glob("run-*.wandb")
    out = OfflineRun()
    for raw in _records(log):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            out.run = {"id": r.run_id, "name": r.display_name, "project": r.project, "tags": list(r.tags)}
            out.config.update({_key(i): json.loads(i.value_json) for i in r.config.update})
        elif kind == "config":
            out.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            out.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            out.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update if _key(i)})
        elif kind == "artifact":
            a = record.artifact
            out.artifacts.append({"name": a.name, "type": a.type, "files": sorted(m.path for m in a.manifest.contents)})
    out.history.sort(key=lambda h: h.get("_step", 0))
    return out
