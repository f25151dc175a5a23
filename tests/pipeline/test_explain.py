"""Explaining shards in-process with the real MiniLM: several shards per call, bad rows kept, seeds by row."""

import io

import numpy as np
import polars as pl
import pytest

from shapsweep.config.experiment_set import from_config
from shapsweep.explain import ShardJob, explain_shards, row_seed
from shapsweep.file_schemas import SHARD_SCHEMA


@pytest.fixture(scope="module")
def run_spec(tmp_path_factory):
    data = tmp_path_factory.mktemp("d") / "rows.jsonl"
    data.write_text('{"text": "x"}\n')
    cfg = {
        "experiment_set_id": "x",
        "dataset": {"source": "json", "data_files": str(data)},
        "features": {"max_players": 5},
        "shap": {"batch_size": 32},
        "model": {"batch_size": 32},
        "experiments": [{"name": "kernel", "shap": {"method": "kernel", "budget": 12}}],
    }
    return next(iter(from_config(cfg).runs.values()))


def test_several_shards_one_model_load(tmp_path, run_spec):
    rows = pl.DataFrame(
        {"row_id": ["a", "b", "c"], "text": ["green apples taste sour", "", "one two three four five six seven"]}
    )
    rows.write_parquet(tmp_path / "rows.parquet")
    jobs = [ShardJob("00000", 0, 2, tmp_path / "s0.parquet"), ShardJob("00001", 2, 3, tmp_path / "s1.parquet")]
    log = io.StringIO()
    explain_shards(run_spec, tmp_path / "rows.parquet", jobs, threads=1, log=log)
    assert log.getvalue().count("model loaded") == 1
    s0, s1 = pl.read_parquet(jobs[0].out), pl.read_parquet(jobs[1].out)
    assert s0.schema == pl.Schema(SHARD_SCHEMA) and s1.schema == pl.Schema(SHARD_SCHEMA)
    assert s0["status"].to_list() == ["ok", "empty_input"]
    assert s1["status"].to_list() == ["too_many_players"] and "players" in s1["error"][0]
    ok = s0.row(0, named=True)
    assert ok["n_players"] == 4 and ok["n_evals"] <= 12 and ok["run_id"] == run_spec["run_id"]
    assert np.sum(ok["attribution"]) == pytest.approx(ok["v_full"] - ok["v_empty"], abs=1e-6)
    assert sum(abs(v) for v in ok["attribution_normalized"]) == pytest.approx(1.0)
    assert not list(tmp_path.glob(".*.tmp"))


def test_row_seed_depends_on_row_not_position():
    assert row_seed(0, "a") == row_seed(0, "a") != row_seed(0, "b")
    assert row_seed(1, "a") != row_seed(0, "a")
