"""Reading a target run's shards and rows into examples: text players only, clear errors for the rest."""

import polars as pl
import pytest
from synthetic_target import synthetic_rows, write_target_run

from shapsweep.empirical.training import TrainingData


def test_examples_carry_text_spans_and_the_chosen_attributions(target_run):
    raw = TrainingData.from_files(target_run["shards"], target_run["rows"], scale="raw")
    normalized = TrainingData.from_files(target_run["shards"], target_run["rows"], scale="normalized")
    by_id = {r["row_id"]: r for r in target_run["rows_list"]}
    first = raw.train[0]
    assert first.text == by_id[first.row_id]["text"]
    assert [list(s) for s in first.spans] == by_id[first.row_id]["player_spans"]
    assert first.targets.tolist() == by_id[first.row_id]["attribution"]
    assert normalized.train[0].targets.tolist() == by_id[first.row_id]["attribution_normalized"]
    assert raw.skipped == {"too_many_players": 1}
    assert raw.target_runs == ("target-run-abc123",)
    assert sum(raw.rows_per_role.values()) == 119
    # Examples follow the rows file's order, whatever order the shard files come in.
    reversed_order = TrainingData.from_files(target_run["shards"][::-1], target_run["rows"], scale="raw")
    assert [e.row_id for e in reversed_order.train] == [e.row_id for e in raw.train]


def test_a_media_row_is_refused_naming_the_target(tmp_path):
    rows = synthetic_rows(6)
    rows[2]["player_spans"] = [*rows[2]["player_spans"][:-1], None]
    rows[2]["player_regions"] = [None] * (len(rows[2]["player_spans"]) - 1) + [[0.0, 0.0, 16.0, 16.0]]
    files = write_target_run(tmp_path, rows)
    with pytest.raises(ValueError, match=r"shap\.options\.target: .*row 'row-0002'.*text players only"):
        TrainingData.from_files(files["shards"], files["rows"])


def test_a_row_without_spans_is_refused(tmp_path):
    files = write_target_run(tmp_path, synthetic_rows(6))
    frame = pl.read_parquet(files["shards"][0]).with_columns(
        pl.lit(None, pl.List(pl.List(pl.Int64))).alias("player_spans")
    )
    frame.write_parquet(files["shards"][0])
    with pytest.raises(ValueError, match=r"shap\.options\.target: .*without text spans.*text players only"):
        TrainingData.from_files(files["shards"], files["rows"])


def test_shards_from_another_selection_are_refused(tmp_path):
    files = write_target_run(tmp_path / "a", synthetic_rows(6))
    other = write_target_run(tmp_path / "b", synthetic_rows(3))
    with pytest.raises(ValueError, match=r"row 'row-0003' .* not in the rows file"):
        TrainingData.from_files(files["shards"], other["rows"])
    with pytest.raises(ValueError, match=r"more than one shard row"):
        TrainingData.from_files(files["shards"] + files["shards"][:1], files["rows"])


def test_rows_without_text_are_refused(tmp_path):
    files = write_target_run(tmp_path, synthetic_rows(4))
    pl.DataFrame({"row_id": ["row-0000"], "image": ["a.png"]}).write_parquet(tmp_path / "media_rows.parquet")
    with pytest.raises(ValueError, match=r"shap\.options\.target: .*no `row_id` and `text`"):
        TrainingData.from_files(files["shards"], tmp_path / "media_rows.parquet")
