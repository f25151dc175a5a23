# The HTML report of the set: index (sweep table, plots), one page per dataset row, one per run.
# Shard and faithfulness files are inputs (so the report follows them) but the command finds them from
# runs.parquet itself: a set can hold more of them than one shell command line can list.


def report_inputs_faithfulness(wildcards):
    if not CFG.get("evaluation", {}).get("enabled", False):
        return []
    return [path for run_id in RUNS for path in faithfulness_files(run_id)]


rule report:
    input:
        runs=f"{SET_DIR}/runs.parquet",
        config=CONFIG_JSON,
        shards=all_shard_files(),
        rows=sorted({rows_file(spec["data_id"]) for spec in RUNS.values()}),
        faithfulness=report_inputs_faithfulness,
    output:
        index=report(f"{SET_DIR}/report/index.html", category="Report", labels={"page": "index"}),
        error_plot=report(f"{SET_DIR}/report/plots/error_vs_budget.png", category="Plots",
                          labels={"plot": "approximation error vs budget"}),
        runtime_plot=report(f"{SET_DIR}/report/plots/runtime_vs_budget.png", category="Plots",
                            labels={"plot": "runtime vs budget"}),
        mass_plot=report(f"{SET_DIR}/report/plots/phi_mass_by_position.png", category="Plots",
                         labels={"plot": "|phi| mass by position"}),
    params:
        # Rendering options: changing them re-renders the report and nothing upstream.
        sort_rows_by=CFG.get("report", {}).get("sort_rows_by", "runtime_s"),
        max_rows=CFG.get("report", {}).get("max_rows") or 0,
    log:
        f"{SET_DIR}/logs/report.log",
    shell:
        "shapsweep report --runs {input.runs} --config {input.config} --out {output.index}"
        " --sort-rows-by {params.sort_rows_by:q} --max-rows {params.max_rows} > {log} 2>&1"
