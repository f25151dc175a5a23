"""Time the embedded default (config/default.jsonnet) end to end, as `make run` runs it.

Runs `snakemake --profile profiles/default` on a fresh copy of the workflow (so existing results
are not touched) and prints wall time, the CPU time of all processes, the job counts, and how much
of the explain jobs went to start-up + model load. Target: under 5 minutes on 2 CPU cores.

    .venv/bin/python benchmarks/pipeline_default.py
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    snakemake = str(Path(sys.executable).parent / "snakemake")
    with tempfile.TemporaryDirectory(prefix="shapsweep-bench-") as tmp:
        wd = Path(tmp)
        shutil.copy(REPO / "Snakefile", wd)
        for folder in ("rules", "envs", "config", "profiles"):
            shutil.copytree(REPO / folder, wd / folder)
        started = time.perf_counter()
        proc = subprocess.run([snakemake, "--profile", "profiles/default"], cwd=wd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-4000:])
            return 1
        stats = (proc.stdout + proc.stderr).split("Job stats:", 1)[1].split("\n\n", 1)[0]
        loads, rows_s = [], 0.0
        for log in (wd / "results" / "default" / "logs" / "explain").rglob("*.log"):
            text = log.read_text()
            loads += [float(x) for x in re.findall(r"model loaded in ([\d.]+)s", text)]
            rows_s += sum(float(x) for x in re.findall(r": \w+ ([\d.]+)s$", text, flags=re.M))
        with open("/proc/loadavg") as fh:
            load = fh.read().split()[:3]
        print(f"wall: {wall:.1f} s   CPU (user+sys, all processes): {usage.ru_utime + usage.ru_stime:.1f} s")
        print(f"load average during/after: {' '.join(load)} (other work on the machine inflates wall time)")
        print(f"explain jobs: {len(loads)}, model load in-process {sum(loads):.1f} s total, rows {rows_s:.1f} s total")
        print("jobs:" + stats.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
