"""`shapsweep results` over many experiment sets: wall time and peak memory of one call.

    .venv/bin/python benchmarks/results_scale.py                 # 100 sets x 20 runs
    .venv/bin/python benchmarks/results_scale.py --sets 300      # more

Generates an output root of N set folders, each with a config.json (its experiment_set_id) and a
runs.parquet of R runs (seeded numbers: run id, slug, variant, method, budget, seed, eight metrics,
runtime columns); every fifth set repeats the previous set's runs (as a re-run or a copied folder would),
so merging de-duplicates run ids and compares their numbers. Then times, each in a fresh process
(`dag_scale.timed`), `shapsweep results ROOT` as TSV and as Markdown. Target (issue 23): 100 sets under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag_scale import BIN, timed

METRICS = ("mean_abs_error", "rel_l2", "spearman", "top5_overlap", "efficiency_gap", "evals_mean", "stderr_rel_mean")


def write_sets(root: Path, sets: int, runs: int) -> int:
    """`sets` set folders under `root`; returns the number of distinct run ids."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    distinct = 0
    frame = None
    for i in range(sets):
        folder = root / f"set{i:03d}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"experiment_set_id": f"set{i:03d}"}))
        if frame is None or i % 5 != 4:
            ids = [f"kernel_seed-{j}-{i:03d}{j:04d}" for j in range(runs)]
            frame = pl.DataFrame(
                {
                    "run_id": ids,
                    "slug": [r.rsplit("-", 1)[0] for r in ids],
                    "variant": ["kernel"] * runs,
                    "method": ["kernel"] * runs,
                    "budget": [64] * runs,
                    "seed": list(range(runs)),
                    **{m: rng.random(runs) for m in METRICS},
                    "runtime_s": rng.random(runs) * 100,
                }
            )
            distinct += runs
        frame.write_parquet(folder / "runs.parquet")
    return distinct


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", type=int, default=100)
    ap.add_argument("--runs", type=int, default=20, help="runs per set")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="results_scale_") as tmp:
        root = Path(tmp) / "results"
        distinct = write_sets(root, args.sets, args.runs)
        print(f"{args.sets} sets x {args.runs} runs ({distinct} distinct run ids)")
        for fmt in ("tsv", "markdown"):
            out = Path(tmp) / f"table.{fmt}"
            cmd = [str(BIN / "shapsweep"), "results", str(root), "--to", fmt, "--out", str(out)]
            wall, peak, _, cpu = timed(cmd, Path(tmp))
            lines = len(out.read_text().splitlines())
            print(f"shapsweep results --to {fmt}: {wall:.2f} s wall, {cpu:.2f} s cpu, {peak:.0f} MB, {lines} lines")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WANDB_MODE", "offline")
    sys.exit(main())
