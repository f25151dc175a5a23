"""The live cluster itself: GPU gres counted and enforced, read back from accounting.

That `stop` leaves nothing running is checked by the session fixture's teardown (conftest.py).
"""

import time

import pytest

pytestmark = pytest.mark.slurm


def sacct(slurm, job_ids, fields):
    """{job_id: {field: value}} for allocations (-X), read from the accounting database."""
    out = slurm.run("sacct", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", ",".join(["JobID", *fields])).stdout
    rows = {}
    for line in out.splitlines():
        values = line.split("|")
        rows[values[0]] = dict(zip(fields, values[1:]))
    return rows


def wait_for_accounting(slurm, job_ids, timeout=30):
    """Block until sacct reports every job finished (slurmctld forwards to slurmdbd asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sacct(slurm, job_ids, ["State", "Start", "End", "AllocTRES"])
        if len(rows) == len(job_ids) and all(r["State"] == "COMPLETED" for r in rows.values()):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"jobs {job_ids} not COMPLETED in sacct after {timeout} s: {rows}")


def test_node_declares_two_gpus(slurm):
    node = slurm.run("scontrol", "show", "node", slurm.node).stdout
    assert "Gres=gpu:2" in node
    assert "gres/gpu=2" in node  # CfgTRES: the GPUs survived slurmd's device check


def test_three_gpu_request_is_refused(slurm):
    r = slurm.run("sbatch", "-p", "gpu", "--gres=gpu:3", "--wrap", "true", check=False)
    assert r.returncode != 0
    assert "Requested node configuration is not available" in r.stderr


def test_two_gpu_jobs_run_one_after_the_other(slurm, tmp_path):
    ids = [
        slurm.run(
            "sbatch",
            "--parsable",
            "-p",
            "gpu",
            "--gres=gpu:2",
            "--mem=100M",
            "-o",
            str(tmp_path / "%j.out"),
            "--wrap",
            "echo $SLURM_GPUS_ON_NODE; sleep 1",
        ).stdout.strip()
        for _ in range(2)
    ]
    rows = wait_for_accounting(slurm, ids)
    first, second = rows[ids[0]], rows[ids[1]]
    assert "gres/gpu=2" in first["AllocTRES"] and "gres/gpu=2" in second["AllocTRES"]
    # ISO timestamps compare as strings; the second starts only when the first has released its GPUs.
    assert second["Start"] >= first["End"], rows
    # The job was given both GPUs (on real devices slurm also sets CUDA_VISIBLE_DEVICES).
    assert (tmp_path / f"{ids[0]}.out").read_text().strip() == "2"


def test_one_gpu_jobs_share_the_node(slurm):
    """Control for the test above: two 1-GPU jobs fit side by side, so serialization was the GPUs."""
    ids = [
        slurm.run(
            "sbatch", "--parsable", "-p", "gpu", "--gres=gpu:1", "--mem=100M", "-o", "/dev/null", "--wrap", "sleep 2"
        ).stdout.strip()
        for _ in range(2)
    ]
    rows = wait_for_accounting(slurm, ids)
    assert rows[ids[1]]["Start"] < rows[ids[0]]["End"], rows
