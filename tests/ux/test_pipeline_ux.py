"""Issue 15 through real Snakemake, as a new user met it: one small retrieval-style sweep (MiniLM similarity
to a fixed reference text, word players, kernel and permutation, an empty row and a row over max_players)
run once, then checked for what the user could not see before:

- item 1: the report and the shards are readable by others (0644 under a 0022 umask), not 0600;
- item 6: the end of `snakemake` (a successful or a failed one) says how many rows failed, by status, with
  their ids;
- item 8: the fixed reference text is on each row page, beside the text (headless Chromium);
- item 10: the public API loads the set's results as frames, explains a row in-process with the numbers
  of its shard, and shows it with the report's heatmap HTML;
- item 9: after a variant is dropped from the config, `shapsweep prune` lists and removes its outputs.
"""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from workflow_runs import copy_workflow as copy_workflow_files
from workflow_runs import run_snakemake

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
REFERENCE = "a pet animal resting at home"
TEXTS = [
    "my cat sleeps on the warm sofa",
    "",
    "the dog fetched a long stick from the river",  # 9 words: over max_players
    "birds sing at dawn",
]
SET = """
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: 'ux',
  dataset: ss.localFile('data.jsonl'),
  shard_size: 4,
  model: ss.minilm { batch_size: 32 },
  features: { max_players: 7 },
  value: { target: 'reference', reference: '%s' },
  shap: { batch_size: 32 },
  experiments: [ss.method('kernel', [8])%s],
}
"""
WITH_PERMUTATION = ", ss.method('permutation', [16])"


def snakemake(workdir: Path, *targets: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *targets, check=check, preexec_fn=lambda: os.umask(0o022))


