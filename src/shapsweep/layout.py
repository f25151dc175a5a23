"""Where every output of an experiment set lives: the one source of paths for the rules and the CLI.

Each function takes the set folder and names; called with Snakemake wildcards as names
(`shard_file(SET_DIR, "{run}", "{shard}")`) it gives the rule's output pattern, so a rule and the
command it runs can never disagree about a path.
"""

from __future__ import annotations

from pathlib import Path

# The plots of the report's index, in the order it shows them (report rule outputs, report/pages.py).
REPORT_PLOTS = ("error_vs_budget", "runtime_vs_budget", "phi_mass_by_position", "faithfulness_curves")
EXPORT_FORMATS = ("jsonl", "html-lines")
# Shard ids are the shard's index, zero-padded: a run's shard files sort in row order.
SHARD_ID_WIDTH = 5


def set_dir(cfg: dict) -> Path:
    return Path(cfg["output_root"]) / cfg["experiment_set_id"]


def store_dir(cfg: dict) -> Path:
    """The evaluation store every set under the same output root shares (shapsweep.store)."""
    return Path(cfg["output_root"]) / "store"


def config_json(set_dir: str | Path) -> Path:
    return Path(set_dir) / "config.json"


def rows_file(set_dir: str | Path, data_id: str) -> Path:
    return Path(set_dir) / "data" / data_id / "rows.parquet"


def run_dir(set_dir: str | Path, run_id: str) -> Path:
    return Path(set_dir) / "runs" / run_id


def shards_dir(set_dir: str | Path, run_id: str) -> Path:
    return run_dir(set_dir, run_id) / "shards"


def shard_file(set_dir: str | Path, run_id: str, shard_id: str) -> Path:
    return shards_dir(set_dir, run_id) / f"{shard_id}.parquet"


def step_block_file(set_dir: str | Path, run_id: str, block: str, shard_id: str) -> Path:
    """A path_kernel shard over one block of trace steps (options.step_block); the blocks sum to the shard file."""
    return run_dir(set_dir, run_id) / "step_blocks" / block / f"{shard_id}.parquet"


def blocks_dir(set_dir: str | Path, run_id: str) -> Path:
    return run_dir(set_dir, run_id) / "blocks"


def block_record(set_dir: str | Path, run_id: str, block: str) -> Path:
    """Written last by a job explaining a block of shards (`shards_per_job`): what aggregate and export
    depend on instead of the block's shard files (a plan then matches 100x fewer files to rules)."""
    return blocks_dir(set_dir, run_id) / f"{block}.json"


def progress_file(shard_file: str | Path) -> Path:
    """Where a running explain job says how far it is in a shard (hidden beside the shard; gone once it is written)."""
    shard_file = Path(shard_file)
    return shard_file.with_name(f".{shard_file.stem}.progress.json")


def partial_shard_file(shard_file: str | Path) -> Path:
    """Where a shard waits whose rows a server failed to answer (hidden, not the rule's output, so Snakemake
    keeps it when the job fails); the re-run explains only those rows and writes the shard."""
    shard_file = Path(shard_file)
    return shard_file.with_name(f".{shard_file.stem}.partial.parquet")


def finished_shard_file(shard_file: str | Path) -> Path:
    """A hard link to a shard file made as soon as the shard is done (hidden, not the rule's output, so it
    outlives Snakemake deleting a killed job's outputs); the re-run links it back instead of explaining
    the shard again, and the job removes it once all its outputs are written."""
    shard_file = Path(shard_file)
    return shard_file.with_name(f".{shard_file.stem}.finished.parquet")


def interaction_matrix_file(shard_file: str | Path) -> Path:
    """A shard's side file of whole interaction matrices (shap.interactions.full_matrix): beside the shard,
    written before it, so a shard that exists has its side file (interaction_matrices.py)."""
    shard_file = Path(shard_file)
    return shard_file.with_name(f"{shard_file.stem}.interactions.parquet")


def explainer_dir(set_dir: str | Path, explainer_id: str) -> Path:
    """An empirical explainer trained on a run's attributions (save_pretrained folder, log, metrics)."""
    return Path(set_dir) / "explainers" / explainer_id


def trace_dir(set_dir: str | Path, trace_id: str) -> Path:
    """A training run recorded by rule trace (shapsweep.training.trace: trace.json, base/, steps/<s>/, final/)."""
    return Path(set_dir) / "traces" / trace_id


def trace_done(set_dir: str | Path, trace_id: str) -> Path:
    """Written last by `shapsweep trace`: the rule's output (a killed trace keeps its finished steps to resume)."""
    return trace_dir(set_dir, trace_id) / "done.json"


def summary_file(set_dir: str | Path, run_id: str) -> Path:
    return run_dir(set_dir, run_id) / "summary.json"


def set_dir_of_summary(summary: str | Path) -> Path:
    """The set folder a run's summary.json lies in (inverse of `summary_file`)."""
    return Path(summary).parents[2]


def spec_file(set_dir: str | Path, run_id: str) -> Path:
    """The run's resolved explain spec and swept params (what its id hashes), written by aggregate."""
    return run_dir(set_dir, run_id) / "spec.json"


def first_files(folder: str | Path, count: int) -> list[Path]:
    """The first `count` files of a run's shards/ (or faithfulness/) folder, named like the shard plan's ids
    (SHARD_ID_WIDTH digits). Rules pass a count, not the names: a run with thousands of shards
    names more files than one shell argument may hold (128 KiB)."""
    return [Path(folder) / f"{i:0{SHARD_ID_WIDTH}d}.parquet" for i in range(count)]


def faithfulness_dir(set_dir: str | Path, run_id: str) -> Path:
    return run_dir(set_dir, run_id) / "faithfulness"


def faithfulness_file(set_dir: str | Path, run_id: str, shard_id: str) -> Path:
    return faithfulness_dir(set_dir, run_id) / f"{shard_id}.parquet"


def tracking_marker(set_dir: str | Path, run_id: str) -> Path:
    return run_dir(set_dir, run_id) / "tracking.json"


def compare_files(set_dir: str | Path) -> dict[str, Path]:
    set_dir = Path(set_dir)
    return {
        "parquet": set_dir / "runs.parquet",
        "tsv": set_dir / "runs.tsv",
        "row_errors": set_dir / "reference_errors.parquet",
    }


def report_dir(set_dir: str | Path) -> Path:
    return Path(set_dir) / "report"


def report_index(set_dir: str | Path) -> Path:
    return report_dir(set_dir) / "index.html"


def report_sweep_table(set_dir: str | Path) -> Path:
    return report_dir(set_dir) / "sweep.tsv"


def report_plot(set_dir: str | Path, name: str) -> Path:
    return report_dir(set_dir) / "plots" / f"{name}.png"


def export_file(set_dir: str | Path, run_id: str, fmt: str) -> Path:
    return Path(set_dir) / "export" / f"{run_id}.{fmt}"


def log_file(set_dir: str | Path, stage: str, *names: str) -> Path:
    """`logs/<stage>/<names...>.log`; a stage with one log per set passes no names (`logs/<stage>.log`)."""
    if not names:
        return Path(set_dir) / "logs" / f"{stage}.log"
    return Path(set_dir).joinpath("logs", stage, *names[:-1], f"{names[-1]}.log")
