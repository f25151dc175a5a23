"""Share of `explain` wall time spent starting up (Python, imports, model load) rather than explaining.

    .venv/bin/python benchmarks/dag_scale_load_share.py                       # config/default.jsonnet
    .venv/bin/python benchmarks/dag_scale_load_share.py --shard-size 1 --rows 8 --runs kernel_budget-32

Runs the real `shapsweep explain` CLI, exactly as rules/explain.smk does, in two ways:
  * one process per shard (what one Snakemake job per shard costs, on Slurm or locally);
  * one process for all shards of the run (`--shard` repeated: the model is loaded once), which is
    what rules/explain_blocks.smk submits.
Load share = 1 - (sum of the rows' own runtime_s) / (process wall time). 2 CPU cores shared with
other work: figures are noisy, read them as ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from shapsweep.config import load_experiment_set  # noqa: E402


def shapsweep(*args: str, log: Path) -> float:
    """Wall seconds of one `shapsweep` process (the rule's command line)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    t0 = time.perf_counter()
    with log.open("a") as out:
        subprocess.run(["shapsweep", *args], check=True, stdout=out, stderr=subprocess.STDOUT, env=env)
    return time.perf_counter() - t0


def explained_seconds(files: list[Path]) -> float:
    return float(sum(pl.read_parquet(f)["runtime_s"].sum() for f in files))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "config" / "default.jsonnet"))
    ap.add_argument("--shard-size", type=int, help="override the config's shard_size (many small shards)")
    ap.add_argument("--rows", type=int, help="override selection.max_samples")
    ap.add_argument("--runs", nargs="*", help="run-id prefixes to measure (default: every run)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-per-shard", action="store_true", help="measure only the one-process mode")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    overrides = {}
    if args.shard_size:
        overrides["shard_size"] = args.shard_size
    exp = load_experiment_set(args.config, overrides=overrides)
    if args.rows:
        exp = load_experiment_set(
            args.config, overrides={**overrides, "selection": {**exp.config["selection"], "max_samples": args.rows}}
        )
    with tempfile.TemporaryDirectory(prefix="dag_scale_load_") as tmp:
        tmp = Path(tmp)
        import json

        config_json = tmp / "config.json"
        config_json.write_text(json.dumps(exp.config))
        log = tmp / "explain.log"
        rows = {}
        print(
            f"{'run':<32} {'shards':>6} {'rows':>4}  {'per-shard: wall s':>17} {'load %':>6}  "
            f"{'one process: wall s':>19} {'load %':>6}"
        )
        for run_id, spec in exp.runs.items():
            if args.runs and not any(run_id.startswith(p) for p in args.runs):
                continue
            data_id = spec["data_id"]
            if data_id not in rows:
                rows[data_id] = tmp / f"{data_id}.parquet"
                shapsweep("rows", str(config_json), "--data-id", data_id, "--out", str(rows[data_id]), log=log)
            shards = exp.shard_plan(run_id).shards
            base = [
                "explain",
                str(config_json),
                "--run",
                run_id,
                "--rows",
                str(rows[data_id]),
                "--threads",
                str(args.threads),
            ]

            single_files, single_wall = [], 0.0
            for s in [] if args.skip_per_shard else shards:
                out = tmp / "single" / run_id / f"{s.shard_id}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                single_wall += shapsweep(*base, "--shard", s.shard_id, str(s.start), str(s.end), str(out), log=log)
                single_files.append(out)

            block_files, block_args = [], []
            for s in shards:
                out = tmp / "block" / run_id / f"{s.shard_id}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                block_args += ["--shard", s.shard_id, str(s.start), str(s.end), str(out)]
                block_files.append(out)
            block_wall = shapsweep(*base, *block_args, log=log)

            n_rows = sum(s.end - s.start for s in shards)
            if not single_files:
                single_wall = single_share = float("nan")
            else:
                single_share = 1 - explained_seconds(single_files) / single_wall
            block_share = 1 - explained_seconds(block_files) / block_wall
            print(
                f"{run_id:<32} {len(shards):>6} {n_rows:>4}  {single_wall:>17.1f} {100 * single_share:>6.1f}  "
                f"{block_wall:>19.1f} {100 * block_share:>6.1f}",
                flush=True,
            )
            for a, b in zip(single_files, block_files):
                same = pl.read_parquet(a).drop("runtime_s").equals(pl.read_parquet(b).drop("runtime_s"))
                if not same:
                    print(f"  ! {b.name}: one-process output differs from the per-shard one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
