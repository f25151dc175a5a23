"""Reports at dataset scale: row pages only for the rows pointed at, every row in the offline explorer."""

import json
import re

import polars as pl
import pytest
from browser import chromium
from hand_made_set import generated_rows, make_set
from test_report_browser import _watch

from shapsweep.report import build_report, load_report_inputs
from shapsweep.report.explorer import explorer_slug

BIG = 10_000  # rows of the dataset-scale set: row pages only for some, the explorer lists all


@pytest.fixture(scope="module")
def big_set(tmp_path_factory):
    overrides = {"shard_size": 100, "report": {"rows": ["r7", "r123"]}}
    return make_set(tmp_path_factory.mktemp("explorer") / "big", rows=generated_rows(BIG), config_overrides=overrides)


@pytest.fixture(scope="module")
def big_report(big_set):
    return build_report(load_report_inputs(big_set / "config.json"), big_set / "report")


def test_pages_only_for_pointed_rows_and_every_row_in_the_explorer(big_set, big_report):
    paged = {row_id for _, row_id in big_report.row_pages}
    assert {"r7", "r123"} <= paged  # report.rows
    assert 20 <= len(paged) < 150  # extremes per run + a sample: not 10,000
    assert sorted(p.name for p in (big_set / "report" / "rows").glob("*.html")) == sorted(
        p.name for p in big_report.row_pages.values()
    )
    metrics = pl.concat([pl.read_parquet(p) for p in big_set.glob("runs/*/shards/*.parquet")])
    for run_id, part in metrics.filter(pl.col("status") == "ok").group_by("run_id"):
        best = part.filter(pl.col("runtime_s") == pl.col("runtime_s").max())["row_id"]  # the default sort_rows_by
        assert paged & set(best), run_id[0]  # one of the rows tied for the best
    index = big_report.index.read_text()
    assert 'href="explorer.html"' in index and "All 10000 rows" in index

    rows_js = (big_set / "report" / "explorer" / "rows.js").read_text()
    shared = json.loads(re.search(r'\["all"\]=(.*);\n$', rows_js).group(1))
    assert len(shared["row_id"]) == BIG and sum(p is not None for p in shared["page"]) == len(paged)
    run_files = sorted((big_set / "report" / "explorer").glob("*.js"))
    assert len(run_files) == 1 + len(big_report.run_pages)  # a fixed number of files, whatever the rows
    # A run page links a row without a page to the explorer, preselected.
    run_html = next(iter(big_report.run_pages.values())).read_text()
    assert "../explorer.html#run=" in run_html


def test_an_unknown_report_row_is_refused_by_name(tmp_path):
    set_dir = make_set(tmp_path / "s", rows=generated_rows(8), config_overrides={"report": {"rows": ["nope"]}})
    with pytest.raises(ValueError, match=r"report\.rows: \['nope'\] in no shard"):
        build_report(load_report_inputs(set_dir / "config.json"), set_dir / "report")


def test_small_sets_keep_a_page_per_row(tmp_path):
    set_dir = make_set(tmp_path / "s", rows=generated_rows(8))
    files = build_report(load_report_inputs(set_dir / "config.json"), set_dir / "report")
    assert len(files.row_pages) == 8


