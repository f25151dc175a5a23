"""rules/explain_blocks.smk: several shards per job (model loaded once), shard files unchanged.

Runs the real pipeline locally (the mechanism is the same under the Slurm executor: one job = one
process either way); needs no cluster.
"""

import os
import subprocess
import sys

import pytest
from pipeline_runs import REPO, VENV_BIN, shard_files, shard_table, write_set

pytestmark = pytest.mark.slow


def run(workdir, experiment, shards_per_job, *args, check=True):
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(
        [
            str(VENV_BIN / "snakemake"),
            "-s",
            str(REPO / "Snakefile"),
            "--workflow-profile",
            str(REPO / "profiles" / "default"),
            "--config",
            f"experiment={experiment}",
            f"shards_per_job={shards_per_job}",
            *args,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and r.returncode != 0:
        raise AssertionError(f"snakemake exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def test_block_size_must_be_a_power_of_ten(tmp_path):
    experiment = write_set(tmp_path / "set", n_rows=2, shard_size=1, name="blocks")
    r = run(tmp_path, experiment, 7, "-n", check=False)
    assert r.returncode != 0
    assert "shards_per_job: must be one of 1, 10, 100 (got 7)" in r.stdout + r.stderr


def test_full_blocks_run_as_one_job_and_shards_match_single_shard_runs(tmp_path):
    # 12 one-row shards: one block job for 00000-00009, one-shard jobs for the partial tail 00010-00011.
    experiment = write_set(tmp_path / "set", n_rows=12, shard_size=1, name="blocks")
    r = run(tmp_path, experiment, 10, "--cores", "2")
    log = r.stdout + r.stderr
    assert log.count("rule explain_block:") == 1, log[-3000:]
    assert log.count("rule explain:") == 2, log[-3000:]
    files = shard_files(tmp_path, "blocks")
    assert [name.split("/")[-1] for name in files] == [f"{i:05d}.parquet" for i in range(12)]
    block_log = next((tmp_path / "results" / "blocks" / "logs" / "explain_block").glob("*/0000.log")).read_text()
    assert block_log.count("model loaded") == 1  # ten shards, one model load

    # The same shards explained one per process (what the per-shard rule runs) give the same numbers.
    config = tmp_path / "results" / "blocks" / "config.json"
    for name in ("00007.parquet",):
        block_file = next(p for n, p in files.items() if n.endswith(name))
        single = tmp_path / f"single-{name}"
        shard = name.split(".")[0]
        rows = next((tmp_path / "results" / "blocks" / "data").glob("*/rows.parquet"))
        subprocess.run(
            [
                str(VENV_BIN / "shapsweep"),
                "explain",
                str(config),
                "--run",
                block_file.parent.parent.name,
                "--rows",
                str(rows),
                "--shard",
                shard,
                str(int(shard)),
                str(int(shard) + 1),
                str(single),
                "--threads",
                "1",
            ],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
        )
        assert shard_table(block_file).equals(shard_table(single)), name

    # Switching blocks off later finds every shard file where it was: names do not depend on the block
    # size. Snakemake's default code/params triggers would still redo them (another rule made them),
    # so a switch mid-sweep goes with `--rerun-triggers mtime input` once (docs/slurm.md).
    again = run(tmp_path, experiment, 1, "-n", "--rerun-triggers", "mtime", "input")
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-2000:]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
