# The HTML report of the set: index (sweep table, plots), one page per dataset row, one per run.
# The command reads the declared summaries and the shard / faithfulness files each one lists (a set can
# hold more shards than one command line can name); the shards are inputs so the report follows them.


localrules:
    report,


rule report:
    input:
        runs=compare_outputs()["parquet"],
        row_errors=compare_outputs()["row_errors"],
        summaries=summary_files(),
        shards=all_shard_files(),
        rows=[rows_file(d) for d in DATA_IDS],
        faithfulness=[path for run_id in RUNS for path in faithfulness_files(run_id)],
    output:
        index=report_output(layout.report_index(SET_DIR), "index", "Report", page="index"),
        sweep=report_output(
            layout.report_sweep_table(SET_DIR), "sweep", "Summaries", table="runs x parameters x metrics"
        ),
        plots=[
            report_output(layout.report_plot(SET_DIR, name), name, "Plots", plot=name.replace("_", " "))
            for name in layout.REPORT_PLOTS
        ],
    log:
        pattern(layout.log_file, "report"),
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
        # What the inputs cover (profiles/default: a changed set of inputs alone triggers nothing).
        runs=" ".join(RUNS),
        rows=" ".join(f"{run_id}:{PLANS[run_id].n_rows}" for run_id in RUNS),
        evaluated=CFG["evaluation"]["enabled"],
        # Rendering options: changing them re-renders the report and nothing upstream.
        sort_rows_by=CFG["report"]["sort_rows_by"],
        max_rows=CFG["report"]["max_rows"] or 0,
    shell:
        "shapsweep report {params.config:q} --summaries {input.summaries:q} --out {output.index:q}"
        " --sort-rows-by {params.sort_rows_by:q} --max-rows {params.max_rows} > {log:q} 2>&1"
