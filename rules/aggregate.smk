# A run's shards (+ faithfulness files when evaluated) -> summary.json. Never loads a model.
# The command reads exactly the files this rule declares; the summary lists them for compare and report.


localrules:
    aggregate,


rule aggregate:
    input:
        shards=lambda wildcards: shard_files(wildcards.run),
        faithfulness=lambda wildcards: faithfulness_files(wildcards.run),
    output:
        summary=pattern(layout.summary_file, "{run}"),
        spec=pattern(layout.spec_file, "{run}"),
    log:
        pattern(layout.log_file, "aggregate", "{run}"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
        n_rows=lambda wildcards: str(PLANS[wildcards.run].n_rows),
        evaluated=CFG["evaluation"]["enabled"],
        top_k=str(CFG["compare"]["top_k"]),
    shell:
        "shapsweep aggregate {params.config:q} --run {wildcards.run} --n-rows {params.n_rows}"
        " --top-k {params.top_k} --shards {input.shards:q} --faithfulness {input.faithfulness:q}"
        " --out {output.summary:q} --spec-out {output.spec:q} > {log:q} 2>&1"
