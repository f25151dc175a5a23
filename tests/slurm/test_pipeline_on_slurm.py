"""The real pipeline through `--profile profiles/slurm` on the live one-node Slurm.

What Slurm was asked for is read back from Slurm's accounting (sacct), never from our config.
"""

import signal
import time

import pytest
from pipeline_runs import shard_files, shard_table, snakemake, summary_without_timing, write_set

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


FIELDS = ["JobID", "JobName", "Partition", "State", "ReqTRES", "AllocTRES", "Comment"]


def accounted_jobs(slurm) -> list[dict]:
    """Every allocation in Slurm's accounting (sacct -X), oldest first."""
    out = slurm.run("sacct", "-X", "-n", "-P", "-a", "-S", "2000-01-01", "-o", ",".join(FIELDS)).stdout
    return [dict(zip(FIELDS, line.split("|"))) for line in out.splitlines() if line.strip()]


def slurm_now(slurm) -> int:
    """A mark: the highest job id so far (job ids only grow)."""
    return max((int(j["JobID"]) for j in accounted_jobs(slurm)), default=0)


def workflow_jobs(slurm, since: int) -> list[dict]:
    """Jobs submitted after the mark `since`."""
    return [j for j in accounted_jobs(slurm) if int(j["JobID"]) > since]


