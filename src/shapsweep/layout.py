"""Where every output of an experiment set lives (the rules and the CLI both use these paths)."""

from __future__ import annotations

from pathlib import Path


def set_dir(cfg: dict) -> Path:
    return Path(cfg["output_root"]) / cfg["experiment_set_id"]


def config_json(set_dir: Path) -> Path:
    return Path(set_dir) / "config.json"


def rows_file(set_dir: Path, data_id: str) -> Path:
    return Path(set_dir) / "data" / data_id / "rows.parquet"


def run_dir(set_dir: Path, run_id: str) -> Path:
    return Path(set_dir) / "runs" / run_id


def shard_file(set_dir: Path, run_id: str, shard_id: str) -> Path:
    return run_dir(set_dir, run_id) / "shards" / f"{shard_id}.parquet"


def summary_file(set_dir: Path, run_id: str) -> Path:
    return run_dir(set_dir, run_id) / "summary.json"


def spec_file(set_dir: Path, run_id: str) -> Path:
    """The run's resolved explain spec and swept params (what its id hashes), written by aggregate."""
    return run_dir(set_dir, run_id) / "spec.json"


def faithfulness_file(set_dir: Path, run_id: str, shard_id: str) -> Path:
    return run_dir(set_dir, run_id) / "faithfulness" / f"{shard_id}.parquet"


def compare_files(set_dir: Path) -> dict[str, Path]:
    set_dir = Path(set_dir)
    return {
        "parquet": set_dir / "runs.parquet",
        "tsv": set_dir / "runs.tsv",
        "row_errors": set_dir / "reference_errors.parquet",
    }
