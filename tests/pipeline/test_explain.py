"""Explaining shards in-process with the real MiniLM: several shards per call, bad rows kept, seeds by row."""

import io
import json

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


class _Log(io.StringIO):
    """A job log that looks at the shard's progress file each time a row's line arrives."""

    def __init__(self, progress, tty=False):
        super().__init__()
        self.progress, self.tty, self.seen = progress, tty, []

    def isatty(self):
        return self.tty

    def write(self, text):
        if " row " in text and self.progress.exists():
            self.seen.append(json.loads(self.progress.read_text())["rows_done"])
        return super().write(text)


def _three_rows(tmp_path):
    rows = pl.DataFrame({"row_id": ["a", "b", "c"], "text": ["green apples", "red pears here", "blue sky"]})
    rows.write_parquet(tmp_path / "rows.parquet")
    return tmp_path / "rows.parquet"


def test_a_running_shard_says_how_far_it_is_and_the_note_goes_once_the_shard_is_written(tmp_path, run_spec):
    from shapsweep import layout

    job = ShardJob("00000", 0, 3, tmp_path / "shards" / "00000.parquet")
    log = _Log(layout.progress_file(job.out))
    explain_shards(run_spec, _three_rows(tmp_path), [job], threads=1, log=log)
    # Each row's log line is printed before that row's progress is saved: the file says the rows before it.
    assert log.seen == [1, 2]
    lines = [line for line in log.getvalue().splitlines() if " row " in line]
    assert len(lines) == 3 and "row 3/3 c: ok players 2 evals" in lines[2] and "shard ETA 0s" in lines[2]
    assert "(model " in lines[0] and "store 0)" in lines[0]
    assert job.out.exists() and not layout.progress_file(job.out).exists()


def test_on_a_terminal_a_progress_bar_replaces_the_row_lines(tmp_path, run_spec):
    job = ShardJob("00000", 0, 3, tmp_path / "00000.parquet")
    log = _Log(tmp_path / "unused", tty=True)
    explain_shards(run_spec, _three_rows(tmp_path), [job], threads=1, log=log)
    text = log.getvalue()
    assert "shard 00000: 100%" in text and "3/3" in text
    assert " row 1/3 " not in text