def shapsweep(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "shapsweep.cli", *args], cwd=workdir, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def copy_workflow(wd: Path, set_text: str) -> Path:
    copy_workflow_files(wd)
    (wd / "set.jsonnet").write_text(set_text)
    (wd / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    return wd


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The workflow copied to a temporary folder and run once (report and exports)."""
    wd = copy_workflow(tmp_path_factory.mktemp("ux"), SET % (REFERENCE, WITH_PERMUTATION))
    proc = snakemake(wd, "all", "export")
    return wd, proc


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_report_pages_shards_and_tables_are_readable_by_others(run):
    wd, _ = run
    sd = wd / "results" / "ux"
    outputs = [
        sd / "report" / "index.html",
        next((sd / "report" / "rows").glob("*.html")),
        next((sd / "report" / "plots").glob("*.png")),
        next(sd.glob("runs/kernel*/shards/00000.parquet")),
        next(sd.glob("runs/kernel*/summary.json")),
        sd / "runs.tsv",
        sd / "config.json",
        next(sd.glob("export/kernel*.jsonl")),
    ]
    assert {str(p.relative_to(sd)): oct(_mode(p)) for p in outputs} == {
        str(p.relative_to(sd)): oct(0o644) for p in outputs
    }


def test_the_end_of_snakemake_says_which_rows_failed(run):
    _, proc = run
    log = proc.stderr
    assert "shapsweep: row outcomes of experiment set ux" in log
    kernel = next(line for line in log.splitlines() if line.strip().startswith("kernel"))
    assert kernel.endswith("rows 2 ok, 2 failed (empty_input 1: 1; too_many_players 1: 2)"), kernel
    assert "shapsweep: 2 runs, 4 rows ok, 4 failed" in log


def test_a_failed_invocation_also_ends_with_the_outcomes(tmp_path):
    """onerror: a model folder that passes the parse-time check but has no weights fails every explain job."""
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert"}')
    set_text = (SET % (REFERENCE, "")).replace(
        "ss.minilm { batch_size: 32 }", f"ss.minilm {{ path_or_id: '{broken}' }}"
    )
    (tmp_path / "wf").mkdir()
    wd = copy_workflow(tmp_path / "wf", set_text)  # one failing job (all four rows in one shard)
    proc = snakemake(wd, "all", check=False)
    assert proc.returncode != 0
    assert "shapsweep: row outcomes of experiment set ux" in proc.stderr
    assert re.search(r"kernel\S*: no shard explained yet \(0/1 shards\)", proc.stderr), proc.stderr[-3000:]


def test_the_reference_text_is_beside_the_text_on_each_row_page(run):
    sys.path.insert(0, str(REPO / "tests" / "report"))
    from browser import chromium

    wd, _ = run
    report = wd / "results" / "ux" / "report"
    pages = sorted((report / "rows").glob("*.html"))
    assert len(pages) == len(TEXTS)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        for path in pages:
            page.goto(path.as_uri())
            target = page.locator(".reference-target")
            assert target.count() == 1, path.name  # one text for both runs
            assert REFERENCE in target.inner_text()
            assert "value.reference" in target.inner_text()
            text_box = page.locator("#row-text")
            if text_box.count():  # the empty row has no text to sit beside
                text, ref = text_box.bounding_box(), target.locator(".response").bounding_box()
                assert abs(text["y"] - ref["y"]) < 2 and ref["x"] > text["x"] + text["width"]
        page.goto((report / "index.html").as_uri())
        assert "reference: true" in page.locator("#no-reference").inner_text()


def _run_id(wd: Path, prefix: str) -> str:
    return next(p.name for p in (wd / "results" / "ux" / "runs").iterdir() if p.name.startswith(prefix))


def test_load_results_gives_frames_and_the_report_heatmap(run, monkeypatch):
    import shapsweep
    from shapsweep.report.colour import DivergingScale
    from shapsweep.report.pages import page_slug

    wd, _ = run
    monkeypatch.chdir(wd)  # the set's data and results paths are relative, as for `snakemake`
    results = shapsweep.load_results("set.jsonnet")
    kernel = _run_id(wd, "kernel")
    assert sorted(results.runs["run_id"]) == sorted([kernel, _run_id(wd, "permutation")])
    assert results.shards.height == 2 * len(TEXTS)
    assert results.shards.filter(pl.col("run_id") == kernel)["status"].to_list() == [
        "ok",
        "empty_input",
        "too_many_players",
        "ok",
    ]
    assert results.reference_errors.height == 0 and "rel_l2" in results.reference_errors.columns

    explanation = results.explanation(kernel, "0")
    assert explanation.players == TEXTS[0].split() and explanation.text == TEXTS[0]
    # the heatmap is the report's: the row page's section for this run, with the row page's shared scale
    data_id = results.specs[kernel]["data_id"]
    row_page = (wd / "results" / "ux" / "report" / "rows" / f"{page_slug(data_id, '0')}.html").read_text()
    section = re.search(
        rf'<section class="run" data-run="{re.escape(kernel)}">.*?(<div class="heatmap">.*?</div>)', row_page, re.S
    )
    row_values = [v for a in results.shards.filter(pl.col("row_id") == "0")["attribution"].to_list() for v in a]
    assert explanation.heatmap_html(DivergingScale.for_values(row_values)) == section.group(1)


def test_explain_in_process_has_the_numbers_of_the_shard(run, monkeypatch):
    import shapsweep
    from shapsweep.config import load_experiment_set

    sys.path.insert(0, str(REPO / "tests" / "report"))
    from browser import chromium

    wd, _ = run
    monkeypatch.chdir(wd)
    kernel = _run_id(wd, "kernel")
    blocks = load_experiment_set("set.jsonnet", warn=False).runs[kernel]["explain"]
    config = {b: blocks[b] for b in ("model", "features", "value", "shap")}
    explanation = shapsweep.explain_row({"row_id": "0", "text": TEXTS[0]}, **config)
    shard = pl.read_parquet(wd / "results" / "ux" / "runs" / kernel / "shards" / "00000.parquet").row(0, named=True)
    # the same coalitions (same code, same per-row seed); the values agree to float32 model precision (the
    # job ran with its own torch thread count, which changes the order of float32 sums)
    assert explanation.n_evals == shard["n_evals"] and explanation.players == shard["players"]
    assert explanation.attribution.tolist() == pytest.approx(shard["attribution"], rel=1e-5, abs=1e-6)
    assert explanation.v_full == pytest.approx(shard["v_full"], rel=1e-6)

    with pytest.raises(shapsweep.ExplanationError) as error:
        shapsweep.explain_row(TEXTS[2], **config)
    assert error.value.status == "too_many_players"
    assert shapsweep.explain_row("", **config, raise_on_error=False).status == "empty_input"

    with chromium() as browser:  # what Jupyter shows: every player coloured, the legend drawn
        page = browser.new_page()
        page.set_content(explanation._repr_html_())
        cells = page.locator(".shapsweep-explanation .player")
        assert cells.count() == len(explanation.players)
        colours = {cells.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(cells.count())}
        assert "rgba(0, 0, 0, 0)" not in colours
        assert page.locator(".shapsweep-explanation .legend .bar").count() == 1


def test_prune_lists_then_removes_the_outputs_of_a_dropped_run(run):
    wd, _ = run
    sd = wd / "results" / "ux"
    (dropped,) = (p.name for p in (sd / "runs").iterdir() if p.name.startswith("permutation"))
    (kept,) = (p.name for p in (sd / "runs").iterdir() if p.name.startswith("kernel"))
    (wd / "set.jsonnet").write_text(SET % (REFERENCE, ""))  # the user drops the permutation variant

    listed = shapsweep(wd, "prune", "set.jsonnet").stdout
    would = {line.split("\t")[1].rstrip("/") for line in listed.splitlines() if line.startswith("would remove")}
    expected = {
        sd / "runs" / dropped,
        sd / "export" / f"{dropped}.jsonl",
        sd / "export" / f"{dropped}.html-lines",
        sd / "logs" / "explain" / dropped,
        sd / "logs" / "aggregate" / f"{dropped}.log",
        sd / "logs" / "export" / f"{dropped}.jsonl.log",
        sd / "logs" / "export" / f"{dropped}.html-lines.log",
    }
    assert would == {str(p.relative_to(wd)) for p in expected}  # the set dir as the config names it
    assert all(p.exists() for p in expected)  # a dry run removes nothing

    shapsweep(wd, "prune", "set.jsonnet", "--yes")
    assert not any(p.exists() for p in expected)
    assert (sd / "runs" / kept / "summary.json").exists() and (sd / "export" / f"{kept}.jsonl").exists()
    assert "nothing to prune" in shapsweep(wd, "prune", "set.jsonnet").stdout
