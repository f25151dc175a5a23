# Parse time: render and validate every experiment set, expand its sweep, plan shards (no checkpoints),
# then the input functions the rules use. Every path comes from shapsweep.layout, under the set folder
# `{set}`: one DAG over all sets, each in its own results/<set>/, keyed by that folder (SETS).
import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from shapsweep import layout
from shapsweep.atomic_outputs import write_json
from shapsweep.config import ConfigError
from shapsweep.config.blocks import evaluates_every_coalition, uses_store
from shapsweep.config.methods import training_options
from shapsweep.config.overrides import split_snakemake_config
from shapsweep.config.set_sources import load_experiment_sets
from shapsweep.layout import SHARD_ID_WIDTH

# --config experiment=PATH picks one set, experiments=[A, B] (or a directory, or a glob) several;
# vars={...} feeds std.extVar, any other key overrides every rendered config (the command line wins
# over the file, never the other way round).
try:
    _SOURCES, _VARS, _OVERRIDES = split_snakemake_config(config)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None
try:
    SETS = load_experiment_sets(_SOURCES, ext_vars=_VARS, overrides=_OVERRIDES)  # fail at parse time, not in a job
except ConfigError as exc:
    _named = all(Path(s).exists() or any(c in s for c in "*?[") for s in _SOURCES)
    _hint = "" if _named else "\n(pick the set with --config experiment=PATH.jsonnet, several with experiments=[...])"
    raise WorkflowError(f"{exc}{_hint}") from None

# What every job reads its run spec from (a path in params: constant, so it never triggers anything).
# Written at parse time, the one side effect here, and only when its content changes. A config change
# that alters numbers changes run ids, so a job can never compute with another invocation's explain spec;
# everything else a job needs (shard bounds, file lists, references) reaches it through the rule.
for _set_dir, _exp in SETS.items():
    write_json(layout.config_json(_set_dir), _exp.config, only_if_changed=True)


# Rules call `shapsweep`: make it the one installed next to the Python running Snakemake, so an
# un-activated venv works (jobs, also on Slurm, inherit PATH).
envvars:
    "PATH",


_SEARCH_PATH = os.environ["PATH"]
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), _SEARCH_PATH])


wildcard_constraints:
    # Only the folders of the sets being run: a path elsewhere never matches a rule.
    set="|".join(re.escape(set_dir) for set_dir in SETS),
    run=r"[^/]+",
    shard=r"\d+",
    data_id=r"[^/]+",
    explainer=r"[^/]+",
    trace=r"[^/]+",


def pattern(path_function, *names):
    """A layout path with wildcards as names, in the set folder `{set}`: the rule's output pattern."""
    return str(path_function("{set}", *names))


def set_config(wildcards):
    """The rendered config of the job's set (what its config.json holds)."""
    return SETS[wildcards.set].config


def run_spec(wildcards):
    return SETS[wildcards.set].runs[wildcards.run]


def shard_ids(set_dir, run_id):
    return [s.shard_id for s in SETS[set_dir].shard_plan(run_id).shards]


def run_shard_ids(set_dir):
    """Run id -> its planned shard ids, for every run of the set (what shapsweep.outcomes reports on)."""
    return {run_id: shard_ids(set_dir, run_id) for run_id in SETS[set_dir].runs}


def shard_bounds(wildcards):
    """'START END' of a shard in rows.parquet: a plain string, so the params trigger can compare it."""
    shards = SETS[wildcards.set].shard_plan(wildcards.run).shards
    index = int(wildcards.shard)
    if index >= len(shards) or shards[index].shard_id != wildcards.shard:
        raise WorkflowError(f"run {wildcards.run}: no shard {wildcards.shard} (it has {len(shards)})")
    return f"{shards[index].start} {shards[index].end}"


def shard_files(set_dir, run_id):
    return [str(layout.shard_file(set_dir, run_id, s)) for s in shard_ids(set_dir, run_id)]


