"""End to end: real `snakemake` on a temporary copy of the workflow, asserting on the jobs it runs.

One small set (6 rows, shards of 2, exact reference + kernel, the real MiniLM) is run once for
real; the incremental behaviours are then checked with dry runs (the jobs Snakemake would run)
and one interrupted-and-resumed real run.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
from workflow_runs import SNAKEMAKE, job_counts, run_snakemake
from workflow_runs import copy_workflow as copy_workflow_files

from shapsweep.results_log import is_result_column

pytestmark = pytest.mark.slow

TEXTS = [
    "cats chase small mice",
    "",
    "rain falls on the roof",
    "bright stars shine tonight",
    "we bake fresh bread",
    "old trees grow slowly",
]

SET = """
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: 'e2e',
  dataset: ss.localFile('data.jsonl'),
  selection: { max_samples: std.extVar('rows') },
  shard_size: 2,
  model: ss.minilm { batch_size: 32 },
  features: { max_players: 8 },
  shap: { batch_size: 32 },
  experiments: [ss.exact(), ss.method('kernel', [std.extVar('budget')])],
}
"""


def snakemake(workdir, *args, rows=4, budget=8, check=True):
    return run_snakemake(
        workdir, *args, config=("experiment=set.jsonnet", f"vars={{rows: {rows}, budget: {budget}}}"), check=check
    )


def copy_workflow(dest: Path) -> Path:
    copy_workflow_files(dest)
    (dest / "set.jsonnet").write_text(SET)
    (dest / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    return dest


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """The workflow after one complete real run."""
    wd = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(wd)
    return wd


@pytest.fixture(scope="module")
def unrun_workflow(tmp_path_factory):
    """A copy of the workflow that never ran (for checks that stop at parse time)."""
    return copy_workflow(tmp_path_factory.mktemp("wf_unrun"))


def set_dir(wd):
    return wd / "results" / "e2e"


def shard_paths(wd, prefix):
    return sorted((set_dir(wd) / "runs").glob(f"{prefix}*/shards/*.parquet"))


def downstream(*extra):
    """Jobs downstream of a run's change: its aggregate, compare and the report."""
    return {"aggregate": 1, "compare": 1, "report": 1, **dict(extra)}


def test_full_run_outputs(workflow):
    sd = set_dir(workflow)
    assert len(shard_paths(workflow, "exact")) == 2 and len(shard_paths(workflow, "kernel")) == 2
    first = pl.read_parquet(shard_paths(workflow, "exact")[0])
    # the empty text is recorded with its status, its shard-mate is explained
    assert first["status"].to_list() == ["ok", "empty_input"]
    assert first["error"][1] and first["error"][0] is None
    ok = first.row(0, named=True)
    assert ok["players"] == ["cats", "chase", "small", "mice"]
    assert sum(ok["attribution"]) == pytest.approx(ok["v_full"] - ok["v_empty"], abs=1e-9)
    runs = pl.read_parquet(sd / "runs.parquet")
    kernel = runs.filter(pl.col("variant") == "kernel").row(0, named=True)
    assert kernel["shap.budget"] == 8 and kernel["ref_rows"] == 3 and kernel["ref_mse"] is not None
    assert (sd / "runs.tsv").read_text().splitlines()[0].startswith("run_id\t")
    summary = json.loads(next((sd / "runs").glob("exact*/summary.json")).read_text())
    assert summary["metrics"]["rows_ok"] == 3 and summary["metrics"]["rows_failed"] == 1
    assert json.loads((sd / "config.json").read_text())["experiment_set_id"] == "e2e"
    assert (sd / "report" / "index.html").exists()


def test_second_run_has_nothing_to_do(workflow):
    assert job_counts(snakemake(workflow)) == {}


def test_deleted_shard_reruns_that_shard_and_its_dependents(workflow):
    shard = shard_paths(workflow, "kernel")[1]
    saved = shard.read_bytes()
    shard.unlink()
    try:
        assert job_counts(snakemake(workflow, "-n")) == downstream(("explain", 1))
    finally:
        shard.write_bytes(saved)
        os.utime(shard, (time.time() - 3600,) * 2)  # older than its dependents again


def test_changing_one_budget_reruns_only_that_run(workflow):
    proc = snakemake(workflow, "-n", budget=10)
    assert job_counts(proc) == downstream(("explain", 2))
    assert "exact" not in "".join(re.findall(r"output: (.*shards.*)", proc.stdout))


def test_adding_rows_runs_only_new_shards(workflow):
    proc = snakemake(workflow, "-n", rows=6)
    counts = job_counts(proc)
    assert counts == downstream(("explain", 2), ("aggregate", 2))
    assert set(re.findall(r"shards/(\d+)\.parquet", "".join(re.findall(r"output: (.*)", proc.stdout)))) == {"00002"}


