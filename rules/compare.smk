# All runs -> runs.parquet / runs.tsv (parameters and metrics as columns) and per-row errors against
# the reference runs. Never loads a model.


localrules:
    compare,


rule compare:
    input:
        summaries=[summary_file(r) for r in RUNS],
        shards=all_shard_files(),
    output:
        **compare_outputs(),
    log:
        f"{SET_DIR}/logs/compare.log",
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
        top_k=str(CFG["compare"]["top_k"]),
    shell:
        "shapsweep compare {params.config:q} --top-k {params.top_k} --out-parquet {output.parquet:q}"
        " --out-tsv {output.tsv:q} --out-row-errors {output.row_errors:q} > {log:q} 2>&1"
