"""A live one-node Slurm, started once per test session (tests/slurm_cluster.py).

Skips with the reason where a live Slurm is impossible (not root, packages absent), except under CI
(env var `CI` set), where that is a failure: CI installs the packages and runs as root.
"""

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from slurm_cluster import DAEMONS, SlurmCluster, _alive, unavailable_reason


def require_live_slurm() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Slurm tests, but: {reason}")
    pytest.skip(reason)


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line or environment mentions `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid() or not _alive(int(entry.name)):
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmd or text in env:
            found.append(f"{entry.name}: {cmd.strip()}")
    return found


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    require_live_slurm()
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    try:
        yield cluster
    finally:
        assert_stop_leaves_nothing_running(cluster)


def assert_stop_leaves_nothing_running(cluster: SlurmCluster) -> None:
    """Stop with a job still running (its step must go too); then no process of the cluster is left."""
    daemons = dict(cluster.pids)
    assert set(daemons) == set(DAEMONS)
    job = cluster.run("sbatch", "--parsable", "--mem=50M", "-o", "/dev/null", "--wrap", "sleep 300").stdout.strip()
    deadline = time.monotonic() + 20
    while not (steps := cluster._job_step_pids()) and time.monotonic() < deadline:
        time.sleep(0.1)
    stepds = cluster._stepd_pids()
    cluster.stop()
    assert steps and stepds, f"job {job} never started a step"
    left = [pid for pid in [*daemons.values(), *steps, *stepds] if _alive(pid)]
    assert not left, f"still running after stop: {left}"
    assert not processes_mentioning(str(cluster.root)), processes_mentioning(str(cluster.root))
