"""The report in a real browser: loads cleanly, one coloured element per player, hostile text stays text."""

import io

import polars as pl
import pytest
from browser import chromium
from PIL import Image

from shapsweep.report import build_report, load_report_inputs

pytestmark = pytest.mark.browser


def _watch(page):
    problems = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on(
        "request", lambda r: problems.append(f"fetch: {r.url}") if not r.url.startswith(("file:", "data:")) else None
    )
    return problems


def _not_blank(png: bytes) -> bool:
    image = Image.open(io.BytesIO(png)).convert("L")
    lo, hi = image.getextrema()
    return hi - lo > 100 and sum(1 for count in image.histogram() if count) > 20


def test_pages_load_without_errors_and_colour_every_player(tiny_set):
    files = build_report(load_report_inputs(tiny_set / "config.json"), tiny_set / "report")
    shards = pl.concat([pl.read_parquet(p) for p in tiny_set.glob("runs/*/shards/*.parquet")])
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        problems = _watch(page)

        page.goto(files.index.as_uri())
        assert page.locator("#sweep tbody tr").count() == 4
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        assert _not_blank(page.screenshot(full_page=True))

        for (_data_id, row_id), path in files.row_pages.items():
            page.goto(path.as_uri())
            for section in page.locator("section.run").all():
                run_id = section.get_attribute("data-run")
                players = shards.filter((pl.col("run_id") == run_id) & (pl.col("row_id") == row_id))["players"][0]
                cells = section.locator(".player")
                assert cells.count() == len(players), (row_id, run_id)
                colours = {
                    cells.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(cells.count())
                }
                assert len(players) == 0 or colours != {"rgba(0, 0, 0, 0)"}
            if row_id == "r0":
                assert _not_blank(page.screenshot(full_page=True))
                first = page.locator("section.run").nth(1).locator(".player").first
                first.hover()
                tip = first.get_attribute("data-tip")
                assert tip.startswith("player 0: φ = ") and " ± 0.1" in tip
                assert first.get_attribute("title") == tip
                shown = first.evaluate("e => getComputedStyle(e, '::after').content")
                assert shown == f'"{tip}"'  # the hover box the reader sees

        for path in files.run_pages.values():
            page.goto(path.as_uri())
            page.locator("#run-rows th").first.click()  # the sorting script runs without error
        assert problems == []


def test_hostile_text_renders_as_text(tiny_set):
    files = build_report(load_report_inputs(tiny_set / "config.json"), tiny_set / "report")
    with chromium() as browser:
        page = browser.new_page()
        problems = _watch(page)
        for row_id in ("r1", "r2"):
            page.goto(next(p for (_, rid), p in files.row_pages.items() if rid == row_id).as_uri())
            for i in range(page.locator(".player").count()):
                page.locator(".player").nth(i).hover()
            assert page.evaluate("window.__pwned") is None
            assert page.evaluate("document.scripts.length") == 1  # only the page's own sorter
            assert page.locator("[onmouseover]").count() == 0
        page.goto(next(p for (_, rid), p in files.row_pages.items() if rid == "r1").as_uri())
        assert "<script>window.__pwned = 1; alert('x')</script>" in page.locator(".response").first.inner_text()
        page.goto(next(p for (_, rid), p in files.row_pages.items() if rid == "r2").as_uri())
        assert '" onmouseover="window.__pwned=2" x="' in page.locator(".response").first.inner_text()
        assert problems == []
