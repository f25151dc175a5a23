"""End to end through real Snakemake: an image set and an audio set (tiny random classifiers, real photos
and speech), relative media paths, a corrupt image and a missing clip, resume and no-op re-runs, exports."""

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from workflow_runs import copy_workflow as copy_workflow_files
from workflow_runs import job_counts, run_snakemake

pytestmark = pytest.mark.slow


SET = """
{
  experiment_set_id: 'media',
  shard_size: 2,
  shap: { batch_size: 64 },
  experiments: [
    {
      name: 'image',
      reference: true,
      dataset: { source: 'json', data_files: 'images/meta.jsonl', split: 'train', columns: { image: 'file_name' } },
      model: { connector: 'hf_classifier', path_or_id: std.extVar('vit'), batch_size: 16 },
      features: { modalities: ['image'], image: { grid: [2, 2], baseline: 'mean' }, max_players: 8 },
      shap: { method: 'exact' },
    },
    {
      name: 'audio',
      dataset: { source: 'json', data_files: 'audio/meta.jsonl', split: 'train' },
      model: { connector: 'hf_classifier', path_or_id: std.extVar('wav2vec2'), batch_size: 16 },
      features: { modalities: ['audio'], audio: { players: 'words' }, max_players: 8 },
      value: { kind: 'logit' },
      shap: { method: 'kernel', budget: 12 },
    },
  ],
}
"""


def copy_workflow(dest: Path, experiment_set: str) -> Path:
    copy_workflow_files(dest)
    (dest / "set.jsonnet").write_text(experiment_set)
    return dest


def snakemake(workdir: Path, extvars: str, *args):
    return run_snakemake(workdir, *args, config=("experiment=set.jsonnet", extvars))


@pytest.fixture(scope="module")
def workflow(tmp_path_factory, media_dir, tiny_vit_path, tiny_wav2vec2_path):
    wd = copy_workflow(tmp_path_factory.mktemp("media_wf"), SET)
    images = wd / "images"
    images.mkdir()
    for name in ("chelsea.png", "coffee.jpg", "corrupt.png"):
        (images / name).write_bytes((media_dir / name).read_bytes())
    (images / "meta.jsonl").write_text(
        "".join(json.dumps({"file_name": n}) + "\n" for n in ("chelsea.png", "corrupt.png", "coffee.jpg"))
    )
    audio = wd / "audio"
    audio.mkdir()
    (audio / "speech.wav").write_bytes((media_dir / "speech.wav").read_bytes())
    words = [[0.05, 0.3, "the"], [0.3, 0.6, "cat"], [0.6, 0.9, "sat"], [0.9, 1.3, "on the mat"]]
    (audio / "meta.jsonl").write_text(
        json.dumps({"audio": "speech.wav", "word_times": words})
        + "\n"
        + json.dumps({"audio": "gone.wav", "word_times": words})
        + "\n"
    )
    extvars = f"vars={{vit: '{tiny_vit_path}', wav2vec2: '{tiny_wav2vec2_path}'}}"

    def run(*args):
        return snakemake(wd, extvars, *args)

    run()
    return wd, run


def shards(wd, prefix):
    return sorted((wd / "results" / "media" / "runs").glob(f"{prefix}*/shards/*.parquet"))


def test_media_rows_are_explained_and_bad_media_kept(workflow):
    wd, _ = workflow
    image = pl.concat([pl.read_parquet(p) for p in shards(wd, "image")])
    assert image["status"].to_list() == ["ok", "bad_media", "ok"]
    assert "corrupt.png" in image["error"][1]
    ok = image.row(0, named=True)
    assert ok["players"] == ["patch(0,0)", "patch(0,1)", "patch(1,0)", "patch(1,1)"]
    assert ok["player_regions"][3] == [150.0, 225.0, 300.0, 451.0]
    assert sum(ok["attribution"]) == pytest.approx(ok["v_full"] - ok["v_empty"], abs=1e-9)
    audio = pl.read_parquet(shards(wd, "audio")[0])
    assert audio["status"].to_list() == ["ok", "bad_media"] and "gone.wav" in audio["error"][1]
    assert audio["players"][0].to_list() == ["the", "cat", "sat", "on the mat"]
    assert audio["player_regions"][0].to_list()[1] == [0.3, 0.6]


def test_nothing_to_do_then_a_deleted_shard_alone_reruns(workflow):
    wd, run = workflow
    assert job_counts(run("-n")) == {}
    shard = shards(wd, "image")[1]
    before = pl.read_parquet(shard)
    shard.unlink()
    counts = job_counts(run())
    assert counts.get("explain") == 1 and "rows" not in counts
    after = pl.read_parquet(shard)
    assert after.select("row_id", "attribution", "status").equals(before.select("row_id", "attribution", "status"))
    assert job_counts(run("-n")) == {}


