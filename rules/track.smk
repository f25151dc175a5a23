# W&B tracking (wandb.enabled): one W&B run per concrete run, after its summary exists. The marker file
# records what happened; a tracking failure is written there and never fails the workflow (retry it with
# `snakemake --forcerun track`).
# Offline runs land in <set>/wandb/; `wandb sync <set>/wandb/offline-run-*` uploads them.


localrules:
    track,


rule track:
    input:
        summary=lambda wildcards: summary_file(wildcards.run),
        shards=lambda wildcards: [shard_file(wildcards.run, s) for s in shard_ids(wildcards.run)],
        faithfulness=lambda wildcards: faithfulness_files(wildcards.run),
    output:
        marker=f"{SET_DIR}/runs/{{run}}/tracking.json",
    log:
        f"{SET_DIR}/logs/track/{{run}}.log",
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
        wandb=CFG["wandb"],
    shell:
        "shapsweep track {params.config:q} --run {wildcards.run}" " --out {output.marker:q} > {log:q} 2>&1"


if CFG["wandb"]["enabled"]:
    EXTRA_TARGETS.extend(f"{SET_DIR}/runs/{run_id}/tracking.json" for run_id in RUNS)
