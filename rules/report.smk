# The HTML report of the set: index (sweep table, plots), one page per dataset row, one per run.
# The command reads the declared summaries and the shard / faithfulness files each one lists (a set can
# hold more shards than one command line can name); it follows them through the summaries.


localrules:
    report,


rule report:
    input:
        runs=compare_outputs()["parquet"],
        row_errors=compare_outputs()["row_errors"],
        # The shards and faithfulness files the summaries list are not inputs: a redone shard re-aggregates
        # and the newer summary re-renders this (each consumer of 100k files costs Snakemake seconds).
        summaries=lambda wildcards: summary_files(wildcards.set),
        rows=lambda wildcards: rows_files(wildcards.set),
    output:
        index=report_output(pattern(layout.report_index), "index", "Report", page="index"),
        sweep=report_output(
            pattern(layout.report_sweep_table), "sweep", "Summaries", table="runs x parameters x metrics"
        ),
        plots=[
            report_output(pattern(layout.report_plot, name), name, "Plots", plot=name.replace("_", " "))
            for name in layout.REPORT_PLOTS
        ],
    log:
        pattern(layout.log_file, "report"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=pattern(layout.config_json),
        # What the inputs cover (profiles/default: a changed set of inputs alone triggers nothing).
        runs=lambda wildcards: " ".join(SETS[wildcards.set].runs),
        rows=run_row_counts,
        evaluated=lambda wildcards: set_config(wildcards)["evaluation"]["enabled"],
        # Rendering options: changing them re-renders the report and nothing upstream.
        sort_rows_by=lambda wildcards: set_config(wildcards)["report"]["sort_rows_by"],
        max_rows=lambda wildcards: set_config(wildcards)["report"]["max_rows"] or 0,
    shell:
        "shapsweep report {params.config:q} --summaries {input.summaries:q} --out {output.index:q}"
        " --sort-rows-by {params.sort_rows_by:q} --max-rows {params.max_rows} > {log:q} 2>&1"
