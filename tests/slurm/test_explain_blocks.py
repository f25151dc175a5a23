"""rules/explain_blocks.smk: several shards per job (model loaded once), shard files unchanged.

Runs the real pipeline locally (the mechanism is the same under the Slurm executor: one job = one
process either way); needs no cluster.
"""

import json
import os
import re
import subprocess
import sys

import pytest
from pipeline_runs import REPO, VENV_BIN, shard_files, shard_table, write_set

pytestmark = pytest.mark.slow


def run(workdir, experiment, shards_per_job, *args, check=True, env=None):
    env = {**os.environ, **(env or {}), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
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
    # so a switch mid-sweep goes with `--rerun-triggers mtime input` once (docs/slurm.md); aggregate
    # alone re-runs (it named the block's record, now its shards), never a shard.
    again = run(tmp_path, experiment, 1, "-n", "--rerun-triggers", "mtime", "input").stdout
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", again, re.MULTILINE)}
    assert counts.get("aggregate") == 1 and "explain" not in counts and "explain_block" not in counts, again[-2000:]


def test_a_block_is_redone_for_a_deleted_shard_and_found_without_its_record(tmp_path):
    # Aggregate depends on each full block's record, not its shard files (a 1M-row plan matches 100x
    # fewer files); a deleted shard is still a target, so its block job alone re-runs.
    experiment = write_set(tmp_path / "set", n_rows=22, shard_size=1, name="records")
    run(tmp_path, experiment, 10, "--cores", "2")
    files = shard_files(tmp_path, "records")
    run_dir = next(iter(files.values())).parent.parent
    records = sorted(p.name for p in (run_dir / "blocks").iterdir())
    assert records == ["0000.json", "0001.json"]
    assert json.loads((run_dir / "blocks" / "0001.json").read_text())["shards"][3] == {
        "shard": "00013",
        "start": 13,
        "end": 14,
    }

    (run_dir / "shards" / "00013.parquet").unlink()
    plan = run(tmp_path, experiment, 10, "-n", "-p").stdout
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", plan, re.MULTILINE)}
    assert counts.get("explain_block") == 1 and "explain" not in counts, plan[-2000:]
    assert "--block-record" in plan and "blocks/0001.json" in plan, plan[-2000:]
    run(tmp_path, experiment, 10, "--cores", "2")
    assert (run_dir / "shards" / "00013.parquet").exists()

    # A finished block without its record (made before records existed) is declared by its shards and
    # never redone for want of the record.
    (run_dir / "blocks" / "0000.json").unlink()
    quiet = run(tmp_path, experiment, 10, "-n")
    assert "Nothing to be done" in quiet.stdout + quiet.stderr, quiet.stdout[-2000:]


def test_thousands_of_shards_plan_block_jobs_and_fit_one_command_line(tmp_path):
    # 2,050 one-row shards: 20 full blocks of 100 and a tail of 50 one-shard jobs. The one-shard rule must not
    # match a full block's shards (Snakemake would build a job for each and throw it away: most of a big dry
    # run's time), and no command may name every shard (one shell argument holds 128 KiB).
    experiment = write_set(tmp_path / "set", n_rows=2050, shard_size=1, name="many")
    r = run(tmp_path, experiment, 100, "-n", "-p")
    out = r.stdout + r.stderr
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.MULTILINE)}
    assert counts.get("explain_block") == 20, out[-3000:]
    assert counts.get("explain") == 50, out[-3000:]
    commands = [line for line in out.splitlines() if "shapsweep " in line]
    assert any("shapsweep aggregate" in c and "--shard-count 2050" in c for c in commands), out[-3000:]
    assert max(len(c.encode()) for c in commands) < 128 * 1024


def test_one_shard_rule_matches_only_the_tail_of_a_blocked_set(tmp_path):
    # 250 shards in blocks of 100: the one-shard rule may make only the tail 00200-00249. Were it to match
    # a full block's shard, Snakemake would build (and drop) an `explain` job for every such shard.
    experiment = write_set(tmp_path / "set", n_rows=250, shard_size=1, name="tail")
    out = run(tmp_path, experiment, 100, "-n", "-p").stdout
    run_dir = re.search(r"(results/tail/runs/[^/]+)/shards/00000\.parquet", out)[1]
    only_one_shard_rule = ("-n", "--allowed-rules", "explain", "rows", "--")
    tail = run(tmp_path, experiment, 100, *only_one_shard_rule, f"{run_dir}/shards/00249.parquet", check=False)
    assert tail.returncode == 0, tail.stdout[-2000:] + tail.stderr[-2000:]
    full = run(tmp_path, experiment, 100, *only_one_shard_rule, f"{run_dir}/shards/00007.parquet", check=False)
    assert full.returncode != 0
    assert "MissingRuleException" in full.stdout + full.stderr, full.stdout[-2000:] + full.stderr[-2000:]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_a_killed_block_keeps_its_finished_shards_and_the_rerun_explains_only_the_others(tmp_path):
    # The block process is SIGKILLed after its 4th shard (no Python cleanup runs). Snakemake deletes the
    # failed job's outputs, but each finished shard is a hard link to a hidden file that stays: the re-run
    # links those back (same inode and bytes: not rewritten) and explains only the six others. (Not the
    # mtime: Snakemake touches every output of a job that succeeds.)
    from shapsweep.explain import KILL_AFTER_SHARDS_ENV

    experiment = write_set(tmp_path / "set", n_rows=10, shard_size=1, name="killed")
    killed = run(tmp_path, experiment, 10, "--cores", "1", check=False, env={KILL_AFTER_SHARDS_ENV: "4"})
    assert killed.returncode != 0
    run_dir = next((tmp_path / "results" / "killed" / "runs").iterdir())
    shards = run_dir / "shards"
    assert not list(shards.glob("[0-9]*.parquet")), killed.stdout[-2000:]  # the failed job's outputs went
    assert not (run_dir / "blocks").exists() or not list((run_dir / "blocks").iterdir())  # the record is last
    kept = {p.name.split(".")[1]: (p.stat().st_ino, p.read_bytes()) for p in shards.glob(".*.finished.parquet")}
    assert sorted(kept) == ["00000", "00001", "00002", "00003"], killed.stdout[-2000:]

    run(tmp_path, experiment, 10, "--cores", "1")
    block_log = next((tmp_path / "results" / "killed" / "logs" / "explain_block").glob("*/0000.log")).read_text()
    assert block_log.count("kept from an earlier try") == 4 and block_log.count("written:") == 6, block_log
    assert len(re.findall(r"^shard \d+ row 1/1 ", block_log, re.MULTILINE)) == 6  # six shards explained
    for shard, before in kept.items():
        after = shards / f"{shard}.parquet"
        assert (after.stat().st_ino, after.read_bytes()) == before, shard
    assert not list(shards.glob(".*.finished.parquet"))  # the links go once the block is done
    record = json.loads((run_dir / "blocks" / "0000.json").read_text())
    assert [s["shard"] for s in record["shards"]] == [f"{i:05d}" for i in range(10)]

    # the same set, never interrupted, gives the same shards (explained only: no aggregate or report)
    (tmp_path / "clean").mkdir()
    run(tmp_path / "clean", experiment, 10, "--cores", "1", "--until", "explain_block")
    clean = shard_files(tmp_path / "clean", "killed")
    resumed = shard_files(tmp_path, "killed")
    assert sorted(clean) == sorted(resumed) and len(clean) == 10
    for name in clean:
        assert shard_table(resumed[name]).equals(shard_table(clean[name])), name
