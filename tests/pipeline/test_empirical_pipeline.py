"""config/examples/empirical.jsonnet through real Snakemake, on a slice of its 600 reviews.

Exact, KernelSHAP (the target), integrated gradients and two empirical explainers (of KernelSHAP and of IG;
the example's cheap KernelSHAP runs and random baseline are left out): the explainers train on the target's
shards, explain every row, mark their training rows, and compare keeps to the held-out ones. A changed
target retrains only its explainer; `shapsweep prune` lists an explainer no run uses any more.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from workflow_runs import REPO, copy_workflow, job_counts, run_snakemake

from shapsweep import layout
from shapsweep.config.experiment_set import from_config
from shapsweep.file_schemas import read_shards

ROWS = 20

SET = """
local example = import 'config/examples/empirical.jsonnet';
local quick(v) = if v.shap.method == 'empirical' then v { shap+: { options+: { epochs: 4, patience: 2 } } } else v;
// without the cheap KernelSHAP runs and the random baseline, which no test here reads: three jobs of 10-30 s
local runs = [v for v in example.experiments if !std.member(['kernel', 'random'], v.name)];
example {
  selection+: { max_samples: ROWS },
  shard_size: ROWS,  // one shard per run: each explain job loads MiniLM, so jobs, not rows, cost the time
  experiments: [quick(v) for v in runs],
}
""".replace("ROWS", str(ROWS))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("empirical_wf"))
    shutil.copytree(REPO / "config", wd / "config")
    (wd / "set.jsonnet").write_text(SET)
    run_snakemake(wd, "--nolock")
    set_dir = wd / "results" / "empirical"
    exp = from_config(json.loads(layout.config_json(set_dir).read_text()))
    return wd, set_dir, exp


def shards_of(set_dir, exp, variant) -> tuple[dict, pl.DataFrame]:
    (run,) = [r for r in exp.runs.values() if r["variant"] == variant]
    paths = [layout.shard_file(set_dir, run["run_id"], s.shard_id) for s in exp.shard_plan(run["run_id"]).shards]
    return run, read_shards(paths)


def test_empirical_runs_mark_training_rows_and_cost_no_model_evaluation(finished):
    _, set_dir, exp = finished
    for variant in ("empirical", "empirical_ig"):
        run, shards = shards_of(set_dir, exp, variant)
        assert shards.height == ROWS and set(shards["status"]) == {"ok"}
        assert shards["in_train"].sum() > 0 and (~shards["in_train"]).sum() > 0
        assert shards["model_evals"].sum() == 0 and shards["n_evals"].sum() == 0
        summary = json.loads(layout.summary_file(set_dir, run["run_id"]).read_text())
        assert summary["metrics"]["rows_in_train"] == int(shards["in_train"].sum())
        assert summary["metrics"]["rows_ok"] == ROWS
        folder = layout.explainer_dir(set_dir, run["empirical"]["explainer_id"])
        assert (folder / "metrics.json").is_file() and (folder / "training_log.jsonl").is_file()
    _, other = shards_of(set_dir, exp, "kernel_target")
    assert other["in_train"].null_count() == other.height  # only empirical runs have training rows


def test_compare_scores_empirical_runs_on_held_out_rows_only(finished):
    _, set_dir, exp = finished
    run, shards = shards_of(set_dir, exp, "empirical")
    errors = pl.read_parquet(layout.compare_files(set_dir)["row_errors"])
    mine = errors.filter(pl.col("run_id") == run["run_id"])
    held = set(shards.filter(~pl.col("in_train"))["row_id"])
    assert mine.height == len(held) and set(mine["row_id"]) == held
    table = pl.read_parquet(layout.compare_files(set_dir)["parquet"])
    assert table.filter(pl.col("run_id") == run["run_id"])["ref_rows"].item() == len(held)


def test_the_saved_explainer_reproduces_the_shard(finished):
    from shapsweep.empirical.explainer import EmpiricalExplainer

    _, set_dir, exp = finished
    run, shards = shards_of(set_dir, exp, "empirical")
    explainer = EmpiricalExplainer.from_pretrained(layout.explainer_dir(set_dir, run["empirical"]["explainer_id"]))
    rows = pl.read_parquet(layout.rows_file(set_dir, run["data_id"])).head(ROWS)
    text_of = dict(zip(rows["row_id"].cast(pl.Utf8), rows["text"], strict=True))
    texts = [text_of[r] for r in shards["row_id"]]
    predicted = explainer.predict(texts, [[tuple(s) for s in spans] for spans in shards["player_spans"]])
    for got, want in zip(predicted, shards["attribution"], strict=True):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-7)


def test_integrated_gradients_nearly_complete_on_the_embedder(finished):
    _, set_dir, exp = finished
    _, shards = shards_of(set_dir, exp, "ig")
    assert set(shards["status"]) == {"ok"}
    spread = (shards["v_full"] - shards["v_empty"]).abs()
    assert ((shards["efficiency_gap"].abs() / spread) < 0.2).all()  # 32 Riemann steps: a small residual


def test_a_changed_target_retrains_only_its_explainer(finished):
    wd, _, _ = finished
    changed = "[if v.name == 'kernel_target' then v { shap+: { budget: 48 } } else quick(v) for v in runs]"
    (wd / "changed.jsonnet").write_text(SET.replace("[quick(v) for v in runs]", changed))
    proc = run_snakemake(wd, "-n", "--nolock", config=("experiment=changed.jsonnet",))
    counts = job_counts(proc)
    assert counts.get("train_explainer") == 1  # the KernelSHAP target's explainer; the IG one stays
    assert counts.get("explain") == 2  # the new target's shard and its empirical run's


def test_prune_lists_an_explainer_that_no_run_uses_any_more(finished):
    wd, _, exp = finished
    (ig_run,) = [r for r in exp.runs.values() if r["variant"] == "empirical_ig"]
    dropped_id = ig_run["empirical"]["explainer_id"]
    kept_ids = {r["empirical"]["explainer_id"] for r in exp.runs.values() if "empirical" in r} - {dropped_id}

    def prune(config):
        cmd = [sys.executable, "-m", "shapsweep.cli", "prune", config]
        proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "nothing to prune" in prune("set.jsonnet")
    dropped = "[quick(v) for v in runs if v.name != 'empirical_ig']"
    (wd / "dropped.jsonnet").write_text(SET.replace("[quick(v) for v in runs]", dropped))
    listed = {line.split("\t")[1].rstrip("/") for line in prune("dropped.jsonnet").splitlines() if "would" in line}
    assert f"results/empirical/explainers/{dropped_id}" in listed
    assert f"results/empirical/logs/train_explainer/{dropped_id}.log" in listed
    assert kept_ids and not any(k in path for k in kept_ids for path in listed)
