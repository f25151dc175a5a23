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
