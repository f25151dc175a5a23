# One job per (run, shard): the GPU rule. The shard file appears atomically when all its rows are done.
# The run id hashes everything that changes the numbers; `bounds` re-runs a shard whose rows changed.


rule explain:
    input:
        rows=lambda wildcards: rows_file(RUNS[wildcards.run]["data_id"]),
    output:
        shard=f"{SET_DIR}/runs/{{run}}/shards/{{shard}}.parquet",
    params:
        config=CONFIG_JSON,
        bounds=lambda wildcards: shard_bounds(wildcards.run, wildcards.shard),
    log:
        f"{SET_DIR}/logs/explain/{{run}}/{{shard}}.log",
    threads: lambda wildcards: RUNS[wildcards.run]["resources"]["threads"]
    resources:
        **explain_resources,
    conda:
        "../envs/shapsweep.yaml"
    shell:
        "shapsweep explain {params.config:q} --run {wildcards.run} --rows {input.rows:q}"
        " --shard {wildcards.shard} {params.bounds} {output.shard:q} --threads {threads} > {log:q} 2>&1"
