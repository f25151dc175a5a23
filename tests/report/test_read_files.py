import polars as pl
import pytest

from shapsweep.file_schemas import FAITHFULNESS_SCHEMA, read_files


def _write(path, n, start, with_extra=True):
    frame = pl.DataFrame({"row_id": [f"r{start + i}" for i in range(n)], "run_id": ["run"] * n})
    if with_extra:
        # A column in an older type (int where the contract now has another) must still be cast.
        frame = frame.with_columns(pl.lit(1, pl.Int32).alias("deletion_auc"))
    frame.write_parquet(path)
    return path


def test_files_read_together_keep_their_order_and_older_files_get_the_missing_columns(tmp_path):
    # Files are read in batches of the same on-disk schema; a file without a column sits between them.
    paths = [
        _write(tmp_path / "a.parquet", 3, 0),
        _write(tmp_path / "b.parquet", 2, 3),
        _write(tmp_path / "c.parquet", 2, 5, with_extra=False),
        _write(tmp_path / "d.parquet", 1, 7),
    ]
    frame = read_files(paths, FAITHFULNESS_SCHEMA)
    assert frame.columns == list(FAITHFULNESS_SCHEMA)
    assert dict(frame.schema) == dict(FAITHFULNESS_SCHEMA)
    assert frame["row_id"].to_list() == [f"r{i}" for i in range(8)]
    extra = "deletion_auc"
    assert frame[extra].is_null().to_list() == [False] * 5 + [True] * 2 + [False]


def test_a_file_without_row_id_is_named(tmp_path):
    pl.DataFrame({"run_id": ["x"]}).write_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"bad\.parquet has no `row_id`"):
        read_files([tmp_path / "bad.parquet"], FAITHFULNESS_SCHEMA)


def test_no_files_give_an_empty_frame_of_the_schema():
    assert dict(read_files([], FAITHFULNESS_SCHEMA).schema) == dict(FAITHFULNESS_SCHEMA)
