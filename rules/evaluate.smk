# Faithfulness of every (run, shard) explanation with the run's own model and value function: a GPU rule
# like explain (same resources). One file per shard, so re-running aggregate never recomputes them.
# Requested by `aggregate` only when the config's `evaluation.enabled` is true.


rule evaluate:
    input:
        shard=pattern(layout.shard_file, "{run}", "{shard}"),
        rows=run_rows_file,
    output:
        faithfulness=pattern(layout.faithfulness_file, "{run}", "{shard}"),
    log:
        pattern(layout.log_file, "evaluate", "{run}", "{shard}"),
    conda:
        "../envs/shapsweep.yaml"
    threads: run_threads
    resources:
        **explain_resources,
    params:
        config=pattern(layout.config_json),
        fractions=lambda wildcards: set_config(wildcards)["evaluation"]["fractions"],
    shell:
        "shapsweep evaluate {params.config:q} --run {wildcards.run} --shard-file {input.shard:q}"
        " --rows {input.rows:q} --out {output.faithfulness:q} --threads {threads} > {log:q} 2>&1"
