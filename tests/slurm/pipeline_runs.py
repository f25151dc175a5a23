"""Running the real pipeline (Snakefile + rules) locally or through profiles/slurm, on tiny experiment sets.

Shared by the Slurm end-to-end tests. Each set is the embedded default's shape (MiniLM sentence game,
word players, exact reference) cut down to a few rows so a run costs seconds, not minutes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Where the slurm executor plugin lives when it is kept out of the main environment (docs/slurm.md:
# importing it costs every local snakemake call ~9 s where a slurm.conf names an unreachable controller).
SLURM_EXECUTOR_DIR = Path(os.environ.get("SHAPSWEEP_SLURM_EXECUTOR", REPO / ".slurm-executor"))

SENTENCES = [
    "Cats sleep all day.",
    "Rain cools the city.",
    "Bread rises overnight.",
    "Trains leave early.",
    "Bees love summer flowers.",
    "Snow hides the path.",
]


def write_set(
    folder: Path,
    *,
    n_rows: int,
    shard_size: int,
    runs: str = "[ss.exact()]",
    model: str = "ss.minilm { batch_size: 32 }",
    gpu: int = 1,
    name: str = "tiny",
) -> Path:
    """A tiny experiment set (and its data file) in `folder`; returns the .jsonnet path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "rows.jsonl"
    sentences = SENTENCES + [f"Short line number {i} here." for i in range(len(SENTENCES), n_rows)]
    data.write_text("".join(json.dumps({"id": f"r{i}", "sentence": s}) + "\n" for i, s in enumerate(sentences)))
    path = folder / f"{name}.jsonnet"
    path.write_text(f"""
local ss = import 'shapsweep.libsonnet';
{{
  experiment_set_id: '{name}',
  output_root: 'results',
  model: {model},
  dataset: ss.localFile('{data}', text='sentence', columns={{ row_id: 'id' }}),
  selection: {{ max_samples: {n_rows}, shuffle_seed: 0 }},
  shard_size: {shard_size},
  features: {{ granularity: 'word', exclude_punctuation: true, masking: 'remove', max_players: 6 }},
  value: {{ kind: 'similarity', target: 'full', similarity: 'cosine' }},
  shap: {{ normalizer: 'abs_sum', batch_size: 32, seed: 0 }},
  resources: {{ mem_mb: 1000, runtime: 10, threads: 1, gpu: {gpu}, slurm_partition: 'gpu' }},
  experiments: {runs},
}}
""")
    return path


def executor_env() -> dict[str, str]:
    """PYTHONPATH additions that make the slurm executor plugin importable (or skip/fail saying how)."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None:
        return {}
    if (SLURM_EXECUTOR_DIR / "snakemake_executor_plugin_slurm").is_dir():
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(SLURM_EXECUTOR_DIR), os.environ.get("PYTHONPATH")]))}
    reason = (
        f"snakemake-executor-plugin-slurm is neither installed nor in {SLURM_EXECUTOR_DIR} "
        "(see docs/slurm.md, 'Installing the executor')"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def snakemake(
    workdir: Path, experiment: Path | list[Path], *args: str, cluster=None, check: bool = True, background: bool = False
):
    """Run the repository's Snakefile in `workdir` on `experiment` (a list: several sets in one call);
    through Slurm when `cluster` is given."""
    chosen = (
        f"experiments=[{', '.join(map(str, experiment))}]"
        if isinstance(experiment, list)
        else f"experiment={experiment}"
    )
    cmd = [str(VENV_BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--config", chosen]
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    if cluster is None:
        cmd += ["--workflow-profile", str(REPO / "profiles" / "default")]
    else:
        env = {**cluster.env, **executor_env()}
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
        cmd += [
            # The user-facing command: profiles/default still loads as the workflow profile.
            "--profile",
            str(REPO / "profiles" / "slurm"),
            # Test-only polling: the user-facing profile waits 40 s before the first status check.
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "1",
            "--latency-wait",
            "5",
        ]
    cmd += [*args]
    log = open(workdir / f"snakemake-{'slurm' if cluster else 'local'}.log", "ab")  # noqa: SIM115 (a background run keeps it)
    if background:
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    r = subprocess.run(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600)
    log.close()
    if check and r.returncode != 0:
        tail = (workdir / log.name).read_text(errors="replace")[-4000:]
        raise AssertionError(f"snakemake exited {r.returncode} in {workdir}:\n{tail}")
    return r


def shard_files(workdir: Path, name: str = "tiny") -> dict[str, Path]:
    root = workdir / "results" / name / "runs"
    return {str(p.relative_to(root)): p for p in sorted(root.glob("*/shards/*.parquet"))}


def shard_table(path: Path) -> pl.DataFrame:
    """A shard's content minus wall-clock and cost columns (where the values came from: the model or the
    evaluation store, which a second explanation of the same rows hits)."""
    return pl.read_parquet(path).drop("runtime_s", "model_evals", "store_hits", "forward_passes")


# Where and how a run was computed, not what it computed: provenance (hosts, Slurm job ids), and the
# model cost, which depends on what the evaluation store already held.
_NOT_RESULTS = ("provenance", "model_evals_total", "store_hits_total")


def summary_without_timing(path: Path) -> dict:
    def strip(obj):
        if isinstance(obj, dict):
            return {
                k: strip(v) for k, v in obj.items() if "runtime" not in k and "time" not in k and k not in _NOT_RESULTS
            }
        return obj

    return strip(json.loads(path.read_text()))