@pytest.fixture(scope="module")
def cancelled_then_restarted(slurm, tmp_path_factory):
    """One exact run over 6 rows in 3 shards, through Slurm: its jobs are cancelled (`scancel`) once the
    first shard has landed, the workflow is stopped, then started again. Plus the same set run locally.

    Every explain job costs a few seconds of Snakefile parsing and ~10 s of imports on 2 CPUs, so the
    scenarios share one workflow instead of running one each.
    """
    root = tmp_path_factory.mktemp("restart")
    experiment = write_set(root / "set", n_rows=6, shard_size=2, name="cancel")
    work = root / "slurm"
    work.mkdir()
    first_since = slurm_now(slurm)
    # One job at a time, so that when the first shard lands the second is running and the third waits.
    proc = snakemake(work, experiment, "--jobs", "1", cluster=slurm, background=True)
    try:
        deadline = time.monotonic() + 300
        # A shard counts as done once snakemake has seen its job finish: a file whose job is still
        # running in snakemake's eyes is deleted as incomplete when the workflow stops.
        while "(Rule: explain)" not in (log := (work / "snakemake-slurm.log").read_text()):
            assert proc.poll() is None, log[-3000:]
            assert time.monotonic() < deadline, "no shard finished"
            time.sleep(0.2)
        # Snakemake submits the next shard only after it has seen the first finish: wait until Slurm
        # holds it, or the cancel can land between two jobs and hit nothing (seen under load).
        while not (queued := slurm.run("squeue", "-h", "-t", "PENDING,RUNNING", "-o", "%i").stdout.split()):
            assert proc.poll() is None, (work / "snakemake-slurm.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no second shard was submitted"
            time.sleep(0.2)
        # The user cancels the workflow's jobs (all of root's: the cluster runs nothing else), then
        # stops snakemake (Ctrl-C), which would otherwise resubmit them (retries) and go on.
        slurm.run("scancel", "--user=root")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    before = {name: path.stat().st_mtime_ns for name, path in shard_files(work, "cancel").items()}
    # slurmdbd records jobs asynchronously: wait until the cancelled ones are in the accounting.
    first_jobs = workflow_jobs(slurm, first_since)
    while not set(queued) <= {j["JobID"] for j in first_jobs}:
        assert time.monotonic() < deadline + 60, f"jobs {queued} never reached sacct"
        time.sleep(0.5)
        first_jobs = workflow_jobs(slurm, first_since)

    second_since = slurm_now(slurm)
    snakemake(work, experiment, cluster=slurm)
    second_jobs = workflow_jobs(slurm, second_since)

    (root / "local").mkdir()
    snakemake(root / "local", experiment)
    return {"root": root, "work": work, "before": before, "first_jobs": first_jobs, "second_jobs": second_jobs}


def explain_jobs(jobs):
    return [j for j in jobs if "rule_explain" in j["Comment"]]


def test_restart_after_scancel_redoes_only_missing_shards(cancelled_then_restarted):
    r = cancelled_then_restarted
    before = r["before"]
    assert 1 <= len(before) < 3, before
    assert any(j["State"].startswith("CANCELLED") for j in explain_jobs(r["first_jobs"])), r["first_jobs"]
    after = shard_files(r["work"], "cancel")
    assert len(after) == 3
    assert {name: after[name].stat().st_mtime_ns for name in before} == before  # finished shards untouched
    redone = explain_jobs(r["second_jobs"])
    assert len(redone) == 3 - len(before), redone
    assert all(j["State"] == "COMPLETED" for j in redone), redone


def test_slurm_outputs_equal_local_run(cancelled_then_restarted):
    root, work = cancelled_then_restarted["root"], cancelled_then_restarted["work"]
    local, remote = shard_files(root / "local", "cancel"), shard_files(work, "cancel")
    assert list(local) == list(remote) and len(remote) == 3
    for name in local:
        assert shard_table(remote[name]).equals(shard_table(local[name])), name
    summaries = list((root / "local" / "results" / "cancel" / "runs").glob("*/summary.json"))
    assert summaries
    for summary in summaries:
        other = work / summary.relative_to(root / "local")
        assert summary_without_timing(other) == summary_without_timing(summary)


def test_explain_jobs_were_given_a_gpu_by_slurm(cancelled_then_restarted):
    """Slurm's own record: every explain job on the GPU partition holding one GPU and its config memory."""
    jobs = cancelled_then_restarted["first_jobs"] + cancelled_then_restarted["second_jobs"]
    explain = explain_jobs(jobs)
    assert explain
    for job in explain:
        assert job["Partition"] == "gpu", job
        assert "gres/gpu=1" in job["ReqTRES"], job
        assert "mem=1000M" in job["ReqTRES"], job
    for job in explain:
        if job["State"] == "COMPLETED":
            assert "gres/gpu=1" in job["AllocTRES"], job
    # rows, aggregate and compare are local rules: nothing else reached Slurm, so no CPU-only job
    # held a GPU.
    assert len(jobs) == len(explain), jobs


def test_failing_job_is_retried_then_reported(slurm, tmp_path):
    # Two sets in one call. `broken`'s model folder has a config but no weights: it passes the parse-time
    # check (models/locate.py) and its job fails at model load on every attempt; `tiny`, scheduled
    # alongside it, completes (keep-going).
    broken_model = tmp_path / "no-model"
    broken_model.mkdir()
    (broken_model / "config.json").write_text('{"model_type": "bert"}')
    broken = write_set(
        tmp_path / "set",
        n_rows=2,
        shard_size=2,
        name="broken",
        model=f"{{ connector: 'sentence_embedder', path_or_id: '{broken_model}' }}",
    )
    good = write_set(tmp_path / "good", n_rows=2, shard_size=2)
    since = slurm_now(slurm)
    r = snakemake(tmp_path, [broken, good], "--retries", "1", cluster=slurm, check=False)
    log = (tmp_path / "snakemake-slurm.log").read_text()
    assert r.returncode != 0
    assert "Error in rule explain" in log and "cannot load" in log
    attempts = explain_jobs(workflow_jobs(slurm, since))
    # the plugin's comment carries the wildcards, the set folder first (slashes as underscores)
    of_set = {name: [j["State"] for j in attempts if f"results_{name}_" in j["Comment"]] for name in ("broken", "tiny")}
    assert of_set == {"broken": ["FAILED", "FAILED"], "tiny": ["COMPLETED"]}, attempts  # first try + one retry
    assert not shard_files(tmp_path, "broken")
    assert len(shard_files(tmp_path, "tiny")) == 1
    assert (tmp_path / "results" / "tiny" / "report" / "index.html").exists()
