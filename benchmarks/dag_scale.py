"""How far the pipeline's DAG scales: dry-run time and peak memory by number of (run, shard) jobs.

    .venv/bin/python benchmarks/dag_scale.py                 # 1k, 10k, 50k jobs; no-op over 10k; render
    .venv/bin/python benchmarks/dag_scale.py --jobs 1000     # one size only, quicker
    .venv/bin/python benchmarks/dag_scale.py --jobs 10000 --sets 2 --skip-noop   # the same jobs as 2 sets

Each sweep is R runs (one kernel variant over R seeds) x S shards (S rows, shard_size 1) of a local
jsonl file, planned by the real Snakefile. Measured, each in a fresh process:
  * `snakemake -n` wall time, CPU time (user + sys, steadier than wall time on a shared machine) and
    peak RSS (ru_maxrss of the child), with `--workflow-profile none` so only Snakemake and our
    parse-time code are measured; with --sets N the same runs split into N sets in one call
    (`--config experiments=[...]`);
  * a no-op run over finished outputs: every planned file created (by stage, oldest first) and
    `snakemake --cores 1` asked to make them, so it has nothing to do;
  * render + sweep expansion + shard planning alone (load_experiment_set), in-process;
  * with --baseline, the same DAG shape without shapsweep (benchmarks/dag_scale_baseline.smk), to
    tell Snakemake's own cost from the pipeline's.
Floors (issue 5): 10k-job dry run < 10 s, render + expansion of 1,000 runs < 1 s. 2-core machine,
shared with other work: figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# (runs, shards) per size: runs x shards = jobs.
SHAPES = {1_000: (10, 100), 10_000: (100, 100), 50_000: (100, 500)}


def write_set(folder: Path, runs: int, shards: int, set_id: str = "scale") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "rows.jsonl"
    with data.open("w") as f:
        for i in range(shards):
            f.write(json.dumps({"id": f"r{i}", "text": f"sentence number {i} of the scale benchmark"}) + "\n")
    path = folder / "scale.jsonnet"
    path.write_text(f"""
