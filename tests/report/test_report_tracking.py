"""W&B tracking in offline mode, checked by reading back the run W&B wrote to disk."""

import json

import polars as pl
import pytest

from shapsweep import layout
from shapsweep.cli import main
from shapsweep.config import load_experiment_set
from shapsweep.tracking import read_offline_run, row_steps, wandb_run_id


@pytest.mark.slow
def test_offline_run_holds_spec_rows_summary_and_files(tmp_path, monkeypatch):
    from hand_made_set import make_set, run_ids

    set_dir = make_set(tmp_path / "tracked", config_overrides={"wandb": {"enabled": True, "tags": ["ci"]}})
    monkeypatch.delenv("WANDB_MODE", raising=False)  # the config's mode (offline) decides
    run_id = run_ids(set_dir)["kernel"][0]
    before = {p: p.read_bytes() for p in set_dir.glob("runs/**/*") if p.is_file()}
    marker = set_dir / "runs" / run_id / "tracking.json"
    assert main(["track", str(set_dir / "config.json"), "--run", run_id, "--out", str(marker)]) == 0

    record = json.loads(marker.read_text())
    assert record["status"] == "ok" and record["mode"] == "offline", record
    assert record["name"] == f"tracked__{run_id}" and record["id"] == wandb_run_id("tracked", run_id)
    written = read_offline_run(record["run_dir"])
    assert written.run["name"] == f"tracked__{run_id}" and written.run["project"] == "shapsweep"
    assert written.run["tags"] == ["ci"]
    spec = load_experiment_set(set_dir / "config.json", warn=False).run(run_id)
    assert written.config["run_id"] == run_id and written.config["explain"]["shap"] == spec["explain"]["shap"]
    shards = pl.concat([pl.read_parquet(p) for p in sorted(set_dir.glob(f"runs/{run_id}/shards/*.parquet"))])
    assert [h["_step"] for h in written.history] == list(range(shards.height))
    assert [h["runtime_s"] for h in written.history] == pytest.approx(shards["runtime_s"].to_list())
    assert [h["ok"] for h in written.history] == [int(s == "ok") for s in shards["status"]]
    summary = json.loads(layout.summary_file(set_dir, run_id).read_text())
    assert written.summary["rows_ok"] == summary["metrics"]["rows_ok"]
    assert written.summary["runtime_total_s"] == pytest.approx(summary["metrics"]["runtime_total_s"])
    (artifact,) = written.artifacts
    assert artifact["type"] == "shapsweep-run"
    assert artifact["files"] == sorted(
        ["summary.json"] + [f"shards/{p.name}" for p in set_dir.glob(f"runs/{run_id}/shards/*")]
    )
    assert {p: p.read_bytes() for p in before} == before  # tracking only adds files


def test_tracking_failure_is_recorded_and_never_fails_the_job(tmp_path, capfd):
    from hand_made_set import make_set, run_ids

    set_dir = make_set(tmp_path / "broken", config_overrides={"wandb": {"enabled": True}})
    run_id = run_ids(set_dir)["exact"][0]
    layout.summary_file(set_dir, run_id).unlink()  # e.g. removed by hand between the rules
    marker = tmp_path / "tracking.json"
    assert main(["track", str(set_dir / "config.json"), "--run", run_id, "--out", str(marker)]) == 0
    record = json.loads(marker.read_text())
    assert record["status"] == "failed" and "summary.json" in record["error"]
    assert "W&B tracking of broken__" in capfd.readouterr().err
    assert not (set_dir / "wandb").exists() or not list((set_dir / "wandb").glob("offline-run-*"))


def test_disabled_tracking_writes_only_the_marker(tiny_set, tmp_path):
    marker = tmp_path / "tracking.json"
    run_id = pl.read_parquet(tiny_set / "runs.parquet")["run_id"][0]
    assert main(["track", str(tiny_set / "config.json"), "--run", run_id, "--out", str(marker)]) == 0
    assert json.loads(marker.read_text())["status"] == "disabled"
    assert not (tiny_set / "wandb").exists()


def test_row_steps_join_faithfulness_by_row():
    shards = pl.DataFrame(
        {"row_id": ["a", "b"], "status": ["ok", "empty_input"], "runtime_s": [0.5, None], "n_evals": [8, 0]}
    )
    faith = pl.DataFrame({"row_id": ["a"], "deletion_auc": [0.25], "status": ["ok"]})
    assert row_steps(shards, faith) == [
        {"row_index": 0, "ok": 1, "runtime_s": 0.5, "n_evals": 8, "faith_deletion_auc": 0.25},
        {"row_index": 1, "ok": 0, "n_evals": 0},
    ]
