"""Issue 15 item 7: a run that spent fewer coalitions than its budget (regression_adjusted at budget 64
used 36-42 on ~19 players) is plotted at what it evaluated, and summary.json reports the shortfall."""

import polars as pl
import pytest

from shapsweep import plots
from shapsweep.aggregate import summarize
from shapsweep.file_schemas import SHARD_SCHEMA
from shapsweep.report.inputs import RunInfo
from shapsweep.report.pages import per_run_frame

RUN = {
    "run_id": "ra-b64",
    "slug": "ra",
    "variant": "regression_adjusted",
    "reference": None,
    "params": {"shap.budget": 64},
    "data_id": "d",
    "explain": {"shap": {"method": "regression_adjusted", "budget": 64}},
}


def shard(n_evals: list[int], budget: int = 64) -> pl.DataFrame:
    rows = []
    for i, n in enumerate(n_evals):
        rows.append(
            {
                **dict.fromkeys(SHARD_SCHEMA),
                "row_id": f"r{i}",
                "run_id": RUN["run_id"],
                "players": ["a", "b"],
                "attribution": [0.5, 0.25],
                "attribution_normalized": [0.67, 0.33],
                "v_empty": 0.0,
                "v_full": 0.75,
                "n_players": 19,
                "n_evals": n,
                "budget": budget,
                "efficiency_gap": 0.0,
                "runtime_s": 0.01 * n,
                "status": "ok",
            }
        )
    return pl.DataFrame(rows, schema=SHARD_SCHEMA)


def test_summary_reports_nominal_budget_mean_evals_and_rows_under_budget():
    summary = summarize(RUN, shard([36, 42, 64, 40]), None)
    use = summary["budget_use"]
    assert use["nominal"] == 64
    assert use["evals_mean"] == pytest.approx((36 + 42 + 64 + 40) / 4)
    assert use["rows_under_budget"] == 3
    assert use["row_ids_under_budget"] == ["r0", "r1", "r3"]
    assert summary["metrics"]["budget_nominal"] == 64 and summary["metrics"]["rows_under_budget"] == 3


def test_a_run_that_spends_its_budget_has_no_shortfall():
    use = summarize(RUN, shard([64, 64]), None)["budget_use"]
    assert use["rows_under_budget"] == 0 and use["row_ids_under_budget"] == []


def test_runtime_plot_puts_a_run_at_the_coalitions_it_evaluated():
    metrics = shard([36, 42, 40]).with_columns(pl.lit("regression_adjusted").alias("method"))
    metrics = metrics.with_columns(pl.lit(None, dtype=pl.Float64).alias("ref_rel_l2"))
    infos = {"ra-b64": RunInfo("ra-b64", "regression_adjusted", 64.0, None, "d", {}, {})}
    fig = plots.runtime_vs_budget(per_run_frame(metrics, infos))
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == pytest.approx([(36 + 42 + 40) / 3])  # not the nominal 64
    assert "evaluated" in ax.get_xlabel()
    # the error plot keeps the budget the user asked for as its axis, and says so
    error_ax = plots.error_vs_budget(per_run_frame(metrics, infos)).axes[0]
    assert "No run has a reference run" in error_ax.texts[0].get_text()
    assert "reference: true" in error_ax.texts[0].get_text()


def test_summary_names_the_first_failed_rows_per_status_and_the_relative_stderr():
    frame = shard([40, 40, 40]).with_columns(
        pl.Series("status", ["ok", "empty_input", "too_many_players"]),
        pl.Series("stderr", [[0.05, 0.0], None, None], dtype=pl.List(pl.Float64)),
    )
    summary = summarize(RUN, frame, None)
    assert summary["failed_row_ids"] == {"empty_input": ["r1"], "too_many_players": ["r2"]}
    assert summary["metrics"]["stderr_rel_mean"] == pytest.approx(0.05 / (0.5**2 + 0.25**2) ** 0.5)
