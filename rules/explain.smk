# One job per (run, shard): the GPU rule. The shard file appears atomically when all its rows are done.
# The run id hashes everything that changes the numbers; `bounds` re-runs a shard whose rows changed.


rule explain:
    input:
        rows=lambda wildcards: rows_file(RUNS[wildcards.run]["data_id"]),
    output:
        shard=f"{SET_DIR}/runs/{{run}}/shards/{{shard}}.parquet",
    log:
        f"{SET_DIR}/logs/explain/{{run}}/{{shard}}.log",
    conda:
        "../envs/shapsweep.yaml"
    threads: lambda wildcards: RUNS[wildcards.run]["resources"]["threads"]
    resources:
        **explain_resources,
    params:
        config=CONFIG_JSON,
        bounds=lambda wildcards: shard_bounds(wildcards.run, wildcards.shard),
    shell:
        "shapsweep explain {params.config:q} --run {wildcards.run} --rows {input.rows:q}"
        " --shard {wildcards.shard} {params.bounds} {output.shard:q} --threads {threads} > {log:q} 2>&1"