def _present_names(folder):
    """The names in a folder (one scandir, not a stat per file), or None if there is no such folder."""
    try:
        with os.scandir(folder) as entries:
            return {entry.name for entry in entries}
    except FileNotFoundError:
        return None


def _explained_in_blocks(set_dir, run_id):
    """Whether a run's full blocks of shards go to the block rule (rules/explain_blocks.smk)."""
    exp = SETS[set_dir]
    return exp.config["shards_per_job"] > 1 and exp.runs[run_id].get("trace", {}).get("step_blocks") is None


def run_shard_inputs(set_dir, run_id):
    """The inputs of any step reading every shard of a run: the record of each full block
    (layout.block_record) and the shard files of the rest. A 1M-row plan then asks Snakemake to find the
    producer of 100x fewer files: matching each of 100k shard files to its rule was most of `snakemake -n`.
    A block whose shards exist without its record (written before records were, or killed mid-block) is
    declared by its shard files, so a finished block is never redone for want of a record."""
    ids = shard_ids(set_dir, run_id)
    if not _explained_in_blocks(set_dir, run_id):
        return shard_files(set_dir, run_id)
    size = SETS[set_dir].config["shards_per_job"]
    digits = len(str(size)) - 1
    full = len(ids) // size * size
    shards_present = _present_names(layout.shards_dir(set_dir, run_id)) or set()
    records_present = _present_names(layout.blocks_dir(set_dir, run_id)) or set()
    inputs = []
    for first in range(0, full, size):
        block = ids[first][:-digits]
        record = layout.block_record(set_dir, run_id, block)
        block_ids = ids[first : first + size]
        if record.name not in records_present and any(f"{s}.parquet" in shards_present for s in block_ids):
            inputs += [str(layout.shard_file(set_dir, run_id, s)) for s in block_ids]
        else:
            inputs.append(str(record))
    return inputs + [str(layout.shard_file(set_dir, run_id, s)) for s in ids[full:]]


def missing_shard_files(set_dir):
    """The shard files missing from runs already begun: targets, because Snakemake does not re-make a
    missing intermediate file whose dependents are up to date, and a deleted shard should be redone (with
    what depends on it). Runs not begun need no shard targets: their summary asks for everything."""
    missing = []
    for run_id in SETS[set_dir].runs:
        present = _present_names(layout.shards_dir(set_dir, run_id))
        if present is not None:
            missing += [
                str(layout.shard_file(set_dir, run_id, s))
                for s in shard_ids(set_dir, run_id)
                if f"{s}.parquet" not in present
            ]
    return missing


def rows_files(set_dir):
    data_ids = sorted({run["data_id"] for run in SETS[set_dir].runs.values()})
    return [str(layout.rows_file(set_dir, d)) for d in data_ids]


def run_rows_file(wildcards):
    return str(layout.rows_file(wildcards.set, run_spec(wildcards)["data_id"]))


def store_first(wildcards):
    """With the store on, a shard of a run compared against an exact reference (an input game's, or an
    ablation game's with estimator exact) is explained after the reference's shard: exact evaluates every
    coalition of each game, so this run finds its own stored.
    Only for shards not made yet: a finished shard never waits for, nor goes stale by, its reference
    (Snakemake would re-run it when the reference shard is redone), and its inputs stay the same
    whether the store is on or off."""
    exp = SETS[wildcards.set]
    ref = exp.references.get(wildcards.run)
    if not uses_store(exp.runs[wildcards.run]["explain"]["shap"]):
        return []  # integrated gradients, empirical explainers, the trace methods
    if (
        not exp.config["store"]["enabled"]
        or ref is None
        or not evaluates_every_coalition(exp.runs[ref]["explain"]["shap"])
    ):
        return []
    if exp.runs[ref]["shard_size"] != exp.runs[wildcards.run]["shard_size"]:
        return []  # other row bounds: the same shard id holds other rows
    if hasattr(wildcards, "shard"):
        wanted = [wildcards.shard]
    else:
        wanted = [wildcards.block + s for s in block_suffixes(exp.config["shards_per_job"])]
    if all(layout.shard_file(wildcards.set, wildcards.run, s).exists() for s in wanted):
        return []
    planned = len(exp.shard_plan(ref).shards)  # shard ids are zero-padded indexes: no per-job list of them
    return [str(layout.shard_file(wildcards.set, ref, s)) for s in wanted if int(s) < planned]


