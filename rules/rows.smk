# dataset + selection -> rows.parquet (canonical columns, stable row_id), one per data selection.
# max_samples is a param: raising it rewrites rows.parquet, but explain reads it as ancient(), so
# only new (or grown) shards run.


localrules:
    rows,


rule rows:
    output:
        rows=f"{SET_DIR}/data/{{data_id}}/rows.parquet",
    params:
        config=CONFIG_JSON,
        max_samples=lambda wildcards: str(
            next(r for r in RUNS.values() if r["data_id"] == wildcards.data_id)["explain"]["selection"]["max_samples"]
        ),
    log:
        f"{SET_DIR}/logs/rows/{{data_id}}.log",
    conda:
        "../envs/shapsweep.yaml"
    shell:
        "shapsweep rows {params.config:q} --data-id {wildcards.data_id} --out {output.rows:q} > {log:q} 2>&1"
