"""Time the embedded default (config/default.jsonnet) end to end, as `make run` runs it, with the
evaluation store on (the default) and off.

Runs `snakemake --profile profiles/default` on a fresh copy of the workflow (so existing results are
not touched) and prints wall time, the CPU time of all processes, the job counts, how much of the
explain jobs went to start-up + model load, and the model cost: the coalitions sent to the model
(`model_evals_total` summed over runs) beside the runs' distinct coalitions and the exact run's own.

    .venv/bin/python benchmarks/pipeline_default.py              # store on and off
    .venv/bin/python benchmarks/pipeline_default.py --store on
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_default(store: bool) -> dict:
    snakemake = str(Path(sys.executable).parent / "snakemake")
    with tempfile.TemporaryDirectory(prefix="shapsweep-bench-") as tmp:
        wd = Path(tmp)
        shutil.copy(REPO / "Snakefile", wd)
        for folder in ("rules", "envs", "config", "profiles"):
            shutil.copytree(REPO / folder, wd / folder)
        cmd = [snakemake, "--profile", "profiles/default"]
        if not store:
            cmd += ["--config", "store={enabled: false}"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(proc.stdout[-4000:] + proc.stderr[-4000:])
        stats = (proc.stdout + proc.stderr).split("Job stats:", 1)[1].split("\n\n", 1)[0]
        loads, rows_s = [], 0.0
        for log in (wd / "results" / "default" / "logs" / "explain").rglob("*.log"):
            text = log.read_text()
            loads += [float(x) for x in re.findall(r"model loaded in ([\d.]+)s", text)]
            rows_s += sum(float(x) for x in re.findall(r" ([\d.]+)s, shard ETA", text))
        metrics = {
            p.parent.name: json.loads(p.read_text())["metrics"]
            for p in (wd / "results" / "default" / "runs").glob("*/summary.json")
        }
        exact = next(m for run, m in metrics.items() if run.startswith("exact"))
        return {
            "wall": wall,
            "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "stats": stats.rstrip(),
            "loads": loads,
            "rows_s": rows_s,
            "model_evals": sum(m["model_evals_total"] for m in metrics.values()),
            "coalitions": sum(m["evals_total"] for m in metrics.values()),
            "exact": exact["evals_total"],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("on", "off", "both"), default="both")
    args = parser.parse_args()
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.store]
    for store in modes:
        r = run_default(store)
        with open("/proc/loadavg") as fh:
            load = fh.read().split()[:3]
        print(f"== store {'on' if store else 'off'}")
        print(
            f"wall: {r['wall']:.1f} s   CPU (user+sys, all processes): {r['cpu']:.1f} s   load average: {' '.join(load)}"
        )
        print(
            f"explain jobs: {len(r['loads'])}, model load {sum(r['loads']):.1f} s total, rows {r['rows_s']:.1f} s total"
        )
        print(
            f"model evaluations: {r['model_evals']} (runs' distinct coalitions {r['coalitions']}, exact's {r['exact']}; "
            f"{r['model_evals'] / r['exact']:.3f}x exact)"
        )
        print("jobs:" + r["stats"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