def test_exports_carry_the_regions(workflow):
    wd, run = workflow
    run("export")
    export = wd / "results" / "media" / "export"
    image_file = next(export.glob("image*.jsonl"))
    records = [json.loads(line) for line in image_file.read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "bad_media", "ok"]
    assert records[0]["player_regions"][1] == [0.0, 225.0, 150.0, 451.0] and records[0]["text"] is None
    audio_file = next(export.glob("audio*.jsonl"))
    assert json.loads(audio_file.read_text().splitlines()[0])["player_regions"][3] == [0.9, 1.3]
    lines = next(export.glob("image*.html-lines")).read_text().splitlines()
    assert len(lines) == 3 and all(line.lower().startswith("<!doctype html>") for line in lines)
    assert lines[0].count('class="region"') == 4 and "data:image/jpeg;base64," in lines[0]
    assert 'class="region"' not in lines[1]  # the corrupt image: its error, no picture
    audio_line = next(export.glob("audio*.html-lines")).read_text().splitlines()[0]
    assert audio_line.count('class="region"') == 4 and "data:audio/wav;base64," in audio_line


def test_validate_check_dataset_opens_the_first_media_file(workflow, tiny_vit_path, tiny_wav2vec2_path):
    wd, _ = workflow
    cmd = [sys.executable, "-m", "shapsweep.cli", "validate", "set.jsonnet", "--check-dataset"]
    cmd += ["--var", f"vit={tiny_vit_path}", "--var", f"wav2vec2={tiny_wav2vec2_path}"]
    proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "image: first file decodes (300x451 pixels)" in proc.stdout
    assert re.search(r"audio: first file decodes \(1\.\d\d s at 22050 Hz\)", proc.stdout)
    meta = wd / "images" / "meta.jsonl"
    saved = meta.read_text()
    meta.write_text(json.dumps({"file_name": "corrupt.png"}) + "\n")
    try:
        proc = subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=300)
    finally:
        meta.write_text(saved)
    assert proc.returncode == 2 and "dataset.columns.image" in proc.stderr and "corrupt.png" in proc.stderr


def test_report_draws_media_rows_in_the_browser(workflow):
    from report.browser import chromium  # tests/report/browser.py: headless Debian Chromium

    wd, _ = workflow
    rows = wd / "results" / "media" / "report" / "rows"
    pages = {p: p.read_text() for p in rows.glob("*.html")}
    image_page = next(p for p, html in pages.items() if "patch(0,0)" in html and "media-image" in html)
    audio_page = next(p for p, html in pages.items() if "<audio" in html)
    image_shards = pl.concat([pl.read_parquet(p) for p in shards(wd, "image")])
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        fetched, problems = [], []
        page.on("request", lambda r: fetched.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.goto(image_page.as_uri())
        figures = page.locator("figure.media")
        assert figures.count() == 1  # one picture per run of the row (one image run here)
        regions = figures.first.locator(".region")
        assert regions.count() == 4
        assert page.evaluate("document.querySelector('svg.media-image image').getBBox().width") > 100
        row_id = image_page.read_text().split("<h1>Row ", 1)[1].split("<", 1)[0]
        shard_row = image_shards.filter(pl.col("row_id") == row_id).row(0, named=True)
        first = regions.first
        tip = first.get_attribute("data-tip")
        assert tip.startswith("patch(0,0): player 0: φ = ") and first.locator("title").text_content() == tip
        assert float(first.get_attribute("data-value")) == pytest.approx(shard_row["attribution"][0])
        fills = {regions.nth(i).get_attribute("fill") for i in range(4)}
        assert len(fills) > 1 and all(f.startswith("#") for f in fills)  # tinted on the diverging scale
        box = page.evaluate("Array.from(document.querySelectorAll('.region')).map(r => r.getBBox().width)")
        assert box[0] == pytest.approx(box[1], rel=0.05)  # a 2 x 2 grid over the picture
        first.hover()

        page.goto(audio_page.as_uri())
        assert page.locator("audio.clip").count() == 1
        assert page.evaluate("document.querySelector('audio.clip').src").startswith("data:audio/wav;base64,")
        page.wait_for_function("document.querySelector('audio.clip').readyState >= 1", timeout=10000)
        assert page.evaluate("document.querySelector('audio.clip').duration") == pytest.approx(1.6, abs=0.4)
        assert [t.text_content() for t in page.locator("text.word").all()] == ["the", "cat", "sat", "on the mat"]
        assert page.locator("figure.media .region").count() == 4
        assert page.locator("path.waveform").count() == 1
    assert fetched == [] and problems == []
