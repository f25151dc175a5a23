# shapsweep: a Jsonnet experiment set rendered into (run x row shard) jobs.
#   snakemake --profile profiles/default                                  # config/default.jsonnet
#   snakemake --profile profiles/default --config experiment=config/X.jsonnet 'vars={budget: 64}'
#   snakemake --profile profiles/default --config 'experiments=[config/X.jsonnet, config/Y.jsonnet]'  # or a dir, a glob
# Other --config keys override the rendered config's top-level fields (e.g. shard_size=4).
# Targets go before --config: `snakemake --profile profiles/default export --config experiment=X.jsonnet`.
from snakemake.utils import min_version

from shapsweep.outcomes import print_outcomes

min_version("9.20")


include: "rules/common.smk"
include: "rules/rows.smk"
include: "rules/explain.smk"
include: "rules/explain_blocks.smk"
include: "rules/train_explainer.smk"
include: "rules/trace.smk"
include: "rules/evaluate.smk"
include: "rules/aggregate.smk"
include: "rules/compare.smk"
include: "rules/report.smk"
include: "rules/track.smk"
include: "rules/export.smk"


rule all:
    default_target: True
    input:
        final_outputs(),


# Rows ok / failed per run after every real invocation: failed rows are kept with their status and
# never fail the workflow, so this is where the user hears of them (shapsweep.outcomes).
onsuccess:
    for _set_dir, _exp in SETS.items():
        print_outcomes(_set_dir, run_shard_ids(_set_dir), _exp.config["experiment_set_id"])


onerror:
    for _set_dir, _exp in SETS.items():
        print_outcomes(_set_dir, run_shard_ids(_set_dir), _exp.config["experiment_set_id"])
