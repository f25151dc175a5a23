# dataset + selection -> rows.parquet (canonical columns, stable row_id), one per data id. It holds the
# whole selection (start_index, filters, shuffle) whatever max_samples is: raising max_samples never
# rewrites it, so only new shards (and a grown last one, via its `bounds` param) run.


localrules:
    rows,


rule rows:
    output:
        rows=pattern(layout.rows_file, "{data_id}"),
    log:
        pattern(layout.log_file, "rows", "{data_id}"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=pattern(layout.config_json),
    shell:
        "shapsweep rows {params.config:q} --data-id {wildcards.data_id} --out {output.rows:q} > {log:q} 2>&1"