def explainer_runs(set_dir):
    """Explainer id -> the first empirical run using it (several runs may share one trained explainer)."""
    out = {}
    for run in SETS[set_dir].runs.values():
        if "empirical" in run:
            out.setdefault(run["empirical"]["explainer_id"], run)
    return out


def _explainer_run(wildcards):
    try:
        return explainer_runs(wildcards.set)[wildcards.explainer]
    except KeyError:
        raise WorkflowError(f"no empirical run of {wildcards.set} trains explainer {wildcards.explainer}") from None


def run_explainer(wildcards):
    """An empirical run's trained explainer folder (rule train_explainer); nothing for other runs."""
    empirical = run_spec(wildcards).get("empirical")
    return [] if empirical is None else [str(layout.explainer_dir(wildcards.set, empirical["explainer_id"]))]


def explainer_arg(wildcards):
    folders = run_explainer(wildcards)
    return f"--explainer {shlex.quote(folders[0])}" if folders else ""


def explainer_inputs(wildcards):
    """What an explainer learns from: every shard of its target run and the target's rows."""
    run = _explainer_run(wildcards)
    target = SETS[wildcards.set].runs[run["empirical"]["target_run"]]
    return {
        "rows": str(layout.rows_file(wildcards.set, target["data_id"])),
        "shards": run_shard_inputs(wildcards.set, target["run_id"]),
    }


def explainer_shards_dir(wildcards):
    target = _explainer_run(wildcards)["empirical"]["target_run"]
    return str(layout.shards_dir(wildcards.set, target))


def explainer_options(wildcards):
    """The training options as JSON: a param, though any change of them is already a new explainer id."""
    return json.dumps(training_options(_explainer_run(wildcards)), sort_keys=True)


def explainer_target(wildcards):
    return _explainer_run(wildcards)["empirical"]["target_run"]


def explainer_device(wildcards):
    """Train where the empirical run's model block says its model runs (auto: cuda when available)."""
    return _explainer_run(wildcards)["explain"]["model"].get("device", "auto")


def _explainer_resource(key):
    return lambda wildcards: _explainer_run(wildcards)["resources"][key]


def run_row_counts(wildcards):
    """'RUN:ROWS ...' over the set's runs: a param, so more rows or another run re-renders the report."""
    exp = SETS[wildcards.set]
    return " ".join(f"{run_id}:{exp.shard_plan(run_id).n_rows}" for run_id in exp.runs)


def summary_files(set_dir):
    return [str(layout.summary_file(set_dir, run_id)) for run_id in SETS[set_dir].runs]


def faithfulness_files(set_dir, run_id):
    if not SETS[set_dir].config["evaluation"]["enabled"]:
        return []
    return [str(layout.faithfulness_file(set_dir, run_id, s)) for s in shard_ids(set_dir, run_id)]


def all_faithfulness_files(set_dir):
    return [path for run_id in SETS[set_dir].runs for path in faithfulness_files(set_dir, run_id)]


def compare_outputs(set_dir="{set}"):
    return {name: str(path) for name, path in layout.compare_files(set_dir).items()}


def reference_args(wildcards):
    """'--reference RUN=REF' per compared run: a param, so changing a reference re-runs only compare."""
    references = SETS[wildcards.set].references
    return " ".join(f"--reference {run}={ref}" for run, ref in references.items() if ref)


def tracking_markers(set_dir):
    if not SETS[set_dir].config["wandb"]["enabled"]:
        return []
    return [str(layout.tracking_marker(set_dir, run_id)) for run_id in SETS[set_dir].runs]


