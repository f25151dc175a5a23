# W&B tracking (wandb.enabled): one W&B run per concrete run, after its summary exists. The marker file
# records what happened; a tracking failure is written there and never fails the workflow (retry it with
# `snakemake --forcerun track`).
# Offline runs land in <set>/wandb/; `wandb sync <set>/wandb/offline-run-*` uploads them.


localrules:
    track,


rule track:
    input:
        summary=pattern(layout.summary_file, "{run}"),
        shards=lambda wildcards: run_shard_inputs(wildcards.set, wildcards.run),
        faithfulness=lambda wildcards: faithfulness_files(wildcards.set, wildcards.run),
    output:
        marker=pattern(layout.tracking_marker, "{run}"),
    log:
        pattern(layout.log_file, "track", "{run}"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=pattern(layout.config_json),
        wandb=lambda wildcards: set_config(wildcards)["wandb"],
        n_rows=lambda wildcards: str(SETS[wildcards.set].shard_plan(wildcards.run).n_rows),
        evaluated=lambda wildcards: set_config(wildcards)["evaluation"]["enabled"],
    shell:
        "shapsweep track {params.config:q} --run {wildcards.run}" " --out {output.marker:q} > {log:q} 2>&1"
