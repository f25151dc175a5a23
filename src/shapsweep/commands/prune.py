"""List the outputs of runs the experiment set no longer has (dry run); --yes removes them.

A run dropped from the config (or changed: its id is a hash of its explain spec) leaves the tables and
the report at the next `snakemake`, but its folder under `runs/`, its exports, logs and W&B offline run
stay on disk, as does an empirical explainer no run uses any more. This finds them by comparing the set's
current run ids (and data ids, explainer ids) with what is under
`results/<set>/`; only the folders the pipeline itself writes are looked at. Give the same `--var` values
as the `snakemake` call (`--config vars=...`): other values describe other runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError

# logs/<stage>/ holds one entry per run (a folder of shard logs, or <run>.log / <run>.<fmt>.log).
RUN_LOG_STAGES = ("aggregate", "explain", "explain_block", "evaluate", "export", "track")
EXPORT_SUFFIXES = (".jsonl", ".html-lines")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument("--set-dir", help="results/<set> to prune (default: from the config)")
    parser.add_argument("--yes", action="store_true", help="remove what the dry run lists")


def _entry_id(path: Path) -> str:
    """The run (or data) id an output is named after: `<id>`, `<id>.log`, `<id>.jsonl`, `<id>.jsonl.log`."""
    name = path.name
    if path.is_file():
        name = name.removesuffix(".log")
        for suffix in EXPORT_SUFFIXES:
            name = name.removesuffix(suffix)
    return name


def _stale_children(folder: Path, keep: set[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and _entry_id(p) not in keep)


def _wandb_run(run_folder: Path, set_dir: Path) -> list[Path]:
    """The W&B offline run a dropped run's tracking marker points at, when it lies inside the set."""
    marker = run_folder / "tracking.json"
    try:
        wandb_dir = json.loads(marker.read_text()).get("run_dir") if marker.is_file() else None
    except (OSError, ValueError):
        return []
    if not wandb_dir:
        return []
    path = Path(wandb_dir).resolve()
    return [path] if path.is_dir() and path.is_relative_to(set_dir.resolve()) else []


def stale_outputs(
    set_dir: str | Path, run_ids: set[str], data_ids: set[str], explainer_ids: set[str] = frozenset()
) -> list[Path]:
    """Paths under `set_dir` that belong to no run in `run_ids`, no data selection in `data_ids` and no
    empirical explainer in `explainer_ids`."""
    set_dir = Path(set_dir)
    found = []
    for run_folder in _stale_children(set_dir / "runs", run_ids):
        found += [run_folder, *_wandb_run(run_folder, set_dir)]
    found += _stale_children(set_dir / "export", run_ids)
    for stage in RUN_LOG_STAGES:
        found += _stale_children(set_dir / "logs" / stage, run_ids)
    found += _stale_children(set_dir / "data", data_ids)
    found += _stale_children(set_dir / "logs" / "rows", data_ids)
    found += _stale_children(set_dir / "explainers", explainer_ids)
    found += _stale_children(set_dir / "logs" / "train_explainer", explainer_ids)
    return found


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(args: argparse.Namespace) -> int:
    try:
        exp = load(args, warn=False)
        set_dir = Path(args.set_dir or exp.set_dir)
        run_ids = set(exp.runs)
        data_ids = {run["data_id"] for run in exp.runs.values()}
        explainer_ids = {run["empirical"]["explainer_id"] for run in exp.runs.values() if "empirical" in run}
    except ConfigError as exc:
        return fail(exc)
    stale = stale_outputs(set_dir, run_ids, data_ids, explainer_ids)
    name = exp.config["experiment_set_id"]
    if not stale:
        print(f"nothing to prune: every output under {set_dir} belongs to a run of {name}")
        return 0
    total = 0
    for path in stale:
        size = _size(path)
        total += size
        print(f"{'removing' if args.yes else 'would remove'}\t{path}{'/' if path.is_dir() else ''}\t{size} bytes")
        if args.yes:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if args.yes:
        print(f"removed {len(stale)} paths ({total} bytes) that no run of {name} has")
    else:
        print(f"dry run: {len(stale)} paths ({total} bytes) belong to no run of {name}; add --yes to remove them")
    return 0