def export_files():
    return [
        str(layout.export_file(set_dir, run_id, fmt))
        for set_dir, exp in SETS.items()
        for run_id in exp.runs
        for fmt in layout.EXPORT_FORMATS
    ]


# ---- Training traces (rules/trace.smk) -----------------------------------------------------------
def set_trace(set_dir, trace_id=None):
    """The set's trace spec (config.training); with `trace_id`, only if it is that trace."""
    spec = SETS[set_dir].training
    if spec is None or spec["recorded_by_user"] or (trace_id is not None and spec["trace_id"] != trace_id):
        if trace_id is None:
            return None
        raise WorkflowError(f"{set_dir}: its training block records no trace {trace_id}")
    return spec


def trace_outputs(set_dir):
    """The done marker of the set's trace, if it trains one (traced even before any run reads it)."""
    spec = set_trace(set_dir)
    return [] if spec is None else [str(layout.trace_done(set_dir, spec["trace_id"]))]


def run_trace(wildcards):
    """A path_kernel run's trace (its done marker) and training rows; nothing for other runs."""
    trace = run_spec(wildcards).get("trace")
    return [] if trace is None else [trace["done"], trace["rows"]]


def _blocked_run_ids():
    """Path-kernel runs split into step blocks (options.step_block), over every set."""
    return sorted(
        run_id
        for exp in SETS.values()
        for run_id, run in exp.runs.items()
        if run.get("trace", {}).get("step_blocks") is not None
    )


def blocked_run_pattern():
    """The `run` constraint of the step-block rules: only those runs (a pattern matching nothing if none)."""
    ids = _blocked_run_ids()
    return "|".join(re.escape(r) for r in ids) if ids else r"(?!x)x"


def unblocked_run_pattern():
    """The `run` constraint of the explain rules: every run but those explained in step blocks (a run id is
    always followed by `/` in the paths of these rules; `$` would be the end of the whole path)."""
    ids = _blocked_run_ids()
    return r"(?!(?:" + "|".join(re.escape(r) for r in ids) + r")/)[^/]+" if ids else r"[^/]+"


def step_block_files(wildcards):
    """A blocked run's shard over each of its step blocks, in step order (rule sum_step_blocks)."""
    blocks = run_spec(wildcards)["trace"]["step_blocks"]
    return [
        str(layout.step_block_file(wildcards.set, wildcards.run, str(k), wildcards.shard)) for k in range(len(blocks))
    ]


def trace_rows_file(wildcards):
    return str(layout.rows_file(wildcards.set, set_trace(wildcards.set, wildcards.trace)["data_id"]))


def trace_threads(wildcards):
    return set_config(wildcards)["resources"]["threads"]


trace_resources = {
    key: (lambda wildcards, key=key: set_config(wildcards)["resources"][key]) for key in ("mem_mb", "runtime", "gpu")
}


def final_outputs():
    return [
        path
        for set_dir in SETS
        for path in (
            missing_shard_files(set_dir)
            + summary_files(set_dir)
            + list(compare_outputs(set_dir).values())
            + [str(layout.report_index(set_dir))]
            + tracking_markers(set_dir)
            + trace_outputs(set_dir)
        )
    ]


def report_output(path, caption, category, **labels):
    """A report() output with its caption file (rules/captions/), so `snakemake --report` explains itself."""
    return report(str(path), caption=f"captions/{caption}.rst", category=category, labels=labels)


def _run_resource(key):
    return lambda wildcards: run_spec(wildcards)["resources"][key]


def run_threads(wildcards):
    return run_spec(wildcards)["resources"]["threads"]


def explainer_threads(wildcards):
    return _explainer_run(wildcards)["resources"]["threads"]


