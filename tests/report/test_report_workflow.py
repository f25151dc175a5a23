"""End to end through real `snakemake`: evaluation, report, W&B tracking, exports and `--report`.

One tiny set (3 rows in one shard, MiniLM, exact reference + random baseline, evaluation and offline W&B
on) is run once; the assertions then read what the rules left on disk. Kept to two runs: every explain
or evaluate job loads torch and the model, which dominates the test's time.
"""

import json
import re

import polars as pl
import pytest
from workflow_runs import copy_workflow, run_snakemake

from shapsweep.tracking import read_offline_run

pytestmark = pytest.mark.slow

TEXTS = ["cats chase <b>small</b> mice", "rain falls on the roof", ""]
SET = """
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: 'wf',
  dataset: ss.localFile('data.jsonl'),
  shard_size: 3,
  model: ss.minilm { batch_size: 32 },
  features: { max_players: 6 },
  shap: { batch_size: 32 },
  evaluation: { enabled: true, fractions: [0.25, 0.5] },
  wandb: { enabled: true, mode: 'offline', tags: ['e2e'] },
  report: { sort_rows_by: 'deletion_auc' },
  experiments: [ss.exact(), ss.random()],
}
"""


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("wf"))
    (wd / "set.jsonnet").write_text(SET)
    (wd / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    run_snakemake(wd, "all", "export")
    (wd / "snakemake-report").mkdir()
    run_snakemake(wd, "--report", "snakemake-report/report.html")
    return wd


def test_faithfulness_joins_the_runs_table_and_the_random_baseline_is_the_floor(workflow):
    set_dir = workflow / "results" / "wf"
    runs = pl.read_parquet(set_dir / "runs.parquet")
    assert len(list(set_dir.glob("runs/*/faithfulness/*.parquet"))) == 2
    by_method = {r["method"]: r for r in runs.iter_rows(named=True)}
    assert by_method["exact"]["faith_loo_spearman"] > by_method["random"]["faith_loo_spearman"]
    assert by_method["exact"]["faith_aopc_comprehensiveness"] > by_method["random"]["faith_aopc_comprehensiveness"]
    # cached per shard: re-running the aggregate step does not evaluate again
    proc = run_snakemake(workflow, "-n", "--forcerun", "aggregate")
    assert re.search(r"^aggregate\s+2$", proc.stdout, re.M) and not re.search(r"^evaluate\s+\d", proc.stdout, re.M)


def test_report_pages_track_markers_and_exports_exist(workflow, monkeypatch):
    set_dir = workflow / "results" / "wf"
    index = (set_dir / "report" / "index.html").read_text()
    assert index.count("data:image/png;base64,") == 4 and index.count('href="runs/') == 2
    from shapsweep.report import load_report_inputs
    from shapsweep.report.pages import _evaluated_curves

    monkeypatch.chdir(workflow)  # the set's data_files are relative to the workflow folder
    curves = _evaluated_curves(load_report_inputs(set_dir / "config.json", set_dir=set_dir))
    assert sorted(curves["method"].to_list()) == [
        "exact",
        "exact",
        "random",
        "random",
    ]  # the empty row is not evaluated
    assert len(list((set_dir / "report" / "rows").glob("*.html"))) == 3
    row = next(p for p in (set_dir / "report" / "rows").glob("*.html") if "cats" in p.read_text())
    assert "&lt;b&gt;small&lt;/b&gt;" in row.read_text() and "<b>small</b>" not in row.read_text()
    for marker in set_dir.glob("runs/*/tracking.json"):
        record = json.loads(marker.read_text())
        assert record["status"] == "ok", record
        written = read_offline_run(record["run_dir"])
        assert written.run["tags"] == ["e2e"] and len(written.history) == 3
        assert "faith_deletion_auc" in written.history[0]
    assert len(list(set_dir.glob("runs/*/tracking.json"))) == 2
    for path in set_dir.glob("export/*.jsonl"):
        assert len(path.read_text().splitlines()) == 3
    assert len(list(set_dir.glob("export/*.html-lines"))) == 2


def test_snakemake_report_embeds_index_plots_and_summary_table(workflow):
    html = (workflow / "snakemake-report" / "report.html").read_text()
    for name in (
        "index.html",
        "error_vs_budget.png",
        "runtime_vs_budget.png",
        "phi_mass_by_position.png",
        "faithfulness_curves.png",
        "sweep.tsv",
    ):
        assert name in html