def test_a_shard_whose_rows_changed_reruns(workflow):
    proc = snakemake(workflow, "-n", rows=3)  # the last shard shrinks from rows [2, 4) to [2, 3)
    assert job_counts(proc) == downstream(("explain", 2), ("aggregate", 2))
    assert set(re.findall(r"shards/(\d+)\.parquet", "".join(re.findall(r"output: (.*)", proc.stdout)))) == {"00001"}
    assert "Params have changed" in proc.stdout + proc.stderr


def test_forcerun_of_aggregates_never_touches_explain(workflow):
    assert job_counts(snakemake(workflow, "-n", "--forcerun", "report")) == {"report": 1}
    assert job_counts(snakemake(workflow, "-n", "--forcerun", "compare")) == {"compare": 1, "report": 1}


def test_killed_shard_leaves_no_file_and_resumes_to_the_same_numbers(workflow):
    sd = set_dir(workflow)
    shard = shard_paths(workflow, "kernel")[1]
    before = pl.read_parquet(shard)
    runs_before = pl.read_parquet(sd / "runs.parquet")
    shard.unlink()
    cmd = [
        SNAKEMAKE,
        "--profile",
        "profiles/default",
        "--cores",
        "2",
        "--config",
        "experiment=set.jsonnet",
        "vars={rows: 4, budget: 8}",
    ]
    proc = subprocess.Popen(
        cmd, cwd=workflow, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    # SIGKILL the explain job as soon as it exists (it is then importing torch / loading the model,
    # seconds before it could write; waiting for its first row would race on an idle machine).
    # Snakemake itself survives, records the failure and releases its lock.
    killed = []
    while not killed:
        assert time.time() < deadline and proc.poll() is None, "the explain job never started"
        for child in psutil.Process(proc.pid).children(recursive=True):
            try:
                if "explain" in child.cmdline() and str(shard.name) in " ".join(child.cmdline()):
                    child.send_signal(signal.SIGKILL)
                    killed.append(child.pid)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.02)
    assert proc.wait(timeout=300) != 0  # the killed job failed the workflow
    assert not shard.exists()
    assert not list(shard.parent.glob(".*.tmp"))  # no half-written temp file is left to be mistaken for it
    counts = job_counts(snakemake(workflow))
    assert counts.get("explain") == 1 and "rows" not in counts
    after = pl.read_parquet(shard)
    numbers = ["row_id", "players", "attribution", "attribution_normalized", "v_empty", "v_full", "n_evals", "status"]
    assert after.select(numbers).equals(before.select(numbers))
    runs_after = pl.read_parquet(sd / "runs.parquet")
    same = [c for c in runs_before.columns if is_result_column(c)]  # not times, durations, provenance
    assert runs_after.select(same).equals(runs_before.select(same))


@pytest.mark.parametrize(
    "edit, message",
    [
        (("shard_size: 2", "shard_size: 2, shard_sise: 3"), "shard_sise: unknown field"),
        (("shard_size: 2", "shard_size: 'two'"), 'shard_size: must be a positive integer (got "two")'),
        (
            ("ss.localFile('data.jsonl')", "ss.localFile('data.jsonl', text='body')"),
            "dataset.columns.text: column 'body' for 'text' is not in the dataset",
        ),
        (("max_players: 8", "max_players: 30"), "experiments[0] (exact).features.max_players: 30 players is over"),
    ],
)
def test_bad_config_fails_fast_with_the_path(unrun_workflow, edit, message):
    workflow = unrun_workflow
    bad = workflow / "bad.jsonnet"
    bad.write_text(SET.replace(*edit))
    proc = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "1", "--config", "experiment=bad.jsonnet", "vars={rows: 4, budget: 8}"],
        cwd=workflow,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert "Job stats" not in proc.stdout + proc.stderr  # failed while parsing, before planning any job


SPINE = ("Snakefile", "common.smk", "rows.smk", "explain.smk", "aggregate.smk", "compare.smk")


def test_lint_is_clean_for_the_spine(unrun_workflow):
    """No lint for the Snakefile and the pipeline's own rules files (the other stages' files are theirs)."""
    proc = subprocess.run(
        [SNAKEMAKE, "--lint", "--config", "experiment=set.jsonnet", "vars={rows: 4, budget: 8}"],
        cwd=unrun_workflow,
        capture_output=True,
        text=True,
        timeout=300,
    )
    headers = re.findall(r"^Lints for .*$", proc.stdout + proc.stderr, flags=re.M)
    assert not [h for h in headers if any(f"/{name}" in h for name in SPINE)], proc.stdout + proc.stderr
