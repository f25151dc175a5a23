# A run's shards (+ faithfulness files when evaluated) -> summary.json. Never loads a model.
# The command reads exactly the files this rule declares (named by count); the summary lists them for
# compare and report.


localrules:
    aggregate,


rule aggregate:
    input:
        shards=lambda wildcards: run_shard_inputs(wildcards.set, wildcards.run),
        faithfulness=lambda wildcards: faithfulness_files(wildcards.set, wildcards.run),
    output:
        summary=pattern(layout.summary_file, "{run}"),
        spec=pattern(layout.spec_file, "{run}"),
    log:
        pattern(layout.log_file, "aggregate", "{run}"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=pattern(layout.config_json),
        n_rows=lambda wildcards: str(SETS[wildcards.set].shard_plan(wildcards.run).n_rows),
        # The declared inputs by count: thousands of names do not fit one shell argument.
        shard_count=lambda wildcards: str(len(shard_ids(wildcards.set, wildcards.run))),
        faithfulness=lambda wildcards: "--evaluated" if set_config(wildcards)["evaluation"]["enabled"] else "",
        evaluated=lambda wildcards: set_config(wildcards)["evaluation"]["enabled"],
        top_k=lambda wildcards: str(set_config(wildcards)["compare"]["top_k"]),
    shell:
        "shapsweep aggregate {params.config:q} --run {wildcards.run} --n-rows {params.n_rows}"
        " --top-k {params.top_k} --shard-count {params.shard_count} {params.faithfulness}"
        " --out {output.summary:q} --spec-out {output.spec:q} > {log:q} 2>&1"
