# All runs -> runs.parquet / runs.tsv (parameters and metrics as columns) and per-row errors against
# the reference runs. Never loads a model. Reads the declared summaries and the shards each one lists;
# which run is compared against which is a param, so a change of reference re-runs only this rule.


localrules:
    compare,


rule compare:
    input:
        # Not the shards too: each summary depends on its run's shards (a redone shard re-aggregates, and the
        # newer summary re-runs this), and every extra consumer of 100k shard files costs Snakemake seconds.
        summaries=lambda wildcards: summary_files(wildcards.set),
    output:
        **compare_outputs(),
    log:
        pattern(layout.log_file, "compare"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        top_k=lambda wildcards: str(set_config(wildcards)["compare"]["top_k"]),
        # the runs compared: adding or dropping one re-runs this rule
        runs=lambda wildcards: " ".join(SETS[wildcards.set].runs),
        references=reference_args,
    shell:
        "shapsweep compare --summaries {input.summaries:q} {params.references} --top-k {params.top_k}"
        " --out-parquet {output.parquet:q} --out-tsv {output.tsv:q} --out-row-errors {output.row_errors:q}"
        " > {log:q} 2>&1"
