# Parse time: render and validate the experiment set, expand its sweep, plan shards (no checkpoints),
# then the input functions the rules use. Every path comes from shapsweep.layout.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from shapsweep import layout
from shapsweep.atomic_outputs import write_json
from shapsweep.config import ConfigError, load_experiment_set
from shapsweep.config.overrides import split_snakemake_config
from shapsweep.data.shards import SHARD_ID_WIDTH

# --config experiment=PATH picks the set, vars={...} feeds std.extVar, any other key overrides the
# rendered config (the command line wins over the file, never the other way round).
_EXPERIMENT, _VARS, _OVERRIDES = split_snakemake_config(config)
try:
    EXPERIMENT_SET = load_experiment_set(_EXPERIMENT, ext_vars=_VARS, overrides=_OVERRIDES)
    REFERENCES = EXPERIMENT_SET.references  # fail at parse time, not in a job
    PLANS = {run_id: EXPERIMENT_SET.shard_plan(run_id) for run_id in EXPERIMENT_SET.runs}
except ConfigError as exc:
    _hint = "" if Path(_EXPERIMENT).is_file() else "\n(pick the set with --config experiment=PATH.jsonnet)"
    raise WorkflowError(f"{_EXPERIMENT}:\n{exc}{_hint}") from None

CFG = EXPERIMENT_SET.config
RUNS = EXPERIMENT_SET.runs
SET_DIR = str(layout.set_dir(CFG))
CONFIG_JSON = str(layout.config_json(SET_DIR))
# What every job reads its run spec from (a path in params: constant, so it never triggers anything).
# Written at parse time, the one side effect here, and only when its content changes. A config change
# that alters numbers changes run ids, so a job can never compute with another invocation's explain spec;
# everything else a job needs (shard bounds, file lists, references) reaches it through the rule.
write_json(CONFIG_JSON, CFG, only_if_changed=True)


# Rules call `shapsweep`: make it the one installed next to the Python running Snakemake, so an
# un-activated venv works (jobs, also on Slurm, inherit PATH).
envvars:
    "PATH",


_SEARCH_PATH = os.environ["PATH"]
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), _SEARCH_PATH])

DATA_IDS = sorted({run["data_id"] for run in RUNS.values()})


wildcard_constraints:
    run=r"[^/]+",
    shard=r"\d+",
    data_id=r"[^/]+",


def pattern(path_function, *names):
    """A layout path with wildcards as names: the rule's output pattern."""
    return str(path_function(SET_DIR, *names))


def shard_ids(run_id):
    return [s.shard_id for s in PLANS[run_id].shards]


def shard_bounds(run_id, shard_id):
    """'START END' of a shard in rows.parquet: a plain string, so the params trigger can compare it."""
    shards = PLANS[run_id].shards
    index = int(shard_id)
    if index >= len(shards) or shards[index].shard_id != shard_id:
        raise WorkflowError(f"run {run_id}: no shard {shard_id} (it has {len(shards)})")
    return f"{shards[index].start} {shards[index].end}"


def shard_files(run_id):
    return [str(layout.shard_file(SET_DIR, run_id, s)) for s in shard_ids(run_id)]


def all_shard_files():
    return [path for run_id in RUNS for path in shard_files(run_id)]


def rows_file(data_id):
    return str(layout.rows_file(SET_DIR, data_id))


def run_rows_file(wildcards):
    return rows_file(RUNS[wildcards.run]["data_id"])


def store_first(wildcards):
    """With the store on, a shard of a run compared against an exact reference is explained after the
    reference's shard: exact evaluates every coalition of each game, so this run finds its own stored.
    Only for shards not made yet: a finished shard never waits for, nor goes stale by, its reference
    (Snakemake would re-run it when the reference shard is redone), and its inputs stay the same
    whether the store is on or off."""
    ref = REFERENCES.get(wildcards.run)
    if not CFG["store"]["enabled"] or ref is None or RUNS[ref]["explain"]["shap"]["method"] != "exact":
        return []
    if RUNS[ref]["shard_size"] != RUNS[wildcards.run]["shard_size"]:
        return []  # other row bounds: the same shard id holds other rows
    wanted = [wildcards.shard] if hasattr(wildcards, "shard") else [wildcards.block + s for s in BLOCK_SUFFIXES]
    if all(layout.shard_file(SET_DIR, wildcards.run, s).exists() for s in wanted):
        return []
    planned = set(shard_ids(ref))
    return [str(layout.shard_file(SET_DIR, ref, s)) for s in wanted if s in planned]


