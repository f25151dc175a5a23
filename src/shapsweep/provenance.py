"""Provenance of one shard job: which code, packages, machine, device and time produced a shard.

Facts only: nothing here decides, writes or fails. A fact that cannot be found (no git, no repo, no
/proc/cpuinfo, a package not installed) is recorded as null; gathering never raises.

Each shard carries its job's facts in its Parquet file's key-value metadata under `METADATA_KEY`
(a JSON object), so the record appears with the shard in the same rename and travels with it when a
results folder is copied (docs/DESIGN.md, "Pipeline side"). `read_shard_provenance` reads it back.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

METADATA_KEY = "shapsweep.provenance"
GIT_TIMEOUT_S = 10
# Packages whose versions change numbers or files; the package's own requirements are added to these.
CORE_PACKAGES = (
    "shapsweep",
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "snakemake",
    "datasets",
    "polars",
    "pyarrow",
    "numpy",
)


def utc_now() -> str:
    """The current time, UTC, ISO 8601 with microseconds (`2026-12-01T09:40:33.123456+00:00`)."""
    return datetime.now(UTC).isoformat()


def _git(directory: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hangs (a network mount): no answer
        return None
    return proc.stdout if proc.returncode == 0 else None


def code_version(directory: str | Path | None = None) -> dict[str, Any]:
    """{commit, dirty, repo} of the git checkout holding `directory` (default: this package's source).

    The default is the shapsweep source folder: in the project checkout (editable install) that is the
    code that computed the numbers; an installed wheel is outside any repository and records nulls
    (its version is in `packages`). `dirty` is true when tracked files differ from the commit or
    untracked, non-ignored files exist.
    """
    directory = Path(directory) if directory is not None else Path(__file__).resolve().parent
    top = _git(directory, "rev-parse", "--show-toplevel")
    commit = _git(directory, "rev-parse", "HEAD")
    if top is None or commit is None:
        return {"commit": None, "dirty": None, "repo": None}
    status = _git(directory, "status", "--porcelain")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip()), "repo": top.strip()}


def _requirement_names() -> list[str]:
    """Names of shapsweep's own runtime requirements (the pinned packages), from its installed metadata."""
    try:
        requires = importlib.metadata.requires("shapsweep") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    names = []
    for req in requires:
        if "extra ==" in req:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
        if match:
            names.append(match.group())
    return names


def package_versions(names: list[str] | None = None) -> dict[str, str | None]:
    """name -> installed version (importlib.metadata, nothing imported); null when not installed."""
    out: dict[str, str | None] = {}
    for name in names if names is not None else list(dict.fromkeys([*CORE_PACKAGES, *_requirement_names()])):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_model() -> str | None:
    """The CPU's model name (/proc/cpuinfo on Linux, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def gpus() -> list[str]:
    """Names of the visible CUDA GPUs; [] without CUDA or when torch was never imported (no import here)."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_available():
            return []
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken driver must not fail the job that records it
        return []


def _first_module(obj, depth: int = 2):
    """The first torch module reachable from `obj` through its attributes (connectors hold one)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(obj, torch.nn.Module):
        return obj
    if depth == 0 or not hasattr(obj, "__dict__"):
        return None
    for value in vars(obj).values():
        found = _first_module(value, depth - 1)
        if found is not None:
            return found
    return None


def model_device_and_dtype(model) -> dict[str, str | None]:
    """{device, dtype} a loaded connector actually computes with (its `.device`, its weights' dtype)."""
    device = getattr(model, "device", None)
    module = _first_module(model)
    dtype = None
    if module is not None:
        param = next(iter(module.parameters()), None)
        dtype = None if param is None else str(param.dtype).removeprefix("torch.")
    return {"device": None if device is None else str(device), "dtype": dtype}


def config_sha256(config: dict) -> str:
    """SHA-256 of the rendered config's canonical JSON (sorted keys): whitespace and key order never matter."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _static_facts() -> dict[str, Any]:
    from shapsweep.version import __version__

    return {
        "shapsweep_version": __version__,
        "code": code_version(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
    }


def job_facts(config: dict | None = None, config_file: str | Path | None = None) -> dict[str, Any]:
    """What one job knows about itself before its work: code, packages, host, CPU, GPUs, Slurm, config.

    Args:
        config: the rendered experiment-set config the job read (hashed; its `experiment_file`, when
            it carries one, is recorded as the set's source).
        config_file: the path the job was given (`results/<set>/config.json`).
    """
    facts = dict(_static_facts())
    gpu_names = gpus()
    facts.update(
        gpus=gpu_names,
        gpu_count=len(gpu_names),
        slurm_job_id=os.environ.get("SLURM_JOB_ID"),
        config_file=None if config_file is None else str(Path(config_file).resolve()),
        config_sha256=None if config is None else config_sha256(config),
        experiment_file=None if config is None else config.get("experiment_file"),
    )
    return facts


def shard_record(facts: dict, started_at: str, finished_at: str, statuses: list[str]) -> dict:
    """One shard's provenance: the job's facts (device and dtype used included), its times and row outcomes."""
    duration = (datetime.fromisoformat(finished_at) - datetime.fromisoformat(started_at)).total_seconds()
    ok = sum(s == "ok" for s in statuses)
    skipped = sum(s == "skipped" for s in statuses)
    return {
        **facts,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_s": duration,
        "rows_ok": ok,
        "rows_failed": len(statuses) - ok - skipped,
        "rows_skipped": skipped,
    }


def to_metadata(record: dict) -> dict[str, str]:
    """The Parquet key-value metadata holding `record`."""
    return {METADATA_KEY: json.dumps(record, sort_keys=True, default=str)}


def read_shard_provenance(path: str | Path) -> dict | None:
    """The provenance a shard file carries (None for a shard written before provenance was recorded)."""
    import polars as pl

    text = pl.read_parquet_metadata(path).get(METADATA_KEY)
    return None if text is None else json.loads(text)
