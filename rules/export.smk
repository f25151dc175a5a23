# Exports on request: `snakemake export` writes every run in both formats, or ask for one file, e.g.
# `snakemake results/<set>/export/<run>.jsonl` / `.html-lines`.


localrules:
    export_run,
    export,


rule export_run:
    input:
        shards=lambda wildcards: run_shard_inputs(wildcards.set, wildcards.run),
        rows=run_rows_file,
    output:
        pattern(layout.export_file, "{run}", "{fmt}"),
    log:
        pattern(layout.log_file, "export", "{run}.{fmt}"),
    wildcard_constraints:
        fmt="|".join(layout.EXPORT_FORMATS),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=pattern(layout.config_json),
        n_rows=lambda wildcards: str(SETS[wildcards.set].shard_plan(wildcards.run).n_rows),
    shell:
        "shapsweep export {params.config:q} --format {wildcards.fmt} --run {wildcards.run}"
        " --out {output:q} > {log:q} 2>&1"


rule export:
    input:
        export_files(),
