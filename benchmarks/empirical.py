"""Empirical explainers against their target, integrated gradients and the cheapest sampling runs.

Runs config/examples/empirical.jsonnet through Snakemake (in a copy of the workflow unless --set-dir
names finished outputs), then scores every run on the rows the explainers never saw (held out by the
split of shapsweep.empirical.split) against two references: the empirical explainer's target run and the
exact Shapley values. Prints, per run: relative L2, MSE, Spearman and top-3 overlap (means over held-out
rows), seconds per row, and the floors of issue 13 as PASS/FAIL lines.

    .venv/bin/python benchmarks/empirical.py                       # the whole example (600 rows)
    .venv/bin/python benchmarks/empirical.py --rows 100 --out benchmarks/out/empirical.md
    .venv/bin/python benchmarks/empirical.py --set-dir results/empirical   # score existing outputs
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "config/examples/empirical.jsonnet"


def run_example(workdir: Path, rows: int | None, cores: int) -> tuple[Path, float]:
    """Snakemake on the example in a copy of the workflow; (its set folder, wall seconds)."""
    shutil.copy(REPO / "Snakefile", workdir)
    for folder in ("rules", "envs", "config", "profiles"):
        shutil.copytree(REPO / folder, workdir / folder)
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--profile", "profiles/default", "--cores", str(cores)]
    cmd += ["--config", f"experiment={EXAMPLE}"]
    if rows is not None:
        cmd += [f"selection={{max_samples: {rows}}}"]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=workdir, check=True)
    return workdir / "results" / "empirical", time.perf_counter() - started


def scores(run: pl.DataFrame, ref: pl.DataFrame, rows: set[str], top_k: int = 3) -> dict:
    """Mean relative L2, MSE, Spearman and top-k overlap of `run` against `ref` over `rows`."""
    from shapsweep.compare import row_errors

    errors = row_errors(run.filter(pl.col("row_id").is_in(list(rows))), ref, top_k)
    out = {"rows": errors.height}
    for stat in ("rel_l2", "mse", "spearman", "topk_overlap"):
        values = errors[stat].drop_nulls()
        out[stat] = float(values.mean()) if values.len() else float("nan")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="max_samples (default: the example's 600)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--set-dir", type=Path, default=None, help="score these outputs instead of running")
    parser.add_argument("--workdir", type=Path, default=None, help="run in this (new) folder and keep it")
    parser.add_argument("--out", type=Path, default=None, help="also write the tables as Markdown here")
    args = parser.parse_args()

    from shapsweep import layout
    from shapsweep.file_schemas import read_shards

    with tempfile.TemporaryDirectory(prefix="shapsweep-empirical-") as tmp:
        wall = None
        set_dir = args.set_dir
        if set_dir is None:
            workdir = Path(tmp)
            if args.workdir is not None:
                workdir = args.workdir
                workdir.mkdir(parents=True)  # a new folder: the example's outputs stay for --set-dir
            set_dir, wall = run_example(workdir, args.rows, args.cores)
        config = json.loads(layout.config_json(set_dir).read_text())
        from shapsweep.config.experiment_set import from_config

        exp = from_config(config)
        shards = {
            run_id: read_shards(sorted((layout.run_dir(set_dir, run_id) / "shards").glob("*.parquet")))
            for run_id in exp.runs
        }
        empirical = [r for r in exp.runs.values() if "empirical" in r]
        exact = next(r["run_id"] for r in exp.runs.values() if r["explain"]["shap"]["method"] == "exact")
        first = empirical[0]
        held = set(shards[first["run_id"]].filter(~pl.col("in_train"))["row_id"].to_list())
        lines = [
            f"# Empirical explainers: {len(held)} held-out rows of {shards[exact].height}",
            "",
            f"Command: `{' '.join(sys.argv)}`" + (f"; pipeline wall {wall:.0f} s" if wall else ""),
            "",
        ]
        per_row = {rid: float(f.filter(pl.col("status") == "ok")["runtime_s"].mean()) for rid, f in shards.items()}
        results: dict[str, dict] = {}
        for emp in empirical:
            target = emp["empirical"]["target_run"]
            lines += [
                f"## against the target `{exp.runs[target]['slug']}` and against exact (held-out rows)",
                "",
                "| run | method | rel L2 vs target | Spearman vs target | top-3 vs target | rel L2 vs exact | "
                "MSE vs exact | Spearman vs exact | top-3 vs exact | s / row |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for run_id, run in exp.runs.items():
                if run_id in (target, exact) or ("empirical" in run and run is not emp):
                    continue
                t = scores(shards[run_id], shards[target], held)
                e = scores(shards[run_id], shards[exact], held)
                results[f"{emp['slug']}:{run['slug']}"] = {"target": t, "exact": e, "s_per_row": per_row[run_id]}
                lines.append(
                    f"| {run['slug']} | {run['explain']['shap']['method']} | {t['rel_l2']:.3f} | {t['spearman']:.3f} | "
                    f"{t['topk_overlap']:.3f} | {e['rel_l2']:.3f} | {e['mse']:.2e} | {e['spearman']:.3f} | "
                    f"{e['topk_overlap']:.3f} | {per_row[run_id]:.4f} |"
                )
            e = scores(shards[target], shards[exact], held)
            lines.append(
                f"| {exp.runs[target]['slug']} (target) | {exp.runs[target]['explain']['shap']['method']} | - | - | - | "
                f"{e['rel_l2']:.3f} | {e['mse']:.2e} | {e['spearman']:.3f} | {e['topk_overlap']:.3f} | "
                f"{per_row[target]:.4f} |"
            )
            lines.append("")
            metrics = json.loads(
                (layout.explainer_dir(set_dir, emp["empirical"]["explainer_id"]) / "metrics.json").read_text()
            )
            lines += [
                f"explainer `{emp['empirical']['explainer_id']}` training: `{json.dumps(metrics, sort_keys=True)}`",
                "",
            ]
            # Floors (issue 13): >= 50x faster per row than its target; beats random on every metric, Spearman >= 0.6.
            mine = results[f"{emp['slug']}:{emp['slug']}"]["target"]
            rand_id = next(r for r, s in exp.runs.items() if s["explain"]["shap"]["method"] == "random")
            rand = results[f"{emp['slug']}:{exp.runs[rand_id]['slug']}"]["target"]
            speedup = per_row[target] / per_row[emp["run_id"]]
            beats = (
                mine["rel_l2"] < rand["rel_l2"] and mine["mse"] < rand["mse"] and mine["spearman"] > rand["spearman"]
            )
            beats = beats and mine["topk_overlap"] > rand["topk_overlap"]
            lines += [
                f"- {'PASS' if speedup >= 50 else 'FAIL'} {emp['slug']}: {speedup:.0f}x faster per row than its target (floor 50x)",
                f"- {'PASS' if beats else 'FAIL'} {emp['slug']}: beats the random baseline on every metric against its target",
                f"- {'PASS' if mine['spearman'] >= 0.6 else 'FAIL'} {emp['slug']}: Spearman against its target "
                f"{mine['spearman']:.3f} (floor 0.6)",
                "",
            ]
        text = "\n".join(lines)
        print(text)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
