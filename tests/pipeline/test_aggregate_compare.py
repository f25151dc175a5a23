"""Summaries and comparisons from hand-made shards (no model: aggregates never need one)."""

import math

import polars as pl
import pytest

from shapsweep.aggregate import abs_mass_entropy, summarize, top_k_share
from shapsweep.compare import row_errors, runs_table
from shapsweep.explain import shard_frame

RUN = {
    "run_id": "k-1",
    "slug": "k",
    "variant": "k",
    "reference": False,
    "params": {"shap.budget": 8},
    "data_id": "d",
    "explain": {"shap": {"method": "kernel"}},
}


def ok_row(row_id, phi, v_empty=0.0, runtime=1.0, players=None):
    phi = list(map(float, phi))
    return {
        "row_id": row_id,
        "run_id": "k-1",
        "players": players or [f"w{i}" for i in range(len(phi))],
        "attribution": phi,
        "attribution_normalized": phi,
        "v_empty": v_empty,
        "v_full": v_empty + sum(phi),
        "n_players": len(phi),
        "n_evals": 8,
        "runtime_s": runtime,
        "status": "ok",
        "efficiency_gap": 0.0,
    }


def test_attribution_shape_metrics():
    assert abs_mass_entropy([1, 1, 1, 1]) == pytest.approx(1.0)
    assert abs_mass_entropy([0, 0, 3]) == pytest.approx(0.0)
    assert top_k_share([4, -3, 2, 1], 2) == pytest.approx(0.7)


def test_summary_counts_failures_and_faithfulness():
    shards = shard_frame(
        [
            ok_row("a", [1, 1]),
            ok_row("b", [3, -1], runtime=3.0),
            {"row_id": "c", "run_id": "k-1", "status": "empty_input", "error": "no text", "runtime_s": 0.5},
            {"row_id": "d", "run_id": "k-1", "status": "skipped", "error": "players", "runtime_s": 0.1},
        ]
    )
    faith = pl.DataFrame({"row_id": ["a", "b"], "deletion_auc": [0.2, 0.4], "note": ["x", "y"]})
    s = summarize(RUN, shards, faith, top_k=1)
    m = s["metrics"]
    assert (m["rows_total"], m["rows_ok"], m["rows_failed"], m["rows_skipped"]) == (4, 2, 1, 1)
    assert m["runtime_total_s"] == pytest.approx(4.6) and m["runtime_mean_s"] == pytest.approx(2.0)
    assert m["top1_share_mean"] == pytest.approx((0.5 + 0.75) / 2)
    assert m["faith_deletion_auc"] == pytest.approx(0.3) and "faith_note" not in m
    assert s["status_counts"] == {"ok": 2, "empty_input": 1, "skipped": 1}


def test_row_errors_against_reference():
    ref = shard_frame([ok_row("a", [3, 2, 1]), ok_row("b", [1, 2]), ok_row("c", [1, 1], players=["x", "y"])])
    run = shard_frame([ok_row("a", [3, 1, 2]), ok_row("b", [1, 2]), ok_row("c", [1, 1])])
    err = row_errors(run, ref, top_k=1).sort("row_id")
    assert err["row_id"].to_list() == ["a", "b"]  # c has other players: not comparable
    a = err.row(0, named=True)
    assert a["mse"] == pytest.approx(2 / 3)
    assert a["rel_l2"] == pytest.approx(math.sqrt(2) / math.sqrt(14))
    assert a["spearman"] == pytest.approx(0.5)
    assert a["topk_overlap"] == 1.0
    assert err.row(1, named=True)["mse"] == 0.0


