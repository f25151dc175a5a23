# One job per (run, shard): the GPU rule. The shard file appears atomically when all its rows are done.
# The run id hashes everything that changes the numbers; `bounds` re-runs a shard whose rows changed.


rule explain:
    input:
        rows=run_rows_file,
        store_first=store_first,
        explainer=run_explainer,
        trace=run_trace,
    output:
        shard=pattern(layout.shard_file, "{run}", "{shard}"),
    log:
        pattern(layout.log_file, "explain", "{run}", "{shard}"),
    wildcard_constraints:
        shard=single_shard_pattern(),
        run=unblocked_run_pattern(),
    conda:
        "../envs/shapsweep.yaml"
    threads: run_threads
    resources:
        **explain_resources,
    params:
        config=pattern(layout.config_json),
        bounds=shard_bounds,
        explainer=explainer_arg,
    shell:
        "shapsweep explain {params.config:q} --run {wildcards.run} --rows {input.rows:q} {params.explainer}"
        " --shard {wildcards.shard} {params.bounds} {output.shard:q} --threads {threads} > {log:q} 2>&1"