@pytest.mark.browser
def test_explorer_sorts_filters_searches_pages_and_draws_the_shards_values(big_set, big_report):
    shards = pl.concat([pl.read_parquet(p) for p in big_set.glob("runs/*/shards/*.parquet")])
    run_id = next(r for r in big_report.run_pages if r.startswith("kernel"))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        problems = _watch(page)
        page.goto(big_report.explorer.as_uri() + f"#run={run_id}")
        page.wait_for_selector("#x-rows tbody tr")
        assert page.locator("#x-rows tbody tr").count() == 50
        assert page.locator("#x-status").inner_text().startswith(f"{BIG} of {BIG} rows · page 1 of {BIG // 50}")

        page.locator('#x-rows th[data-sort="n_evals"]').click()  # sort, largest first
        shown = [float(t) for t in page.locator("#x-rows tbody tr td:nth-child(4)").all_inner_texts()]
        column = page.locator("#x-rows thead th").nth(3).inner_text()
        assert column.startswith("n_evals") and shown == sorted(shown, reverse=True)
        expected_top = shards.filter(pl.col("run_id") == run_id)["n_evals"].max()
        assert shown[0] == expected_top

        page.locator("#x-next").click()
        assert f"page 2 of {BIG // 50}" in page.locator("#x-status").inner_text()

        page.fill("#x-search", "r12")  # r12, r120-r129, r1200-r1299: 111 rows
        assert page.locator("#x-status").inner_text().startswith(f"111 of {BIG} rows")
        page.fill("#x-search", "")
        page.select_option("#x-metric", "n_players")
        page.fill("#x-min", "11")
        kept = shards.filter((pl.col("run_id") == run_id) & (pl.col("n_players") >= 11)).height
        assert page.locator("#x-status").inner_text().startswith(f"{kept} of {BIG} rows")
        page.fill("#x-min", "")

        page.fill("#x-search", "r9301")
        page.locator("#x-rows tbody tr").first.click()
        cells = page.locator("#x-heatmap .player")
        row = shards.filter((pl.col("run_id") == run_id) & (pl.col("row_id") == "r9301")).row(0, named=True)
        assert cells.all_inner_texts() == row["players"]
        values = [float(v) for v in cells.evaluate_all("es => es.map(e => e.getAttribute('data-value'))")]
        assert values == pytest.approx(row["attribution"], rel=1e-3, abs=1e-12)
        colours = set(cells.evaluate_all("es => es.map(e => getComputedStyle(e).backgroundColor)"))
        assert len(colours) > 1
        note = page.locator("#x-row-page").inner_text()
        if any(row_id == "r9301" for _, row_id in big_report.row_pages):
            assert page.locator("#x-row-page a").get_attribute("href").startswith("rows/")
        else:
            assert note.startswith("no page written for this row: shapsweep show ") and note.endswith(" r9301")
        assert problems == []


def test_a_rebuild_rewrites_only_what_changed(tmp_path):
    set_dir = make_set(tmp_path / "s", rows=generated_rows(8))
    report = set_dir / "report"
    first = build_report(load_report_inputs(set_dir / "config.json"), report)
    outputs = sorted(
        [
            *(report / "explorer").glob("*.js"),
            *first.plots.values(),
            *first.run_pages.values(),
            *first.row_pages.values(),
        ]
    )
    stamps = {p: p.stat().st_mtime_ns for p in outputs}

    build_report(load_report_inputs(set_dir / "config.json"), report)
    assert {p: p.stat().st_mtime_ns for p in outputs} == stamps  # nothing changed: nothing rewritten

    # One run's attributions change in one shard: that run's page and explorer file, the pages of the
    # shard's rows and the plots are rewritten; the other runs' and rows' files are not.
    changed_run = next(r for r in first.run_pages if r.startswith("kernel"))
    shard = sorted((set_dir / "runs" / changed_run / "shards").glob("*.parquet"))[0]
    frame = pl.read_parquet(shard)
    frame.with_columns(pl.col("attribution").list.eval(pl.element() * 2)).write_parquet(shard)
    build_report(load_report_inputs(set_dir / "config.json"), report)
    rewritten = {p for p in outputs if p.stat().st_mtime_ns != stamps[p]}
    names = {p.name for p in rewritten}
    assert f"{explorer_slug(changed_run)}.js" in names and "phi_mass_by_position.png" in names
    assert "rows.js" not in names
    assert len([n for n in names if n.endswith(".js")]) == 1
    assert {p for p in rewritten if p.parent.name == "runs"} == {first.run_pages[changed_run]}
    changed_rows = {path for (_, row_id), path in first.row_pages.items() if row_id in set(frame["row_id"])}
    assert {p for p in rewritten if p.parent.name == "rows"} == changed_rows and len(changed_rows) == frame.height

    # Pages written by another version of the renderer are never kept.
    manifest = report / ".inputs.json"
    manifest.write_text(manifest.read_text().replace('"renderer": "', '"renderer": "older-'))
    stamps = {p: p.stat().st_mtime_ns for p in outputs}
    build_report(load_report_inputs(set_dir / "config.json"), report)
    assert all(p.stat().st_mtime_ns != stamps[p] for p in outputs)
