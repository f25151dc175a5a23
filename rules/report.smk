# The HTML report of the set: index (sweep table, plots), one page per dataset row, one per run.
# Shard and faithfulness files are inputs so the report follows them; the command finds them itself from
# the set's shard plans (a set can hold more files than one shell command line can list).


localrules:
    report,


rule report:
    input:
        runs=compare_outputs()["parquet"],
        row_errors=compare_outputs()["row_errors"],
        shards=all_shard_files(),
        rows=[rows_file(d) for d in DATA_IDS],
        faithfulness=[path for run_id in RUNS for path in faithfulness_files(run_id)],
    output:
        index=report(f"{SET_DIR}/report/index.html", category="Report", labels={"page": "index"}),
        sweep=report(
            f"{SET_DIR}/report/sweep.tsv", category="Summaries", labels={"table": "runs x parameters x metrics"}
        ),
        error_plot=report(
            f"{SET_DIR}/report/plots/error_vs_budget.png",
            category="Plots",
            labels={"plot": "approximation error vs budget"},
        ),
        runtime_plot=report(
            f"{SET_DIR}/report/plots/runtime_vs_budget.png",
            category="Plots",
            labels={"plot": "runtime vs budget"},
        ),
        mass_plot=report(
            f"{SET_DIR}/report/plots/phi_mass_by_position.png",
            category="Plots",
            labels={"plot": "|phi| mass by position"},
        ),
        faithfulness_plot=report(
            f"{SET_DIR}/report/plots/faithfulness_curves.png",
            category="Plots",
            labels={"plot": "deletion and insertion curves"},
        ),
    log:
        f"{SET_DIR}/logs/report.log",
    conda:
        "../envs/shapsweep.yaml"
    params:
        config=CONFIG_JSON,
        # Rendering options: changing them re-renders the report and nothing upstream.
        sort_rows_by=CFG["report"]["sort_rows_by"],
        max_rows=CFG["report"]["max_rows"] or 0,
    shell:
        "shapsweep report {params.config:q} --out {output.index:q}"
        " --sort-rows-by {params.sort_rows_by:q} --max-rows {params.max_rows} > {log:q} 2>&1"
