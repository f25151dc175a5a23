# Faithfulness of every (run, shard) explanation with the run's own model and value function: a GPU rule
# like explain (same resources). One file per shard, so re-running aggregate never recomputes them.


rule evaluate:
    input:
        shard=lambda wildcards: shard_file(wildcards.run, wildcards.shard),
        rows=lambda wildcards: rows_file(RUNS[wildcards.run]["data_id"]),
    output:
        faithfulness=f"{SET_DIR}/runs/{{run}}/faithfulness/{{shard}}.parquet",
    log:
        f"{SET_DIR}/logs/evaluate/{{run}}/{{shard}}.log",
    conda:
        "../envs/shapsweep.yaml"
    threads: lambda wildcards: RUNS[wildcards.run]["resources"]["threads"]
    resources:
        **explain_resources,
    params:
        config=CONFIG_JSON,
        fractions=CFG["evaluation"]["fractions"],
    shell:
        "shapsweep evaluate {params.config:q} --run {wildcards.run} --shard-file {input.shard:q}"
        " --rows {input.rows:q} --out {output.faithfulness:q} --threads {threads} > {log:q} 2>&1"
