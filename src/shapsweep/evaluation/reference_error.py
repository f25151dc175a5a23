"""Approximation error of a run's attributions against its reference run (typically `exact`).

Per dataset row: relative L2 error `||phi - phi_ref|| / ||phi_ref||` of the raw attributions, and the
Spearman rank correlation between them. Rows whose player lists differ between the two runs (different
feature settings) are not comparable and get nulls, never a silently misaligned number.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import spearmanr


def _relative_l2(phi: np.ndarray, ref: np.ndarray) -> float:
    denom = float(np.linalg.norm(ref))
    diff = float(np.linalg.norm(phi - ref))
    if denom == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / denom


def _spearman(phi: np.ndarray, ref: np.ndarray) -> float | None:
    if len(phi) < 2 or np.all(phi == phi[0]) or np.all(ref == ref[0]):
        return None
    return float(spearmanr(phi, ref).statistic)


def reference_errors(run: pl.DataFrame, reference: pl.DataFrame) -> pl.DataFrame:
    """`row_id`, `ref_rel_l2`, `ref_spearman` for every row of `run` (shard rows of one run each)."""
    ref_by_row = {
        r["row_id"]: r
        for r in reference.select("row_id", "players", "attribution", "status").iter_rows(named=True)
    }
    out = {"row_id": [], "ref_rel_l2": [], "ref_spearman": []}
    for r in run.select("row_id", "players", "attribution", "status").iter_rows(named=True):
        ref = ref_by_row.get(r["row_id"])
        l2 = rho = None
        if (
            ref is not None
            and r["status"] in (None, "ok")
            and ref["status"] in (None, "ok")
            and r["attribution"] is not None
            and ref["attribution"] is not None
            and r["players"] == ref["players"]
            and len(r["attribution"]) == len(ref["attribution"])
        ):
            phi = np.asarray(r["attribution"], dtype=float)
            phi_ref = np.asarray(ref["attribution"], dtype=float)
            l2 = _relative_l2(phi, phi_ref)
            rho = _spearman(phi, phi_ref)
        out["row_id"].append(r["row_id"])
        out["ref_rel_l2"].append(l2)
        out["ref_spearman"].append(rho)
    return pl.DataFrame(out, schema={"row_id": pl.Utf8, "ref_rel_l2": pl.Float64, "ref_spearman": pl.Float64})
