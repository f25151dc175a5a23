"""Real Snakemake on a temporary copy of the workflow: what the end-to-end tests of every part share."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def copy_workflow(dest: Path) -> Path:
    """The Snakefile, rules, envs, the Jsonnet library (as lib/) and the default profile, into `dest`."""
    shutil.copy(REPO / "Snakefile", dest)
    for folder in ("rules", "envs"):
        shutil.copytree(REPO / folder, dest / folder)
    shutil.copytree(REPO / "config" / "lib", dest / "lib")
    shutil.copytree(REPO / "profiles" / "default", dest / "profiles" / "default")
    return dest


def snakemake_command(*args: str, config: tuple[str, ...] = ("experiment=set.jsonnet",)) -> list[str]:
    """Targets and flags first: Snakemake reads every word after --config as a key=value item."""
    return [SNAKEMAKE, *args, "--profile", "profiles/default", "--cores", "2", "--config", *config]


def run_snakemake(workdir: Path, *args: str, config=("experiment=set.jsonnet",), check=True, **kwargs):
    proc = subprocess.run(
        snakemake_command(*args, config=config), cwd=workdir, capture_output=True, text=True, timeout=600, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def job_counts(proc) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> jobs; {} when there is nothing to do."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", text.split("Job stats:", 1)[1], flags=re.M))
    counts.pop("total", None)
    return {rule: int(n) for rule, n in counts.items() if rule != "all"}
