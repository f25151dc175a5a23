"""The conversation example (config/examples/conversation.jsonnet) end to end through real Snakemake on a
tiny chat Llama: players only in the turns named, reference reply scored, report drawn turn by turn."""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from workflow_runs import REPO, copy_workflow, run_snakemake

pytestmark = pytest.mark.slow

EXAMPLE = "config/examples/conversation.jsonnet"
DATA = "config/data/conversations.jsonl"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, tiny_llama_path):
    wd = copy_workflow(tmp_path_factory.mktemp("conversation_wf"))
    for name in (EXAMPLE, DATA):
        (wd / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, wd / name)
    # the four conversations in one shard per run (the example's shard_size is 2): no test needs two shards,
    # and every explain job pays for loading torch and the model
    model = f"model={{path_or_id: '{tiny_llama_path}'}}"
    run_snakemake(wd, config=(f"experiment={EXAMPLE}", model, "shard_size=4"))
    return wd


def _rows():
    return {r["id"]: r for r in map(json.loads, (REPO / DATA).read_text().splitlines())}


def _shards(wd: Path, prefix: str) -> pl.DataFrame:
    runs = wd / "results" / "conversation" / "runs"
    return pl.concat([pl.read_parquet(p) for p in sorted(runs.glob(f"{prefix}*/shards/*.parquet"))])


def _turn_of(span, messages):
    """Index of the turn a span of the conversation text falls in (turns joined by a blank line)."""
    start = 0
    for i, message in enumerate(messages):
        end = start + len(message["content"])
        if start <= span[0] and span[1] <= end:
            return i
        start = end + 2
    raise AssertionError(f"span {span} crosses turns")


def test_players_come_only_from_the_named_turns(workflow):
    rows = _rows()
    for prefix, turns in (("last-user-exact", {2}), ("last-user-kernel", {2}), ("every-user-turn", {0, 2})):
        shards = _shards(workflow, prefix)
        assert shards["status"].to_list() == ["ok"] * 4
        for r in shards.iter_rows(named=True):
            messages = rows[r["row_id"]]["messages"]
            assert {_turn_of(s, messages) for s in r["player_spans"]} == turns  # never the assistant's turn
            assert r["response"] == rows[r["row_id"]]["reference"]  # the reference reply is what is scored
            assert sum(r["attribution"]) == pytest.approx(r["v_full"] - r["v_empty"], abs=1e-6)
    exact = _shards(workflow, "last-user-exact").sort("row_id")
    kernel = _shards(workflow, "last-user-kernel").sort("row_id")
    assert exact["v_full"].to_list() == pytest.approx(kernel["v_full"].to_list(), abs=1e-6)
    for name in ("reply-wer", "reply-bertscore"):
        replies = _shards(workflow, name)
        assert replies["status"].to_list() == ["ok"] * 4
        assert replies["v_full"].to_list() == pytest.approx([1.0] * 4)  # the full reply against itself


def test_report_shows_the_conversation_turn_by_turn_in_the_browser(workflow):
    from report.browser import chromium  # tests/report/browser.py: headless Debian Chromium

    rows = _rows()
    pages = workflow / "results" / "conversation" / "report" / "rows"
    page_file = next(pages.glob("trip-*.html"))
    messages = rows["trip"]["messages"]
    every = _shards(workflow, "every-user-turn").filter(pl.col("row_id") == "trip").row(0, named=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        fetched, problems = [], []
        page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.goto(page_file.as_uri())
        sections = page.locator("section.run")
        assert sections.count() == 5
        for i in range(5):
            section = sections.nth(i)
            turns = section.locator(".conversation .turn")
            assert [turns.nth(t).get_attribute("data-role") for t in range(3)] == ["user", "assistant", "user"]
            # every turn's text is shown whole, in order, player or not
            assert [turns.nth(t).locator(".heatmap, .response").inner_text() for t in range(3)] == [
                m["content"] for m in messages
            ]
            assert turns.nth(1).locator(".player").count() == 0  # the assistant's turn is plain
            run_id = section.get_attribute("data-run")
            players_in_first = turns.nth(0).locator(".player").count()
            assert players_in_first == (len(every["players"]) - 9 if run_id.startswith("every-user") else 0)
            assert turns.nth(2).locator(".player").count() == 9  # What should I pack if the weather turns rainy
        section = page.locator("section.run[data-run^='every-user-turn']")
        tinted = section.locator(".player")
        assert tinted.count() == len(every["players"])
        assert [tinted.nth(i).inner_text() for i in range(tinted.count())] == every["players"]
        assert float(tinted.first.get_attribute("data-value")) == pytest.approx(every["attribution"][0])
        colours = {tinted.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(tinted.count())}
        assert len(colours) > 3  # tinted on the diverging scale
        box = section.locator(".conversation .turn").nth(2).bounding_box()
        assert box["width"] > 200 and box["height"] > 10
    assert fetched == [] and problems == []
