"""Provenance through the real pipeline: `snakemake` on a temporary copy of the workflow (one run, two
shards, W&B tracking offline), then the shards' metadata, spec.json, the roll-ups, and `shapsweep results`
reading the set folder and the offline W&B runs back into one table."""

import importlib.metadata
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from workflow_runs import copy_workflow, run_snakemake

import shapsweep
from shapsweep import layout
from shapsweep.hashing import short_hash
from shapsweep.provenance import config_sha256, read_shard_provenance

pytestmark = pytest.mark.slow

SET = """
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: 'prov',
  dataset: ss.localFile('data.jsonl'),
  shard_size: 2,
  model: ss.minilm { batch_size: 32 },
  features: { max_players: 8 },
  shap: { batch_size: 32 },
  wandb: { enabled: true, mode: 'offline', project: 'prov-test' },
  experiments: [ss.method('kernel', [8])],
}
"""
TEXTS = ["cats chase small mice", "", "rain falls on the roof"]


def git(*args) -> str:
    """git in the checkout holding the shapsweep source the jobs import (this one, installed editable)."""
    source = Path(shapsweep.__file__).parent
    return subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, check=True).stdout


def cli(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shapsweep.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("prov_wf"))
    (wd / "set.jsonnet").write_text(SET)
    (wd / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    plan = cli("plan", "set.jsonnet", "--json", cwd=wd)
    assert plan.returncode == 0, plan.stderr
    (run_id,) = [json.loads(line)["run_id"] for line in plan.stdout.splitlines()]
    set_dir = wd / "results" / "prov"
    targets = [f"results/prov/{name}" for name in ("runs.parquet", f"runs/{run_id}/tracking.json")]
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_MODE", "SLURM_JOB_ID")}
    run_snakemake(wd, *targets, env={**env, "WANDB_MODE": "offline"})
    return wd, set_dir, run_id


def test_each_shard_carries_its_provenance(workflow):
    _, set_dir, run_id = workflow
    import torch

    shards = sorted((set_dir / "runs" / run_id / "shards").glob("*.parquet"))
    assert len(shards) == 2
    config = json.loads((set_dir / "config.json").read_text())
    commit = git("rev-parse", "HEAD").strip()
    dirty = bool(git("status", "--porcelain").strip())
    for path in shards:
        prov = read_shard_provenance(path)
        frame = pl.read_parquet(path)
        assert prov["code"] == {"commit": commit, "dirty": dirty, "repo": git("rev-parse", "--show-toplevel").strip()}
        assert prov["device"] == ("cuda" if torch.cuda.is_available() else "cpu") and prov["dtype"] == "float32"
        assert prov["gpu_count"] == len(prov["gpus"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
        assert prov["cpu"] and prov["host"] and prov["python"] == ".".join(map(str, sys.version_info[:3]))
        for name in ("torch", "transformers", "snakemake", "datasets", "polars", "pyarrow", "numpy", "wandb"):
            assert prov["packages"][name] == importlib.metadata.version(name)
        assert prov["config_sha256"] == config_sha256(config)
        assert prov["config_file"] == str((set_dir / "config.json").resolve())
        assert prov["slurm_job_id"] is None
        statuses = frame["status"].to_list()
        assert prov["rows_ok"] == statuses.count("ok") and prov["rows_failed"] == len(statuses) - statuses.count("ok")
        start, end = datetime.fromisoformat(prov["started_at"]), datetime.fromisoformat(prov["finished_at"])
        assert start.utcoffset().total_seconds() == 0 and start <= end
        assert prov["duration_s"] == pytest.approx((end - start).total_seconds())
    assert [read_shard_provenance(p)["rows_failed"] for p in shards] == [1, 0]  # the empty text


def test_spec_json_is_what_the_run_id_hashes(workflow):
    _, set_dir, run_id = workflow
    spec = json.loads(layout.spec_file(set_dir, run_id).read_text())
    assert spec["run_id"] == run_id and spec["params"] == {"shap.budget": 8}
    assert run_id.endswith("-" + short_hash(spec["hashed"], 8))
    assert spec["hashed"]["shap"] == spec["explain"]["shap"] and spec["explain"]["shap"]["budget"] == 8


def test_summary_and_runs_table_roll_up_the_shards(workflow):
    _, set_dir, run_id = workflow
    records = [read_shard_provenance(p) for p in sorted((set_dir / "runs" / run_id / "shards").glob("*.parquet"))]
    roll = json.loads(layout.summary_file(set_dir, run_id).read_text())["provenance"]
    assert roll["first_start"] == min(r["started_at"] for r in records)
    assert roll["last_end"] == max(r["finished_at"] for r in records)
    assert roll["duration_s"] == pytest.approx(sum(r["duration_s"] for r in records))
    assert roll["shards"] == 2 and roll["shards_without_provenance"] == 0
    commit = records[0]["code"]["commit"] + ("+dirty" if records[0]["code"]["dirty"] else "")
    assert roll["code_commits"] == [commit] and len(roll["devices"]) == 1
    row = pl.read_parquet(layout.compare_files(set_dir)["parquet"]).row(0, named=True)
    assert row["code_commits"] == commit and row["devices"] == roll["devices"][0]
    assert row["first_start"] == roll["first_start"] and row["hosts"] == records[0]["host"]


def test_results_reads_the_set_and_its_offline_wandb_runs_back(workflow):
    wd, set_dir, run_id = workflow
    marker = json.loads((set_dir / "runs" / run_id / "tracking.json").read_text())
    assert marker["status"] == "ok" and marker["mode"] == "offline", marker
    out = wd / "log.parquet"
    wandb_only = cli("results", str(set_dir / "wandb"), "--to", "parquet", "--out", str(out), cwd=wd)
    assert wandb_only.returncode == 0, wandb_only.stderr
    from_wandb = pl.read_parquet(out).row(0, named=True)
    runs = pl.read_parquet(layout.compare_files(set_dir)["parquet"]).row(0, named=True)
    assert from_wandb["run_id"] == run_id and from_wandb["set"] == "prov" and from_wandb["method"] == "kernel"
    assert from_wandb["shap.budget"] == 8
    for metric in ("rows_ok", "rows_failed", "evals_mean", "players_mean", "abs_mass_entropy_mean"):
        assert from_wandb[metric] == pytest.approx(runs[metric]), metric
    assert from_wandb["code_commits"] == runs["code_commits"] and from_wandb["devices"] == runs["devices"]
    assert from_wandb["sources"].startswith(str(set_dir / "wandb" / "offline-run-"))
    # the set folder and its W&B copy agree: one row, both sources, no conflict
    both = cli("results", str(set_dir), str(set_dir / "wandb"), "--to", "parquet", "--out", str(out), cwd=wd)
    assert both.returncode == 0 and "conflict" not in both.stderr, both.stderr
    merged = pl.read_parquet(out)
    assert merged["run_id"].to_list() == [run_id]
    assert merged["sources"][0].split("; ")[0] == str(set_dir / "runs.parquet")
    assert merged["ref_rows"][0] is None and merged["rows_ok"][0] == runs["rows_ok"]
