import re

import polars as pl
import pytest
from hand_made_set import ROWS, run_ids

from shapsweep.cli import main
from shapsweep.report import build_report, load_report_inputs


def _build(set_dir, **kwargs):
    return build_report(load_report_inputs(set_dir / "config.json"), set_dir / "report", **kwargs)


def test_report_writes_index_plots_and_one_page_per_row_and_run(tiny_set):
    assert main(["report", str(tiny_set / "config.json")]) == 0
    report = tiny_set / "report"
    index = (report / "index.html").read_text()
    assert len(list((report / "rows").glob("*.html"))) == len(ROWS)
    assert len(list((report / "runs").glob("*.html"))) == 4
    from shapsweep.plots import PLOT_NAMES

    for name in PLOT_NAMES:
        assert (report / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert index.count("data:image/png;base64,") == len(PLOT_NAMES) == 4  # embedded, no fetch
    sweep = pl.read_csv(report / "sweep.tsv", separator="\t")
    assert sweep["run_id"].to_list() == pl.read_parquet(tiny_set / "runs.parquet")["run_id"].to_list()
    for ids in run_ids(tiny_set).values():
        for run_id in ids:
            assert f">{run_id}</a>" in index
    # self-contained: no URL that a browser would fetch
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", index)


def _row_page(files, row_id):
    return next(path for (_, rid), path in files.row_pages.items() if rid == row_id)


def test_dataset_and_model_text_is_escaped(tiny_set):
    files = _build(tiny_set)
    for path in [files.index, *files.row_pages.values(), *files.run_pages.values()]:
        html = path.read_text()
        assert "<script>window.__pwned" not in html
        assert 'onmouseover="window' not in html
        assert "<b>bold</b>" not in html and "<i>generated</i>" not in html
    row1 = _row_page(files, "r1").read_text()
    assert "&lt;script&gt;window.__pwned" in row1
    assert "&lt;b&gt;bold&lt;/b&gt;" in row1  # metadata column
    assert "&lt;i&gt;generated&lt;/i&gt;" in row1  # model response


def test_row_page_shows_every_run_side_by_side_with_one_player_element_per_player(tiny_set):
    files = _build(tiny_set)
    html = _row_page(files, "r0").read_text()
    sections = re.findall(r'<section class="run" data-run="([^"]+)">(.*?)</section>', html, re.S)
    assert [run_id for run_id, _ in sections] == [r for ids in run_ids(tiny_set).values() for r in ids]
    for _, body in sections:
        assert body.count('class="player"') == len(["The", "cat", "sat", "on", "the", "mat."])
    failed = _row_page(files, "r3").read_text()
    assert "empty_input: row has no text" in failed


def test_run_page_lists_rows_by_the_chosen_metric(tiny_set):
    kernel = run_ids(tiny_set)["kernel"][0]
    files = _build(tiny_set, sort_rows_by="ref_rel_l2")
    html = files.run_pages[kernel].read_text()
    listed = re.findall(r'<tr><td><a href="\.\./rows/[^"]+">(r\d)</a>', html)
    from shapsweep.report.pages import row_metrics

    metrics = row_metrics(load_report_inputs(tiny_set / "config.json")).filter(pl.col("run_id") == kernel)
    expected = metrics.sort("ref_rel_l2", descending=True, nulls_last=True)["row_id"].to_list()
    assert listed == expected and metrics["ref_rel_l2"].null_count() == 1  # the failed row, listed last
    limited = _build(tiny_set, sort_rows_by="runtime_s", max_rows=2).run_pages[kernel].read_text()
    assert len(re.findall(r'<tr><td><a href="\.\./rows/', limited)) == 2


def test_unknown_sort_metric_names_the_config_field(tiny_set):
    with pytest.raises(ValueError, match=r"report\.sort_rows_by: 'nope'.*runtime_s"):
        _build(tiny_set, sort_rows_by="nope")
    assert main(["report", str(tiny_set / "config.json"), "--sort-rows-by", "nope"]) == 2


def test_same_inputs_give_byte_identical_pages(tiny_set):
    first = _build(tiny_set)
    before = {p: p.read_bytes() for p in [first.index, *first.plots.values(), *first.row_pages.values()]}
    _build(tiny_set)
    assert {p: p.read_bytes() for p in before} == before


def test_missing_runs_table_says_which_rule_makes_it(tiny_set):
    (tiny_set / "runs.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="compare"):
        load_report_inputs(tiny_set / "config.json")


def test_row_scale_is_set_by_the_estimators_not_the_random_baseline(tiny_set):
    files = _build(tiny_set)
    html = _row_page(files, "r1").read_text()
    ticks = re.search(r'<div class="ticks">(.*?)</div>', html).group(1)
    limit = float(re.findall(r"<span>([^<]+)</span>", ticks)[-1])
    shards = pl.concat([pl.read_parquet(p) for p in tiny_set.glob("runs/*/shards/*.parquet")]).filter(
        pl.col("row_id") == "r1"
    )
    random_run = run_ids(tiny_set)["random"][0]
    estimators = shards.filter(pl.col("run_id") != random_run)["attribution"].explode().abs().max()
    assert limit == pytest.approx(estimators, rel=1e-2)
    assert shards.filter(pl.col("run_id") == random_run)["attribution"].explode().abs().max() > estimators
    assert "the random baseline is clipped to it" in html


def test_pages_of_rows_left_out_of_a_smaller_selection_are_removed(tiny_set):
    import json

    before = _build(tiny_set)
    config = json.loads((tiny_set / "config.json").read_text())
    config["selection"]["max_samples"] = 2  # not hashed: same runs, first shard only
    (tiny_set / "config.json").write_text(json.dumps(config))
    for runs in run_ids(tiny_set).values():  # as the pipeline does: the summaries follow the plan
        for run_id in runs:
            summary = str(tiny_set / "runs" / run_id / "summary.json")
            assert main(["aggregate", str(tiny_set / "config.json"), "--run", run_id, "--out", summary]) == 0
    after = _build(tiny_set)
    assert len(before.row_pages) == 4 and [rid for _, rid in after.row_pages] == ["r0", "r1"]
    assert sorted((tiny_set / "report" / "rows").glob("*.html")) == sorted(after.row_pages.values())
    assert sorted((tiny_set / "report" / "runs").glob("*.html")) == sorted(after.run_pages.values())


def test_a_set_with_only_its_reference_run_still_gets_a_report(tmp_path):
    # No other run means no errors against the reference: plots and tables must do without them.
    from hand_made_set import make_set

    exact_only = {"experiments": [{"name": "exact", "reference": True, "shap": {"method": "exact"}}]}
    set_dir = make_set(tmp_path / "exact-only", config_overrides=exact_only)
    assert main(["report", str(set_dir / "config.json")]) == 0
    assert len(list((set_dir / "report" / "rows").glob("*.html"))) == len(ROWS)


def test_row_page_shows_the_kept_interaction_pairs_as_a_heatmap_and_in_words(tiny_set):
    html = _row_page(_build(tiny_set), "r0").read_text()
    sections = dict(re.findall(r'<section class="run" data-run="([^"]+)">(.*?)</section>', html, re.S))
    exact = [body for run_id, body in sections.items() if run_id in run_ids(tiny_set)["exact"]]
    assert exact and all('class="interaction-heatmap"' in body for body in exact)
    body = exact[0]
    # 6 players: a 6 x 6 grid, the two kept pairs drawn in both triangles
    assert body.count("<td") == 36 and body.count('<td style="background') == 4
    assert "&#39;The&#39; and &#39;cat&#39; raise the value together by 0.5" in body
    assert "&#39;cat&#39; and &#39;sat&#39; lower the value together by 0.25" in body
    # with standard errors (0.1, 0.2): 0.5 is more than 1.96 of them from zero, -0.25 is not
    assert "by 0.5 beyond their separate effects (standard error 0.1: told apart from zero at 95%)" in body
    assert "by 0.25 beyond their separate effects (standard error 0.2: not told apart from zero at 95%)" in body
    assert 'title="+0.5 ± 0.1 (standard error)"' in body
    assert all("interaction-heatmap" not in b for r, b in sections.items() if r not in run_ids(tiny_set)["exact"])


def test_model_cost_line_says_its_coalition_count_is_a_sum_over_runs(tiny_set):
    # The count is the runs' `evals_total` summed: a coalition two runs share counts twice, so calling it
    # "distinct coalitions" (as the index once did) overstated what the set used.
    runs = pl.read_parquet(tiny_set / "runs.parquet")
    shared = 7
    runs = runs.with_columns(
        evals_total=pl.lit(100, pl.Int64),
        model_evals_total=pl.lit(100 - shared, pl.Int64),
        store_hits_total=pl.lit(shared, pl.Int64),
    )
    runs.write_parquet(tiny_set / "runs.parquet")
    _build(tiny_set)
    index = (tiny_set / "report" / "index.html").read_text()
    line = re.search(r'<p class="meta" id="model-cost">(.*?)</p>', index).group(1)
    n = runs.height
    assert line.startswith(f"model evaluations: {(100 - shared) * n} for {100 * n} coalition evaluations summed over")
    assert "distinct coalitions the runs used" not in line
    assert f"{shared * n} taken from the evaluation store" in line


def test_show_renders_any_rows_page_on_demand_and_names_an_unknown_row(tiny_set, capsys):
    row_id = ROWS[1]["row_id"]
    out = tiny_set / "shown"
    assert main(["show", str(tiny_set / "config.json"), str(row_id), "--out", str(out)]) == 0
    pages = list((out / "rows").glob("*.html"))
    assert len(pages) == 1 and str(pages[0]) in capsys.readouterr().out
    # The page is the one the full report writes for that row.
    _build(tiny_set)
    assert pages[0].read_text() == (tiny_set / "report" / "rows" / pages[0].name).read_text()
    assert main(["show", str(tiny_set / "config.json"), "no-such-row"]) != 0
    assert "'no-such-row' is in no shard" in capsys.readouterr().err


def test_load_results_row_renders_the_same_page_as_show(tiny_set, tmp_path):
    from shapsweep.api import load_results

    pages = load_results(tiny_set / "config.json", set_dir=tiny_set).row("r0", out_dir=tmp_path / "api")
    assert len(pages) == 1
    _build(tiny_set)
    assert pages[0].read_text() == (tiny_set / "report" / "rows" / pages[0].name).read_text()
