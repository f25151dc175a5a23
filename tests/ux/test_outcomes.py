"""Issue 15 item 6 (the end-of-run summary) on files as the pipeline writes them: a big sweep names only
the runs that need a look."""

import polars as pl

from shapsweep import layout
from shapsweep.aggregate import summarize
from shapsweep.atomic_outputs import write_json, write_parquet
from shapsweep.file_schemas import SHARD_SCHEMA
from shapsweep.outcomes import RUNS_SHOWN, outcome_report

OK_FIELDS = {"attribution": [0.1], "stderr": None, "n_players": 1, "n_evals": 2, "budget": 2, "efficiency_gap": 0.0}


def write_run(set_dir, run_id: str, statuses: list[str], summary: bool = True) -> None:
    rows = [
        {**dict.fromkeys(SHARD_SCHEMA), **(OK_FIELDS if s == "ok" else {}), "row_id": f"r{i}", "run_id": run_id}
        | {"status": s, "runtime_s": 0.1}
        for i, s in enumerate(statuses)
    ]
    frame = pl.DataFrame(rows, schema=SHARD_SCHEMA)
    write_parquet(layout.shard_file(set_dir, run_id, "00000"), frame)
    if summary:
        run = {"run_id": run_id, "slug": run_id, "variant": "v", "reference": False, "params": {}, "data_id": "d"}
        spec = {**run, "explain": {"shap": {"method": "kernel"}}}
        write_json(layout.summary_file(set_dir, run_id), summarize(spec, frame, None))


def test_a_big_sweep_names_only_the_runs_with_failed_rows(tmp_path):
    shard_ids = {}
    for i in range(RUNS_SHOWN + 5):
        statuses = ["ok", "ok"] if i != 7 else ["ok", "too_many_players"]
        write_run(tmp_path, f"run{i:02d}", statuses, summary=i != 3)
        shard_ids[f"run{i:02d}"] = ["00000"]
    shard_ids["unfinished"] = ["00000"]
    report = outcome_report(tmp_path, shard_ids, "big")
    lines = report.splitlines()
    assert lines[1:3] == [
        "  run07: rows 1 ok, 1 failed (too_many_players 1: r1)",
        "  unfinished: no shard explained yet (0/1 shards)",
    ]
    assert lines[3] == f"  ... {RUNS_SHOWN + 4} more runs (`shapsweep status` lists them all)"
    assert lines[4].startswith(f"shapsweep: {RUNS_SHOWN + 6} runs, {2 * (RUNS_SHOWN + 5) - 1} rows ok, 1 failed")


def test_a_run_without_summary_is_read_from_its_shards(tmp_path):
    write_run(tmp_path, "r", ["ok", "empty_input", "empty_input"], summary=False)
    report = outcome_report(tmp_path, {"r": ["00000"]})
    assert "  r: rows 1 ok, 2 failed (empty_input 2: r1, r2)" in report.splitlines()
