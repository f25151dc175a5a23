# The set's `training` block, trained and recorded into a trace: one atomic folder per step under
# traces/<trace>/steps/, `done.json` last. A killed job keeps its finished steps and resumes after them
# (the marker is the only declared output, so Snakemake never deletes the steps). The trace id hashes
# the model, the training rows' data id and every training option: a change traces anew. A GPU job like
# explain (the set's top-level resources).


rule trace:
    input:
        rows=trace_rows_file,
    output:
        done=pattern(layout.trace_done, "{trace}"),
    log:
        pattern(layout.log_file, "trace", "{trace}"),
    conda:
        "../envs/shapsweep.yaml"
    threads: trace_threads
    resources:
        **trace_resources,
    params:
        config=pattern(layout.config_json),
    shell:
        "shapsweep trace {params.config:q} --trace {wildcards.trace} --rows {input.rows:q}"
        " --done {output.done:q} --threads {threads} > {log:q} 2>&1"


# A path_kernel run with options.step_block: each shard is explained over each block of trace steps by its
# own job (a 10k-step trace is never one job), and the blocks are summed into the shard file (the kernel is
# additive over steps; shapsweep.aggregate.sum_step_blocks). Everything downstream reads the shard file.
localrules:
    sum_step_blocks,


rule explain_steps:
    input:
        rows=run_rows_file,
        trace=run_trace,
    output:
        shard=pattern(layout.step_block_file, "{run}", "{step_block}", "{shard}"),
    log:
        pattern(layout.log_file, "explain_steps", "{run}", "{step_block}", "{shard}"),
    wildcard_constraints:
        run=blocked_run_pattern(),
        step_block=r"\d+",
    conda:
        "../envs/shapsweep.yaml"
    threads: run_threads
    resources:
        **explain_resources,
    params:
        config=pattern(layout.config_json),
        bounds=shard_bounds,
    shell:
        "shapsweep explain {params.config:q} --run {wildcards.run} --rows {input.rows:q}"
        " --step-block {wildcards.step_block} --shard {wildcards.shard} {params.bounds} {output.shard:q}"
        " --threads {threads} > {log:q} 2>&1"


rule sum_step_blocks:
    input:
        blocks=step_block_files,
    output:
        shard=pattern(layout.shard_file, "{run}", "{shard}"),
    log:
        pattern(layout.log_file, "sum_step_blocks", "{run}", "{shard}"),
    wildcard_constraints:
        run=blocked_run_pattern(),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=pattern(layout.config_json),
    shell:
        "shapsweep sum-steps {params.config:q} --run {wildcards.run} --blocks {input.blocks:q}"
        " --out {output.shard:q} > {log:q} 2>&1"
