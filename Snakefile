# shapsweep: a Jsonnet experiment set rendered into (run x row shard) jobs.
#   snakemake --profile profiles/default                                  # config/default.jsonnet
#   snakemake --profile profiles/default --config experiment=config/X.jsonnet 'vars={budget: 64}'
# Other --config keys override the rendered config's top-level fields (e.g. shard_size=4).
from pathlib import Path


include: "rules/common.smk"
include: "rules/rows.smk"
include: "rules/explain.smk"
include: "rules/aggregate.smk"
include: "rules/compare.smk"


# Stages owned by other parts of the project; each is included once its file exists.
for _stage in ("explain_blocks", "report", "evaluate", "track", "export"):
    if (Path(workflow.basedir) / "rules" / f"{_stage}.smk").exists():

        include: f"rules/{_stage}.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# Rows ok / failed per run after every real invocation: failed rows are kept with their status and
# never fail the workflow, so this is where the user hears of them (shapsweep.outcomes).
from shapsweep.outcomes import print_outcomes


onsuccess:
    print_outcomes(SET_DIR, {run: shard_ids(run) for run in RUNS}, CFG["experiment_set_id"])


onerror:
    print_outcomes(SET_DIR, {run: shard_ids(run) for run in RUNS}, CFG["experiment_set_id"])
