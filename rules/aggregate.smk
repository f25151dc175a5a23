# A run's shards (+ faithfulness files when evaluated) -> summary.json. Never loads a model.


localrules:
    aggregate,


rule aggregate:
    input:
        shards=lambda wildcards: [shard_file(wildcards.run, s) for s in shard_ids(wildcards.run)],
        faithfulness=lambda wildcards: faithfulness_files(wildcards.run),
    output:
        summary=f"{SET_DIR}/runs/{{run}}/summary.json",
    log:
        f"{SET_DIR}/logs/aggregate/{{run}}.log",
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
        faithfulness=lambda wildcards, input: "--faithfulness" if input.faithfulness else "",
        n_rows=lambda wildcards: str(EXPERIMENT_SET.shard_plan(wildcards.run).n_rows),
        top_k=str(CFG["compare"]["top_k"]),
    shell:
        "shapsweep aggregate {params.config:q} --run {wildcards.run}"
        " {params.faithfulness} --n-rows {params.n_rows} --top-k {params.top_k} --out {output.summary:q}"
        " > {log:q} 2>&1"
