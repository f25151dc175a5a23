"""The CLI in-process: validate (with --check-dataset), plan --json, status; errors exit non-zero with the path."""

import json

import pytest

from shapsweep.cli import build_parser, main


@pytest.fixture
def set_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"body": f"word {i} here"}) + "\n" for i in range(5)))
    path = tmp_path / "s.jsonnet"
    path.write_text("""
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: 'cli',
  dataset: ss.localFile('d.jsonl', text=std.extVar('text')),
  shard_size: 2,
  features: { max_players: 8 },
  experiments: [ss.exact(), ss.method('kernel', [16, 32]), ss.random()],
}""")
    return str(path)


def test_every_subcommand_has_help():
    names = build_parser()._subparsers._group_actions[0].choices
    assert {"validate", "plan", "rows", "explain", "aggregate", "compare", "status"} <= set(names)


def test_validate_and_plan(set_file, capsys):
    assert main(["validate", set_file, "--var", "text=body", "--check-dataset"]) == 0
    out = capsys.readouterr().out
    assert "5 rows, columns ok" in out and "ok: cli: 4 runs, 12 shard jobs" in out
    assert main(["plan", set_file, "--var", "text=body", "--json"]) == 0
    plans = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["n_shards"] for p in plans] == [3, 3, 3, 3]
    assert [p["params"] for p in plans] == [{}, {"shap.budget": 16}, {"shap.budget": 32}, {}]
    exact = plans[0]["run_id"]
    assert plans[0]["reference"] and all(p["compared_to"] == exact for p in plans[1:])


def test_validate_reports_a_missing_column(set_file, capsys):
    assert main(["validate", set_file, "--var", "text=sentence", "--check-dataset"]) == 2
    err = capsys.readouterr().err
    assert "dataset.columns.text: column 'sentence' for 'text' is not in the dataset (available: body" in err


def test_status_counts_missing_shards(set_file, capsys):
    assert main(["status", set_file, "--var", "text=body", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["done"] == 0 and lines[0]["missing"] == ["00000", "00001", "00002"]


def test_status_shows_the_rows_done_inside_a_running_shard(set_file, tmp_path, capsys):
    from shapsweep import layout

    assert main(["plan", set_file, "--var", "text=body", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out.splitlines()[0])["run_id"]
    shard = layout.shard_file(tmp_path / "results" / "cli", run_id, "00001")
    progress = layout.progress_file(shard)  # what the explain job writes after each row (test_explain.py)
    progress.parent.mkdir(parents=True)
    progress.write_text(json.dumps({"rows_done": 1, "rows": 2, "started_at": "x", "eta_s": 3.0}))
    assert main(["status", set_file, "--var", "text=body"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert f"{run_id}\t0/3 shards done, 00001 running (row 1/2, updated 0s ago) missing: 00000 00002" in first
    assert main(["status", set_file, "--var", "text=body", "--json"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[0])
    assert line["running"][0]["shard"] == "00001" and line["running"][0]["rows_done"] == 1
