# All runs -> runs.parquet / runs.tsv (parameters and metrics as columns) and per-row errors against
# the reference runs. Never loads a model. Reads the declared summaries and the shards each one lists;
# which run is compared against which is a param, so a change of reference re-runs only this rule.


localrules:
    compare,


rule compare:
    input:
        summaries=summary_files(),
        shards=all_shard_files(),
    output:
        **compare_outputs(),
    log:
        pattern(layout.log_file, "compare"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        top_k=str(CFG["compare"]["top_k"]),
        runs=" ".join(RUNS),  # the runs compared: adding or dropping one re-runs this rule
        references=" ".join(f"--reference {run}={ref}" for run, ref in REFERENCES.items() if ref),
    shell:
        "shapsweep compare --summaries {input.summaries:q} {params.references} --top-k {params.top_k}"
        " --out-parquet {output.parquet:q} --out-tsv {output.tsv:q} --out-row-errors {output.row_errors:q}"
        " > {log:q} 2>&1"
