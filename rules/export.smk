# Exports on request: `snakemake export` writes every run in both formats, or ask for one file, e.g.
# `snakemake results/<set>/export/<run>.jsonl` / `.html-lines`.


localrules:
    export_run,
    export,


rule export_run:
    input:
        shards=lambda wildcards: [shard_file(wildcards.run, s) for s in shard_ids(wildcards.run)],
        rows=lambda wildcards: rows_file(RUNS[wildcards.run]["data_id"]),
    output:
        f"{SET_DIR}/export/{{run}}.{{fmt}}",
    log:
        f"{SET_DIR}/logs/export/{{run}}.{{fmt}}.log",
    wildcard_constraints:
        fmt="jsonl|html-lines",
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
    shell:
        "shapsweep export {params.config:q} --format {wildcards.fmt} --run {wildcards.run}"
        " --out {output:q} > {log:q} 2>&1"


rule export:
    input:
        [f"{SET_DIR}/export/{run_id}.{fmt}" for run_id in RUNS for fmt in ("jsonl", "html-lines")],