def test_row_errors_of_many_rows_equal_scipys_per_row_statistics():
    """row_errors scores rows of equal length as arrays: the same numbers as scipy row by row, ties,
    constant rows, one-player rows and the input order included."""
    import numpy as np
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    runs, refs = [], []
    for i in range(200):
        n = int(rng.integers(1, 9))
        phi = rng.integers(-3, 3, n) if i % 3 == 0 else rng.normal(size=n)  # integers: ties
        runs.append(ok_row(f"r{i}", phi))
        refs.append(ok_row(f"r{i}", rng.normal(size=n) if i % 7 else np.zeros(n)))
    err = row_errors(shard_frame(runs), shard_frame(refs), top_k=3)
    assert err["row_id"].to_list() == [r["row_id"] for r in runs]
    for e, run, ref in zip(err.iter_rows(named=True), runs, refs, strict=True):
        phi, r = np.array(run["attribution"]), np.array(ref["attribution"])
        constant = len(phi) < 2 or np.ptp(phi) == 0 or np.ptp(r) == 0
        assert e["spearman"] == (None if constant else pytest.approx(spearmanr(phi, r).statistic, abs=1e-12))
        assert e["mse"] == pytest.approx(np.mean((phi - r) ** 2), abs=1e-12)
        norm = np.linalg.norm(r)
        assert e["rel_l2"] == (None if norm == 0 else pytest.approx(np.linalg.norm(phi - r) / norm))
        k = min(3, len(phi))
        top = set(np.argsort(-np.abs(phi), kind="stable")[:k]) & set(np.argsort(-np.abs(r), kind="stable")[:k])
        assert e["topk_overlap"] == len(top) / k


def test_runs_table_has_params_metrics_and_reference_errors():
    summaries = [
        {
            "run_id": "e-1",
            "slug": "e",
            "variant": "e",
            "method": "exact",
            "reference": True,
            "params": {},
            "metrics": {"rows_ok": 2},
        },
        {
            "run_id": "k-1",
            "slug": "k",
            "variant": "k",
            "method": "kernel",
            "reference": False,
            "params": {"shap.budget": 8, "model.path_or_id": "m"},
            "metrics": {"rows_ok": 2, "faith_x": 0.5},
        },
    ]
    errors = {
        "k-1": pl.DataFrame(
            {
                "row_id": ["a", "b"],
                "mse": [1.0, 3.0],
                "rel_l2": [0.1, 0.3],
                "spearman": [None, 1.0],
                "topk_overlap": [1.0, 0.0],
            }
        )
    }
    table = runs_table(summaries, errors, {"e-1": None, "k-1": "e-1"})
    k = table.filter(pl.col("run_id") == "k-1").row(0, named=True)
    assert k["shap.budget"] == 8 and k["compared_to"] == "e-1" and k["faith_x"] == 0.5
    assert k["ref_mse"] == 2.0 and k["ref_spearman"] == 1.0 and k["ref_rows"] == 2
    e = table.filter(pl.col("run_id") == "e-1").row(0, named=True)
    assert e["shap.budget"] is None and e["ref_mse"] is None


def test_row_errors_score_the_kept_interaction_pairs():

    def record(values, i, j, index="k-SII", stderr=None):
        return {
            "row_id": "0",
            "run_id": "r",
            "players": ["a", "b", "c"],
            "attribution": [1.0, 2.0, 3.0],
            "status": "ok",
            "interaction_index": index,
            "interaction_i": i,
            "interaction_j": j,
            "interaction_value": values,
            "interaction_stderr": stderr,
        }

    reference = shard_frame([record([3.0, 4.0], [0, 1], [1, 2])])
    run = shard_frame([record([3.0, 1.0], [0, 0], [1, 2])])  # pair (1, 2) missed, (0, 2) extra
    errors = row_errors(run, reference, top_k=2).row(0, named=True)
    assert errors["interaction_rel_l2"] == pytest.approx((4.0**2 + 1.0**2) ** 0.5 / 5.0)
    assert errors["interaction_overlap"] == 0.5
    assert errors["interaction_coverage"] is None  # the run's pairs have no standard errors
    # (0, 1): |3.5 - 3| <= 1.96 * 0.3, inside; (1, 2): |5 - 4| > 1.96 * 0.1, outside; (0, 2) not in the reference
    with_stderr = shard_frame([record([3.5, 5.0, 1.0], [0, 1, 0], [1, 2, 2], stderr=[0.3, 0.1, 9.0])])
    assert row_errors(with_stderr, reference, top_k=2)["interaction_coverage"].to_list() == [0.5]
    other = shard_frame([record([3.0, 4.0], [0, 1], [1, 2], index="FSII")])
    assert row_errors(other, reference, top_k=2)["interaction_rel_l2"].to_list() == [None]
