"""Run the pipeline's own `aggregate` and `compare` commands over a set folder whose shards are in place,
with the arguments the rules pass (tests that lay out shards by hand use it)."""

from __future__ import annotations

from pathlib import Path

from shapsweep import layout
from shapsweep.cli import main


def aggregate_and_compare(set_dir: Path, exp) -> None:
    """`exp`: the ExperimentSet whose config.json lies in `set_dir` (its output_root/experiment_set_id)."""
    config_json = str(layout.config_json(set_dir))
    for run_id in exp.runs:
        summary = str(layout.summary_file(set_dir, run_id))
        assert main(["aggregate", config_json, "--run", run_id, "--out", summary]) == 0
    out = layout.compare_files(set_dir)
    summaries = [str(layout.summary_file(set_dir, run_id)) for run_id in exp.runs]
    references = [f"--reference={run_id}={ref}" for run_id, ref in exp.references.items() if ref]
    compare = ["compare", "--summaries", *summaries, *references, "--out-parquet", str(out["parquet"])]
    assert main([*compare, "--out-tsv", str(out["tsv"]), "--out-row-errors", str(out["row_errors"])]) == 0
