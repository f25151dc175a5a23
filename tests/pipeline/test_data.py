"""Dataset loading through `datasets` (json, csv, parquet), column mapping, selection order, shard plans."""

import json

import polars as pl
import pytest

from shapsweep.config import ConfigError
from shapsweep.data.identity import data_id
from shapsweep.data.selection import select_rows
from shapsweep.data.shards import count_selected_rows, plan_shards

ROWS = [{"id": f"r{i}", "sentence": f"text {i}", "label": i % 3, "topic": "a" if i % 2 else "b"} for i in range(20)]


@pytest.fixture(params=["json", "csv", "parquet"])
def dataset(request, tmp_path):
    frame = pl.DataFrame(ROWS)
    path = tmp_path / f"data.{ {'json': 'jsonl'}.get(request.param, request.param) }"
    if request.param == "json":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif request.param == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    return {
        "source": request.param,
        "data_files": str(path),
        "split": "train",
        "columns": {"text": "sentence", "row_id": "id"},
    }


def test_mapped_columns_and_stable_ids(dataset):
    rows = select_rows(dataset, {"start_index": 2, "max_samples": 5})
    assert rows.columns[:2] == ["row_id", "text"]
    assert rows["row_id"].to_list() == ["r2", "r3", "r4", "r5", "r6"]
    assert rows["text"].to_list()[0] == "text 2"
    assert "sentence" not in rows.columns and "label" in rows.columns  # unmapped columns stay as metadata


def test_order_does_not_depend_on_max_samples(dataset):
    few = select_rows(dataset, {"shuffle_seed": 7, "max_samples": 4})["row_id"].to_list()
    more = select_rows(dataset, {"shuffle_seed": 7, "max_samples": 12})["row_id"].to_list()
    assert more[:4] == few
    assert more != sorted(more, key=lambda r: int(r[1:]))  # it is shuffled
    other = select_rows(dataset, {"shuffle_seed": 8, "max_samples": 12})["row_id"].to_list()
    assert other != more


def test_filters(dataset):
    rows = select_rows(
        dataset,
        {"filters": [{"column": "label", "op": "in", "value": [0, 1]}, {"column": "topic", "op": "eq", "value": "a"}]},
    )
    assert rows["row_id"].to_list() == [f"r{i}" for i in range(20) if i % 3 in (0, 1) and i % 2]


def test_missing_column_names_the_mapping(dataset):
    dataset["columns"] = {"text": "body"}
    with pytest.raises(ConfigError, match=r"dataset.columns.text: column 'body' for 'text' is not in the dataset"):
        select_rows(dataset, {})


def test_missing_column_is_found_before_loading(dataset):
    from shapsweep.config.experiment_set import from_config

    dataset["columns"] = {"text": "sentence", "label": "stars"}
    cfg = {"experiment_set_id": "x", "dataset": dataset, "experiments": [{"name": "r", "shap": {"method": "random"}}]}
    exp = from_config(cfg)
    with pytest.raises(ConfigError, match=r"dataset.columns.label: column 'stars' for 'label' is not in the dataset"):
        exp.shard_plan(next(iter(exp.runs)))


def test_bad_filter_column(dataset):
    with pytest.raises(ConfigError, match=r"selection.filters\[0\].column: 'nope'"):
        select_rows(dataset, {"filters": [{"column": "nope", "op": "eq", "value": 1}]})


def test_cheap_counts_and_shards(dataset):
    n = count_selected_rows(dataset, {"start_index": 3, "max_samples": None})
    assert n == 17
    plan = plan_shards(17, 5)
    assert [(s.shard_id, s.start, s.end) for s in plan.shards] == [
        ("00000", 0, 5),
        ("00001", 5, 10),
        ("00002", 10, 15),
        ("00003", 15, 17),
    ]


def test_data_id_follows_content_and_selection_not_max_samples(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a b"}\n')
    ds = {"source": "json", "data_files": str(path), "split": "train", "columns": {}}
    first = data_id(ds, {"max_samples": 1, "start_index": 0})
    assert data_id(ds, {"max_samples": 9, "start_index": 0}) == first
    assert data_id(ds, {"max_samples": 1, "start_index": 1}) != first
    path.write_text('{"text": "a c"}\n')
    assert data_id(ds, {"max_samples": 1, "start_index": 0}) != first


def test_missing_data_file_is_a_config_error(tmp_path):
    ds = {"source": "json", "data_files": str(tmp_path / "none.jsonl"), "split": "train", "columns": {}}
    with pytest.raises(ConfigError, match=r"dataset\.data_files: .* matches no file"):
        count_selected_rows(ds, {"max_samples": 3})


def test_hub_sizes_come_from_max_samples_without_network():
    hub = {"source": "hub", "repo_id": "someone/data", "split": "train", "columns": {}}
    assert count_selected_rows(hub, {"max_samples": 50}) == 50
    with pytest.raises(ConfigError, match=r"selection\.max_samples: required for a hub dataset"):
        count_selected_rows(hub, {"max_samples": None})


@pytest.mark.parametrize("module", ["shapsweep.data", "shapsweep.config", "shapsweep.explain"])
def test_package_imports_in_any_order(module):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_balance_keeps_the_first_rows_of_each_bucket_in_selection_order(dataset):
    shuffled = select_rows(dataset, {"shuffle_seed": 3})
    balanced = select_rows(dataset, {"shuffle_seed": 3, "balance": {"by": "label", "per_bucket": 2}})
    expected = [r["row_id"] for r in shuffled.filter(pl.int_range(pl.len()).over("label") < 2).iter_rows(named=True)]
    assert balanced["row_id"].to_list() == expected
    assert sorted(balanced["label"].to_list()) == [0, 0, 1, 1, 2, 2]
    few = select_rows(dataset, {"shuffle_seed": 3, "balance": {"by": "label", "per_bucket": 2}, "max_samples": 3})
    assert few["row_id"].to_list() == expected[:3]


def test_word_bounds_and_word_buckets(tmp_path):
    texts = ["one", "one two", "one two three", "a b", "x y z", "p q r s"]
    path = tmp_path / "w.parquet"
    pl.DataFrame({"text": texts}).write_parquet(path)
    ds = {"source": "parquet", "data_files": str(path), "split": "train", "columns": {}}
    bounded = select_rows(
        ds,
        {
            "filters": [
                {"column": "text", "op": "min_words", "value": 2},
                {"column": "text", "op": "max_words", "value": 3},
            ]
        },
    )
    assert bounded["text"].to_list() == ["one two", "one two three", "a b", "x y z"]
    by_words = select_rows(ds, {"balance": {"by": "#words", "per_bucket": 1}})
    assert by_words["row_id"].to_list() == ["0", "1", "2", "5"]
    with pytest.raises(ConfigError, match=r"selection.balance.by: 'stars' is not a column"):
        select_rows(ds, {"balance": {"by": "stars", "per_bucket": 1}})


def test_rows_file_is_written_in_blocks_with_the_same_rows(dataset, tmp_path):
    from shapsweep.data.selection import write_selected_rows

    selection = {"shuffle_seed": 5, "filters": [{"column": "label", "op": "ne", "value": 1}]}
    out = tmp_path / "rows.parquet"
    assert write_selected_rows(dataset, selection, out, block_rows=4) == 13
    assert pl.read_parquet(out).equals(select_rows(dataset, selection))


def test_balance_changes_the_data_id_and_its_absence_does_not(dataset):
    plain = data_id(dataset, {"start_index": 0})
    assert data_id(dataset, {"start_index": 0, "balance": {"by": "label", "per_bucket": 2}}) != plain
