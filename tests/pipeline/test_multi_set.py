"""Several experiment sets in one `snakemake` call (issue 14.3): real Snakemake on a temporary copy of the
workflow. One real two-set run where one set's explain job fails (its model folder has no weights) and
the other set, a bad (empty) row included, completes; then dry runs for job counts, a directory, the
duplicate-folder error, and `shapsweep plan` / `status` over both sets."""

import json
import subprocess
from pathlib import Path

import polars as pl
import pytest
from workflow_runs import copy_workflow as copy_workflow_files
from workflow_runs import job_counts, run_snakemake

from shapsweep.cli import main
from shapsweep.config import ConfigError
from shapsweep.config.set_sources import experiment_files, load_experiment_sets

pytestmark = pytest.mark.slow

TEXTS = ["cats chase small mice", "", "rain falls on the roof"]
SET = """
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: '%(name)s',
  output_root: '%(root)s',
  dataset: ss.localFile('data.jsonl'),
  shard_size: %(shard_size)d,
  model: %(model)s,
  features: { max_players: 8 },
  shap: { batch_size: 32 },
  experiments: [ss.exact()],
}
"""
MINILM = "ss.minilm { batch_size: 32 }"


def write_set(folder: Path, name: str, model=MINILM, shard_size=3, set_id=None, root="results") -> Path:
    path = folder / f"{name}.jsonnet"
    path.write_text(SET % {"name": set_id or name, "root": root, "model": model, "shard_size": shard_size})
    return path


def copy_workflow(dest: Path) -> Path:
    copy_workflow_files(dest)
    (dest / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    (dest / "sets").mkdir()
    write_set(dest / "sets", "good")
    write_set(dest / "sets", "other", shard_size=1)
    # a model folder with a config but no weights: it passes the parse-time check, its explain job fails
    (dest / "no-weights").mkdir()
    (dest / "no-weights" / "config.json").write_text('{"model_type": "bert"}')
    write_set(dest, "broken", model="{ connector: 'sentence_embedder', path_or_id: 'no-weights' }")
    return dest


def snakemake(workdir: Path, *config: str, dry: bool = True) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *(["-n"] if dry else []), config=config, check=False)


@pytest.fixture(scope="module")
def two_sets_run(tmp_path_factory):
    """`experiments=[good, broken]` run for real: broken's explain job fails, good's whole DAG is done."""
    wd = copy_workflow(tmp_path_factory.mktemp("multi"))
    return wd, snakemake(wd, "experiments=[sets/good.jsonnet, broken.jsonnet]", dry=False)


@pytest.fixture(scope="module")
def unrun(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("multi_unrun"))


def test_a_failing_set_leaves_the_other_complete(two_sets_run):
    wd, proc = two_sets_run
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Error in rule explain" in log and "cannot load" in log
    good, broken = wd / "results" / "good", wd / "results" / "broken"
    (shard,) = (good / "runs").glob("exact-*/shards/00000.parquet")
    assert pl.read_parquet(shard)["status"].to_list() == ["ok", "empty_input", "ok"]  # the bad row is recorded
    assert pl.read_parquet(good / "runs.parquet")["run_id"].to_list() == [shard.parents[1].name]
    assert (good / "report" / "index.html").exists()
    # the failing set got as far as its rows, then nothing past the failed job
    assert (broken / "data").is_dir() and not list(broken.glob("runs/*/shards/*.parquet"))
    assert not (broken / "runs.parquet").exists()
    for name, folder in (("good", good), ("broken", broken)):
        assert json.loads((folder / "config.json").read_text())["experiment_set_id"] == name
        assert f"shapsweep: row outcomes of experiment set {name} (results/{name})" in proc.stderr  # onerror


def test_status_and_plan_over_two_sets(two_sets_run, monkeypatch, capsys):
    wd, _ = two_sets_run
    monkeypatch.chdir(wd)
    assert main(["status", "sets/good.jsonnet", "broken.jsonnet", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(x["set"], x["done"], x["missing"], x["summary"]) for x in lines] == [
        ("good", 1, [], True),
        ("broken", 0, ["00000"], False),
    ]
    assert main(["status", "sets/good.jsonnet", "broken.jsonnet"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in text] == ["good", "broken"] and "missing: 00000" in text[1]
    assert main(["plan", "sets/*.jsonnet", "broken.jsonnet"]) == 0  # a glob and a file
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(r[0], r[2]) for r in rows] == [("good", "1 shards"), ("other", "3 shards"), ("broken", "1 shards")]


def test_job_counts_of_two_sets_are_the_sum_of_each_alone(unrun):
    alone = [job_counts(snakemake(unrun, f"experiment={p}")) for p in ("sets/good.jsonnet", "sets/other.jsonnet")]
    assert alone[0]["explain"] == 1 and alone[1]["explain"] == 3
    # a directory: every .jsonnet in it (the list form runs for real in two_sets_run)
    both = job_counts(snakemake(unrun, "experiments=sets/"))
    assert both == {rule: alone[0][rule] + alone[1][rule] for rule in alone[0]}


def test_two_sets_in_one_folder_fail_at_parse_time(unrun):
    write_set(unrun, "twin", set_id="good")
    proc = snakemake(unrun, "experiments=[sets/good.jsonnet, twin.jsonnet]")
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Job stats" not in text
    assert (
        "twin.jsonnet: its set folder results/good (output_root / experiment_set_id) is also the set folder of " in text
    )
    assert "sets/good.jsonnet; each set needs a folder of its own" in text


def test_sources_expand_dedupe_and_refuse_clashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.jsonl").write_text(json.dumps({"text": "one two"}) + "\n")
    (tmp_path / "sets").mkdir()
    a, b = write_set(tmp_path / "sets", "a"), write_set(tmp_path / "sets", "b")
    (tmp_path / "sets" / "notes.txt").write_text("not a set")
    assert experiment_files(["sets"]) == [Path("sets/a.jsonnet"), Path("sets/b.jsonnet")]
    assert experiment_files([b, "sets/*.jsonnet"]) == [b, Path("sets/a.jsonnet")]  # b once, as first named
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: a directory of experiment sets, but it holds no \.jsonnet"):
        experiment_files(["empty"])
    with pytest.raises(ConfigError, match=r"nothing\*\.jsonnet: the glob matches no experiment-set file"):
        experiment_files(["nothing*.jsonnet"])
    sets = load_experiment_sets(["sets"], overrides={"output_root": "out"})  # overrides reach every set
    assert list(sets) == ["out/a", "out/b"]
    # a set folder inside another's, and two failing sets reported together, each under its file
    write_set(tmp_path, "inner", set_id="x", root="results/a/runs")
    with pytest.raises(ConfigError, match=r"inner\.jsonnet: its set folder results/a/runs/x .* lies inside results/a"):
        load_experiment_sets([a, tmp_path / "inner.jsonnet"])
    with pytest.raises(ConfigError) as err:
        load_experiment_sets([a, "missing.jsonnet", "also-missing.jsonnet"])
    assert str(err.value).startswith("missing.jsonnet:\n") and "\n\nalso-missing.jsonnet:\n" in str(err.value)