def summary_files():
    return [str(layout.summary_file(SET_DIR, run_id)) for run_id in RUNS]


def faithfulness_files(run_id):
    if not CFG["evaluation"]["enabled"]:
        return []
    return [str(layout.faithfulness_file(SET_DIR, run_id, s)) for s in shard_ids(run_id)]


def compare_outputs():
    return {name: str(path) for name, path in layout.compare_files(SET_DIR).items()}


def tracking_markers():
    if not CFG["wandb"]["enabled"]:
        return []
    return [str(layout.tracking_marker(SET_DIR, run_id)) for run_id in RUNS]


def final_outputs():
    # Shards are targets themselves: Snakemake does not re-make a missing intermediate file whose
    # dependents are up to date, and a deleted shard should be redone (with what depends on it).
    return (
        all_shard_files()
        + summary_files()
        + list(compare_outputs().values())
        + [str(layout.report_index(SET_DIR))]
        + tracking_markers()
    )


def report_output(path, caption, category, **labels):
    """A report() output with its caption file (rules/captions/), so `snakemake --report` explains itself."""
    return report(str(path), caption=f"captions/{caption}.rst", category=category, labels=labels)


def _run_resource(key):
    return lambda wildcards: RUNS[wildcards.run]["resources"][key]


def run_threads(wildcards):
    return RUNS[wildcards.run]["resources"]["threads"]


# Resources of the GPU rules (explain, explain_block, evaluate), per run. Slurm-only keys appear only
# when some run sets them.
explain_resources = {
    "mem_mb": _run_resource("mem_mb"),
    "runtime": _run_resource("runtime"),
    "gpu": _run_resource("gpu"),
}
for _key in ("slurm_partition", "slurm_extra"):
    if any(run["resources"][_key] for run in RUNS.values()):
        explain_resources[_key] = lambda wildcards, _key=_key: RUNS[wildcards.run]["resources"][_key] or ""


# ---- Shards per job (rules/explain_blocks.smk) ---------------------------------------------------
# The schema allows only 1, 10 or 100: a block is a shard-id prefix, so its size is a power of ten.
SHARDS_PER_JOB = CFG["shards_per_job"]

_SUFFIX_DIGITS = len(str(SHARDS_PER_JOB)) - 1  # 1 -> 0 digits, 10 -> 1, 100 -> 2
BLOCK_SUFFIXES = [f"{i:0{_SUFFIX_DIGITS}d}" for i in range(SHARDS_PER_JOB)]
BLOCK_ID_PATTERN = rf"\d{{{SHARD_ID_WIDTH - _SUFFIX_DIGITS}}}"
_NOT_A_FULL_BLOCK = "{SET_DIR}/runs/{run}/blocks/{block}.partial-block-uses-explain-rule"


def _block_shards(wildcards):
    """[(shard, start, end), ...] of a full block, or None for a partial or unknown one."""
    if wildcards.run not in RUNS:
        return None
    plan = {s.shard_id: s for s in PLANS[wildcards.run].shards}
    members = [plan.get(wildcards.block + suffix) for suffix in BLOCK_SUFFIXES]
    if any(m is None for m in members):
        return None
    return [(m.shard_id, m.start, m.end) for m in members]


def block_rows(wildcards):
    if _block_shards(wildcards) is None:
        # Unsatisfiable on purpose: Snakemake then takes the `explain` rule for these shards.
        return _NOT_A_FULL_BLOCK.format(SET_DIR=SET_DIR, **wildcards)
    return run_rows_file(wildcards)


def block_shard_args(wildcards, output):
    """'--shard ID START END OUT' per shard: the same command line `explain` would run, repeated."""
    return " ".join(
        f"--shard {shard} {start} {end} {shlex.quote(out)}"
        for (shard, start, end), out in zip(_block_shards(wildcards), output)
    )


def block_runtime(wildcards):
    return explain_resources["runtime"](wildcards) * SHARDS_PER_JOB