# Resources of the GPU rules (explain, explain_block, evaluate), per run. Slurm-only keys appear only
# when some run of some set sets them.
explain_resources = {
    "mem_mb": _run_resource("mem_mb"),
    "runtime": _run_resource("runtime"),
    "gpu": _run_resource("gpu"),
}
# train_explainer: the resources of the empirical run that uses the explainer (a GPU job like explain).
explainer_resources = {key: _explainer_resource(key) for key in ("mem_mb", "runtime", "gpu")}
for _key in ("slurm_partition", "slurm_extra"):
    if any(run["resources"][_key] for exp in SETS.values() for run in exp.runs.values()):
        explain_resources[_key] = lambda wildcards, _key=_key: run_spec(wildcards)["resources"][_key] or ""
        explainer_resources[_key] = lambda wildcards, _key=_key: _explainer_run(wildcards)["resources"][_key] or ""


# ---- Shards per job (rules/explain_blocks.smk) ---------------------------------------------------
# The schema allows only 1, 10 or 100: a block is a shard-id prefix, so its size is a power of ten.
# One block rule per size some set uses, matching only those sets' folders.
BLOCK_SIZES = sorted({exp.config["shards_per_job"] for exp in SETS.values()} - {1})


def sets_with_block_size(size):
    """The folders of the sets explained in blocks of `size` (the `set` constraint of that block rule)."""
    return "|".join(re.escape(d) for d, exp in SETS.items() if exp.config["shards_per_job"] == size)


def block_suffixes(size):
    digits = len(str(size)) - 1  # 10 -> 1 digit, 100 -> 2
    return [f"{i:0{digits}d}" for i in range(size)]


def block_id_pattern(size):
    return rf"\d{{{SHARD_ID_WIDTH - (len(str(size)) - 1)}}}"


_NOT_A_FULL_BLOCK = "{set}/runs/{run}/blocks/{block}.partial-block-uses-explain-rule"


def _block_shards(wildcards):
    """[(shard, start, end), ...] of a full block, or None for a partial or unknown one."""
    exp = SETS[wildcards.set]
    if wildcards.run not in exp.runs:
        return None
    shards = exp.shard_plan(wildcards.run).shards  # shard i has id f"{i:05d}": index, never scan
    size = exp.config["shards_per_job"]
    first = int(wildcards.block) * size
    if first + size > len(shards):
        return None
    return [(m.shard_id, m.start, m.end) for m in shards[first : first + size]]


def single_shard_pattern():
    """The `shard` constraint of the one-shard `explain` rule: every shard while some set runs one shard
    per job, else only the shards of trailing partial blocks. Snakemake builds a candidate job for every
    rule whose pattern matches a file, before `ruleorder` picks one; at 10,000 shards a run that was
    10,000 `explain` jobs built and thrown away, most of a dry run's time (benchmarks/selection_scale.py).
    (Keep "rule", a word, and a colon off one line here: snakemake --lint reads that as a rule.)"""
    if not BLOCK_SIZES or any(exp.config["shards_per_job"] == 1 for exp in SETS.values()):
        return r"\d+"
    tails = set()
    for exp in SETS.values():
        size = exp.config["shards_per_job"]
        digits = len(str(size)) - 1
        for run_id in exp.runs:
            count = len(exp.shard_plan(run_id).shards)
            if count % size:
                tails.add(rf"{count // size * size:0{SHARD_ID_WIDTH}d}"[:-digits] + rf"\d{{{digits}}}")
    return "|".join(sorted(tails)) or "(?!)"  # (?!) matches nothing: every shard is in a full block


def block_rows(wildcards):
    if _block_shards(wildcards) is None:
        # Unsatisfiable on purpose: Snakemake then takes the `explain` rule for these shards.
        return _NOT_A_FULL_BLOCK.format(**wildcards)
    return run_rows_file(wildcards)


def block_shard_args(wildcards, output):
    """'--shard ID START END OUT' per shard: the same command line `explain` would run, repeated."""
    return " ".join(
        f"--shard {shard} {start} {end} {shlex.quote(out)}"
        for (shard, start, end), out in zip(_block_shards(wildcards), output.shards, strict=True)
    )


def block_runtime(wildcards):
    return explain_resources["runtime"](wildcards) * set_config(wildcards)["shards_per_job"]
