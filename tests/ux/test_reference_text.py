"""Issue 15 item 8: which text a row page shows as what the runs score against."""

from shapsweep.report.inputs import RunInfo
from shapsweep.report.pages import reference_texts


def info(run_id: str, value: dict) -> RunInfo:
    return RunInfo(run_id, "kernel", 8.0, None, "d", {}, {"explain": {"value": value}})


def test_a_fixed_text_a_row_column_and_no_reference_target():
    record = {"row_id": "0", "text": "a cat", "reference": "the row's own reference"}
    runs = [
        info("fixed", {"kind": "similarity", "target": "reference", "reference": "a query"}),
        info("column", {"kind": "similarity", "target": "reference", "reference": None}),
        info("full", {"kind": "similarity", "target": "full", "reference": None}),
    ]
    assert reference_texts(record, runs) == [
        {"text": "a query", "source": "value.reference (fixed in the config)", "runs": ["fixed"]},
        {"text": "the row's own reference", "source": "the row's reference column", "runs": ["column"]},
    ]
    assert reference_texts({"row_id": "1", "text": "x"}, runs[1:]) == []  # no column: nothing to show
