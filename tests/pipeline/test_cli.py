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
