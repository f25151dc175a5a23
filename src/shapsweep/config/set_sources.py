"""Several experiment sets at once: which files a list of sources names, and each set's own folder.

A source is a set file (`.jsonnet` or a rendered `config.json`), a directory (its `*.jsonnet`, sorted)
or a glob (its matches, sorted). `snakemake --config 'experiments=[...]'` and `shapsweep plan / status`
take several; every set keeps its own `<output_root>/<experiment_set_id>/`, so two sets writing into one
folder (or one inside the other) would overwrite each other's config.json and runs.parquet: an error.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from shapsweep.config.experiment_set import ExperimentSet, load_experiment_set
from shapsweep.errors import ConfigError

_GLOB_CHARACTERS = "*?["


def experiment_files(sources: list[str | Path]) -> list[Path]:
    """The set files `sources` name, in the order given; a file named twice (a glob and its match) counts once.

    A plain path that does not exist is kept as it is: loading it then says which file is missing.
    """
    files: list[Path] = []
    for source in sources:
        text = str(source)
        if Path(text).is_dir():
            found = sorted(Path(text).glob("*.jsonnet"))
            if not found:
                raise ConfigError(f"{text}: a directory of experiment sets, but it holds no .jsonnet file")
        elif any(c in text for c in _GLOB_CHARACTERS):
            found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
            if not found:
                raise ConfigError(f"{text}: the glob matches no experiment-set file (relative to {Path.cwd()})")
        else:
            found = [Path(text)]
        files.extend(found)
    seen: set[str] = set()
    unique = []
    for path in files:
        if os.path.realpath(path) not in seen:
            seen.add(os.path.realpath(path))
            unique.append(path)
    return unique


def load_experiment_sets(
    sources: list[str | Path],
    ext_vars: dict[str, Any] | None = None,
    overrides: dict | None = None,
    warn: bool = True,
) -> dict[str, ExperimentSet]:
    """Set folder -> its experiment set, for every file `sources` names, each with its shards planned.

    The same ext vars and field overrides apply to every set. Every failing set is reported at once,
    each under its file name (`a.jsonnet:\\n<what is wrong>`), so one pass fixes them all; planning the
    shards here makes a missing data file fail now, not in a job.
    """
    sets: dict[str, ExperimentSet] = {}
    files_of: dict[str, Path] = {}
    errors: list[str] = []
    for path in experiment_files(sources):
        try:
            exp = load_experiment_set(path, ext_vars=ext_vars, overrides=overrides, warn=warn)
            for run_id in exp.runs:
                exp.shard_plan(run_id)
        except ConfigError as exc:
            errors.append(f"{path}:\n{exc}")
            continue
        folder = str(exp.set_dir)
        clash = _clashing_folder(folder, files_of)
        if clash is not None:
            errors.append(_clash_message(path, folder, files_of[clash], clash))
            continue
        sets[folder] = exp
        files_of[folder] = path
    if errors:
        raise ConfigError("\n\n".join(errors))
    return sets


def _clashing_folder(folder: str, taken: dict[str, Path]) -> str | None:
    """A folder already taken that is `folder`, or holds it, or lies inside it (compared as absolute paths)."""
    here = Path(os.path.abspath(folder))
    for other in taken:
        there = Path(os.path.abspath(other))
        if here == there or here.is_relative_to(there) or there.is_relative_to(here):
            return other
    return None


def _clash_message(path: Path, folder: str, other_path: Path, other_folder: str) -> str:
    here, there = Path(os.path.abspath(folder)), Path(os.path.abspath(other_folder))
    if here == there:
        where = f"is also the set folder of {other_path}"
    elif here.is_relative_to(there):
        where = f"lies inside {other_folder}, the set folder of {other_path}"
    else:
        where = f"holds {other_folder}, the set folder of {other_path}"
    return (
        f"{path}: its set folder {folder} (output_root / experiment_set_id) {where}; each set needs a folder "
        "of its own: give one of them another experiment_set_id (or output_root)"
    )


__all__ = ["experiment_files", "load_experiment_sets"]