local ss = import 'shapsweep.libsonnet';
{{
  experiment_set_id: '{set_id}',
  output_root: 'results',
  model: ss.minilm,
  dataset: ss.localFile('{data}'),
  selection: {{ max_samples: {shards} }},
  shard_size: 1,
  features: {{ granularity: 'word' }},
  value: {{ kind: 'similarity' }},
  experiments: [ ss.method('kernel', [32]) + ss.seeds({runs}) ],
}}
""")
    return path


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str, float]:
    """(wall seconds, peak RSS in MB, output tail, CPU seconds user + sys) of a command run in a fresh process."""
    out = cwd / "command.log"
    with out.open("w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not the max over all
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-4000:]}")
    return wall, usage.ru_maxrss / 1024, text[-400:], usage.ru_utime + usage.ru_stime


def snakemake_cmd(experiment: Path | list[Path], *args: str) -> list[str]:
    chosen = (
        f"experiments=[{', '.join(map(str, experiment))}]"
        if isinstance(experiment, list)
        else f"experiment={experiment}"
    )
    return [
        str(BIN / "snakemake"),
        "-s",
        str(REPO / "Snakefile"),
        "--workflow-profile",
        "none",
        "--config",
        chosen,
        *args,
    ]


def create_outputs(work: Path, experiment: Path) -> int:
    """Create every file the workflow plans, by stage (rows < shards < summaries < set files)."""
    sys.path.insert(0, str(REPO / "src"))
    from shapsweep import layout
    from shapsweep.config import load_experiment_set

    os.chdir(work)
    exp = load_experiment_set(str(experiment))
    set_dir = layout.set_dir(exp.config)
    stages: list[list[Path]] = [[], [], [], []]
    for data_id in {r["data_id"] for r in exp.runs.values()}:
        stages[0].append(Path(layout.rows_file(set_dir, data_id)))
    for run_id in exp.runs:
        for shard in exp.shard_plan(run_id).shards:
            stages[1].append(Path(layout.shard_file(set_dir, run_id, shard.shard_id)))
        stages[2].append(Path(layout.summary_file(set_dir, run_id)))
    stages[3] += [Path(p) for p in layout.compare_files(set_dir).values()]
    stages[3].append(Path(set_dir) / "report" / "index.html")
    n = 0
    stamp = time.time() - 3600
    for i, files in enumerate(stages):
        for path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            os.utime(path, (stamp + i * 60, stamp + i * 60))
            n += 1
    return n


def render_and_expand(experiment: Path, repeat: int = 3) -> float:
    sys.path.insert(0, str(REPO / "src"))
    from shapsweep.config import load_experiment_set

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        exp = load_experiment_set(str(experiment))
        for run_id in exp.runs:
            exp.shard_plan(run_id)
        best = min(best, time.perf_counter() - t0)
    return best, len(exp.runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, action="append", choices=sorted(SHAPES), help="sizes to dry-run")
    ap.add_argument("--noop-jobs", type=int, default=10_000, choices=sorted(SHAPES))
    ap.add_argument("--skip-noop", action="store_true")
    ap.add_argument("--sets", type=int, default=1, help="split the dry runs' runs into this many sets, one call")
    ap.add_argument(
        "--baseline",
        action="store_true",
        help="also dry-run benchmarks/dag_scale_baseline.smk: the same DAG shape without shapsweep",
    )
    args = ap.parse_args()
    sizes = args.jobs or sorted(SHAPES)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    with tempfile.TemporaryDirectory(prefix="dag_scale_") as tmp:
        tmp = Path(tmp)
        print(f"{'jobs':>7} {'runs':>5} {'shards':>6} {'sets':>4}  {'dry-run s':>9}  {'cpu s':>6}  {'peak MB':>8}")
        for jobs in sizes:
            runs, shards = SHAPES[jobs]
            work = tmp / f"dry{jobs}"
            if args.sets == 1:
                experiment = write_set(work, runs, shards)
            else:
                experiment = [
                    write_set(work / f"set{i}", runs // args.sets, shards, set_id=f"scale{i}") for i in range(args.sets)
                ]
            wall, peak, _, cpu = timed(snakemake_cmd(experiment, "-n", "-q", "rules"), work)
            line = f"{jobs:>7} {runs:>5} {shards:>6} {args.sets:>4}  {wall:>9.2f}  {cpu:>6.2f}  {peak:>8.0f}"
            if args.baseline:
                base = [
                    str(BIN / "snakemake"),
                    "-s",
                    str(REPO / "benchmarks" / "dag_scale_baseline.smk"),
                    "--workflow-profile",
                    "none",
                    "-n",
                    "-q",
                    "rules",
                    "--config",
                    f"runs={runs}",
                    f"shards={shards}",
                ]
                b_wall, b_peak, _, _ = timed(base, work)
                line += f"   Snakemake alone, same DAG shape: {b_wall:.2f} s, {b_peak:.0f} MB"
            print(line, flush=True)

        if not args.skip_noop:
            runs, shards = SHAPES[args.noop_jobs]
            work = tmp / f"noop{args.noop_jobs}"
            experiment = write_set(work, runs, shards)
            cwd = os.getcwd()
            n = create_outputs(work, experiment)
            os.chdir(cwd)
            wall, peak, tail, _ = timed(snakemake_cmd(experiment, "--cores", "1", "-q", "rules"), work)
            assert "Nothing to be done" in tail or "explain" not in tail, tail
            print(
                f"no-op run over {args.noop_jobs} finished (run, shard) jobs ({n} files): "
                f"{wall:.2f} s, peak {peak:.0f} MB"
            )

        experiment = write_set(tmp / "render", 1000, 1)
        best, n_runs = render_and_expand(experiment)
        print(f"render + expansion + shard plans, {n_runs} runs: {best:.3f} s (best of 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
