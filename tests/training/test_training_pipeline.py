"""config/examples/training_attribution.jsonnet through real Snakemake with a tiny BERT classifier: rule trace records the
training, the path_kernel runs explain the test rows by training example (and by domain), the update game is
the one-step path kernel's compare reference, an input Shapley run beside them; a changed training option
re-traces and re-explains only the runs that read the trace."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from workflow_runs import REPO, copy_workflow, job_counts, run_snakemake

from shapsweep.config.experiment_set import from_config
from shapsweep.file_schemas import read_shards

SET = """
local example = import 'config/examples/training_attribution.jsonnet';
example {
  model+: { path_or_id: '%(model)s' },
  value+: { target_class: 'positive' },
  selection+: { max_samples: 4 },
  shard_size: 4,
  training+: { model+: { path_or_id: '%(model)s' }, selection+: { max_samples: 16 }, steps: %(steps)d, lr: %(lr)s },
  experiments: [
    { name: 'path_kernel', shap: { method: 'path_kernel', options: { midpoints: 4, components: 'block' } } },
    { name: 'by_domain', shap: { method: 'path_kernel', options: { midpoints: 4, data: 'domain' } } },
    { name: 'update_game', reference: true, shap: { method: 'update_game', options: { steps: [0, 1], components: 'block' } } },
    { name: 'step0', shap: { method: 'path_kernel', options: { steps: [0, 1], components: 'block', midpoints: 16 } } },
    { name: 'blocked', shap: { method: 'path_kernel', options: { midpoints: 4, components: 'block', step_block: 2 } } },
    { name: 'kernel', shap: { method: 'kernel', budget: 16 } },
  ],
}
"""


def _write(workdir, model, steps=3, lr="1e-4"):
    (workdir / "set.jsonnet").write_text(SET % {"model": model, "steps": steps, "lr": lr})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_bert_classifier_path):
    workdir = copy_workflow(tmp_path_factory.mktemp("training"))
    shutil.copytree(REPO / "config", workdir / "config")
    _write(workdir, tiny_bert_classifier_path)
    run_snakemake(workdir, "--nolock")
    return workdir


def test_the_trace_and_the_path_kernel_shards_are_written(workdir):
    config = json.loads((workdir / "results" / "training" / "config.json").read_text())
    exp = from_config(config)
    trace = exp.training
    done = workdir / trace["root"] / "done.json"
    assert json.loads(done.read_text())["steps"] == [0, 1, 2]
    runs = {run["variant"]: run for run in exp.runs.values()}
    shards = read_shards(
        sorted((workdir / "results/training/runs" / runs["path_kernel"]["run_id"]).glob("shards/*.parquet"))
    )
    assert shards.height == 4 and shards["status"].to_list() == ["ok"] * 4
    row = shards.row(0, named=True)
    assert row["n_players"] == 16 and row["trace_id"] == trace["trace_id"]
    change = row["v_full"] - row["v_empty"]
    assert sum(row["component_scores"]) + row["efficiency_gap"] == pytest.approx(change, abs=1e-9)
    assert np.array(row["component_step_scores"]).shape == (len(row["components"]), 3)
    domains = read_shards(
        sorted((workdir / "results/training/runs" / runs["by_domain"]["run_id"]).glob("shards/*.parquet"))
    )
    assert set(domains.row(0, named=True)["players"]) <= {"hotel", "phone", "restaurant", "book", "film", "bike"}
    assert (workdir / "results/training/report/index.html").exists()


def test_the_row_page_ranks_a_path_kernel_rows_examples_components_and_steps(workdir):
    """The report's row page of a path_kernel run: the top training examples and parameter groups by
    |score| with the shard's numbers, and the value's change accumulated over the steps as a curve."""
    import re

    from shapsweep.report.pages import page_slug

    exp = from_config(json.loads((workdir / "results" / "training" / "config.json").read_text()))
    run = next(r for r in exp.runs.values() if r["variant"] == "path_kernel")
    shards = read_shards(sorted((workdir / "results/training/runs" / run["run_id"]).glob("shards/*.parquet")))
    row = shards.row(0, named=True)
    page = workdir / "results/training/report/rows" / f"{page_slug(run['data_id'], row['row_id'])}.html"
    html = page.read_text()
    section = re.search(rf'<section class="run" data-run="{run["run_id"]}">(.*?)</section>', html, re.S).group(1)

    def bars(kind):
        table = re.search(rf'<table class="training-bars {kind}">(.*?)</table>', section, re.S).group(1)
        return [(name, float(value)) for name, value in re.findall(r"<th>(.*?)</th>.*?<td>([-+0-9.e]+)</td>", table)]

    components = bars("components")
    expected = sorted(zip(row["components"], row["component_scores"], strict=True), key=lambda c: -abs(c[1]))
    assert [name for name, _ in components] == [name for name, _ in expected[:10]]
    assert [v for _, v in components] == pytest.approx([v for _, v in expected[:10]], rel=1e-2)
    examples = bars("examples")
    assert len(examples) == min(10, row["n_players"])
    assert abs(examples[0][1]) == pytest.approx(max(abs(a) for a in row["attribution"]), rel=1e-2)
    points = re.search(r'<polyline[^>]*points="([^"]+)"', section).group(1).split()
    assert len(points) == len(row["step_totals"]) + 1  # the start and one point after each step
    assert f"{sum(row['step_totals']):+.3g}" in section


def test_the_run_page_shows_the_mean_component_step_heatmap_frequent_examples_and_the_label_sanity(workdir):
    """The run page of a path_kernel run, checked against its shards: the mean component × step scores
    (components by mean |score|), how often each example is among a row's top 10, and the target class's
    examples' mean score against the others' (computed here from the training rows' labels)."""
    import re

    import polars as pl

    from shapsweep.report.pages import run_page

    exp = from_config(json.loads((workdir / "results" / "training" / "config.json").read_text()))
    run = next(r for r in exp.runs.values() if r["variant"] == "path_kernel")
    shards = read_shards(sorted((workdir / "results/training/runs" / run["run_id"]).glob("shards/*.parquet")))
    html = (workdir / "results/training/report/runs" / run_page(run["run_id"])).read_text()

    table = re.search(r'<table class="component-steps">(.*?)</table>', html, re.S).group(1)
    shown = {
        name: [float(v) for v in re.findall(r'data-value="([^"]+)"', cells)]
        for name, cells in re.findall(r"<tr><th>([^<]+)</th>(.*?)</tr>", table.split("<tbody>")[1])
    }
    mean = np.mean([np.array(m) for m in shards["component_step_scores"].to_list()], axis=0)
    components = shards.row(0, named=True)["components"]
    expected = sorted(zip(components, mean, strict=True), key=lambda c: -np.abs(c[1]).sum())
    assert list(shown) == [name for name, _ in expected][: len(shown)]
    for name, values in expected[: len(shown)]:
        assert shown[name] == pytest.approx(values, rel=1e-4, abs=1e-12)
    assert len(re.findall(r'<th class="step">', table)) == 3

    frequent = re.search(r'<table class="frequent-examples">(.*?)</table>', html, re.S).group(1)
    counts = [int(c) for c in re.findall(r"</th><td>(\d+)</td>", frequent)]
    top = {}
    for row in shards.iter_rows(named=True):
        for k in np.argsort(-np.abs(row["attribution"]), kind="stable")[:10]:
            top[row["players"][k]] = top.get(row["players"][k], 0) + 1
    assert counts == sorted(top.values(), reverse=True)[: len(counts)]

    # the sanity columns from the training rows' labels and the value's class ('positive')
    training = pl.read_parquet(workdir / run["trace"]["rows"]).head(16)
    label_of = {str(r["row_id"]): r["label"] for r in training.iter_rows(named=True)}
    details = json.loads(shards.row(0, named=True)["estimator_details"])
    scores = np.array(shards.row(0, named=True)["attribution"])
    positive = np.array([label_of[g].lower() == "positive" for g in details["group_ids"]])
    assert shards["same_label_mean"][0] == pytest.approx(scores[positive].mean(), rel=1e-12)
    assert shards["other_label_mean"][0] == pytest.approx(scores[~positive].mean(), rel=1e-12)
    sanity = re.search(r'<div class="label-sanity">(.*?)</div>', html, re.S).group(1)
    assert f"over {shards.height} rows" in sanity
    assert len(re.findall(r"<circle ", sanity)) == shards.height


def test_a_run_split_into_step_blocks_sums_to_the_same_steps_and_change(workdir):
    exp = from_config(json.loads((workdir / "results" / "training" / "config.json").read_text()))
    runs = {run["variant"]: run for run in exp.runs.values()}
    assert runs["blocked"]["trace"]["step_blocks"] == [[0, 2], [2, 3]]

    def shards(name):
        folder = workdir / "results/training/runs" / runs[name]["run_id"]
        return read_shards(sorted(folder.glob("shards/*.parquet")))

    whole, blocked = shards("path_kernel"), shards("blocked")
    assert blocked["status"].to_list() == ["ok"] * 4
    for one, split in zip(whole.iter_rows(named=True), blocked.iter_rows(named=True), strict=True):
        assert split["trace_steps"] == [0, 1, 2]
        assert split["v_empty"] == pytest.approx(one["v_empty"], abs=1e-12)
        assert split["v_full"] == pytest.approx(one["v_full"], abs=1e-12)
        # the per-step changes do not depend on where the window is cut; the split into examples does
        # (an example's momentum inside a later block is that block's carried momentum)
        assert split["step_totals"] == pytest.approx(one["step_totals"], rel=1e-9, abs=1e-15)
        change = one["v_full"] - one["v_empty"]
        assert split["efficiency_gap"] == pytest.approx(one["efficiency_gap"], abs=1e-6 * abs(change))
        parts = sum(split["attribution"]) + split["momentum_score"] + split["weight_decay_score"]
        assert parts == pytest.approx(sum(split["component_scores"]), rel=1e-9, abs=1e-15)
        assert np.array(split["component_step_scores"]).shape == (len(split["components"]), 3)


def test_compare_scores_the_one_step_path_kernel_against_the_update_game(workdir):
    import polars as pl

    exp = from_config(json.loads((workdir / "results" / "training" / "config.json").read_text()))
    runs = {run["variant"]: run["run_id"] for run in exp.runs.values()}
    errors = pl.read_parquet(workdir / "results/training/reference_errors.parquet")
    mine = errors.filter(pl.col("run_id") == runs["step0"])
    assert mine.height == 4 and set(mine["reference_run"]) == {runs["update_game"]}
    assert mine["rel_l2"].max() < 1e-5


def test_a_changed_training_option_retraces_and_reexplains_only_the_path_kernel_runs(
    workdir, tiny_bert_classifier_path
):
    _write(workdir, tiny_bert_classifier_path, lr="2e-4")
    try:
        counts = job_counts(run_snakemake(workdir, "-n", "--quiet", "rules"))
    finally:
        _write(workdir, tiny_bert_classifier_path)
    assert counts["trace"] == 1
    assert counts["explain"] == 4  # three path_kernel runs and the update game, one shard each; not the kernel run
    assert counts["explain_steps"] == 2 and counts["sum_step_blocks"] == 1  # two step blocks x one shard
