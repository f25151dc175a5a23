"""Per-run summary: row outcomes, cost, efficiency residual and attribution shape, plus faithfulness means."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl

from shapsweep.file_schemas import held_out
from shapsweep.run_spec import RunSpec


def abs_mass_entropy(values: list[float]) -> float | None:
    """Entropy of the |phi| mass over players, divided by log(n): 1 = spread evenly, 0 = one player."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    total = a.sum()
    if len(a) < 2 or total <= 0:
        return None
    p = a[a > 0] / total
    return float(-(p * np.log(p)).sum() / math.log(len(a)))


def top_k_share(values: list[float], k: int) -> float | None:
    """Share of the |phi| mass held by the k players with the largest |phi|."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    total = a.sum()
    if total <= 0:
        return None
    return float(np.sort(a)[::-1][:k].sum() / total)


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else None


def sum_step_blocks(blocks: list[pl.DataFrame], normalizer: str) -> pl.DataFrame:
    """One path_kernel shard from its step blocks' shards (in step order): the kernel is additive over steps.

    Scores, momentum, weight decay, gaps and costs add; the step axes join; v_empty is the first block's,
    v_full the last's (each block starts at the state the previous one ends at). A row failed in any
    block keeps that block's record.
    """
    from shapsweep.estimators import normalize

    if not blocks:
        raise ValueError("no step blocks to sum")
    ids = blocks[0]["row_id"].to_list()
    if any(b["row_id"].to_list() != ids for b in blocks):
        raise ValueError("step blocks of one shard hold different rows: re-run its step blocks")
    rows = [[b.row(i, named=True) for b in blocks] for i in range(len(ids))]
    out = []
    for parts in rows:
        failed = next((p for p in parts if p["status"] != "ok"), None)
        if failed is not None:
            out.append(failed)
            continue
        first, last = parts[0], parts[-1]
        attribution = np.sum([p["attribution"] for p in parts], axis=0)
        details = [json.loads(p["estimator_details"]) for p in parts]
        summed = {k: sum(p[k] for p in parts) for k in ("efficiency_gap", "momentum_score", "weight_decay_score")}
        # a mean over a fixed set of examples adds over blocks like the scores it averages
        summed |= {
            k: None if first[k] is None else sum(p[k] for p in parts) for k in ("same_label_mean", "other_label_mean")
        }
        costs = {k: sum(p[k] for p in parts) for k in ("n_evals", "model_evals", "forward_passes", "runtime_s")}
        out.append(
            {
                **first,
                **summed,
                **costs,
                "attribution": attribution.tolist(),
                "attribution_normalized": np.asarray(normalize(attribution, normalizer), dtype=np.float64).tolist(),
                "estimator_details": json.dumps({**details[0], "blocks": [d["window"] for d in details]}),
                "v_full": last["v_full"],
                "component_scores": np.sum([p["component_scores"] for p in parts], axis=0).tolist(),
                "trace_steps": [s for p in parts for s in p["trace_steps"]],
                "step_totals": [v for p in parts for v in p["step_totals"]],
                "component_step_scores": np.concatenate(
                    [np.asarray(p["component_step_scores"]) for p in parts], axis=1
                ).tolist(),
            }
        )
    return pl.DataFrame(out, schema=blocks[0].schema, orient="row")


UNDER_BUDGET_IDS_SHOWN = 10  # summary.json names this many rows that spent less than their budget
FAILED_IDS_SHOWN = 5  # ... and this many rows of each failed status (printed at the end of `snakemake`)


def failed_row_ids(shards: pl.DataFrame) -> dict[str, list[str]]:
    """The first row ids of each status other than ok (and skipped, which is not a failure)."""
    failed = shards.filter(~pl.col("status").is_in(["ok", "skipped"]))
    return {
        str(status): part["row_id"].head(FAILED_IDS_SHOWN).to_list()
        for (status,), part in failed.group_by("status", maintain_order=True)
    }


def relative_stderr(values: list[float], stderr: list[float] | None) -> float | None:
    """||stderr|| / ||phi|| of one row: how far the estimate may be from the exact values, relative to
    their size (benchmarks/reference_budget.py: it tracks the true relative L2 error of `permutation`)."""
    if stderr is None or not len(stderr):
        return None
    norm = float(np.linalg.norm(values))
    return float(np.linalg.norm(stderr)) / norm if norm > 0 else None


def budget_use(ok: pl.DataFrame) -> dict:
    """Nominal budget against what the ok rows evaluated: an estimator may spend fewer distinct coalitions
    than asked (a method that switches strategy, a small game), and a reader comparing runs by budget needs
    to see that. `nominal` is the run's resolved budget (the mean over rows if it varies with the row)."""
    budgets = ok.filter(pl.col("budget").is_not_null())
    under = budgets.filter(pl.col("n_evals") < pl.col("budget"))
    return {
        "nominal": _mean(budgets["budget"].to_list()),
        "evals_mean": _mean(ok["n_evals"].to_list()),
        "max_stderr_mean": _mean(ok["max_stderr"].to_list()),
        "rows_under_budget": under.height,
        "row_ids_under_budget": under["row_id"].head(UNDER_BUDGET_IDS_SHOWN).to_list(),
    }


def summarize(run: RunSpec, shards: pl.DataFrame, faithfulness: pl.DataFrame | None, top_k: int = 3) -> dict:
    """A run's summary; an empirical run's attribution metrics keep to the rows its explainer never saw."""
    in_train = shards.filter(pl.col("in_train").fill_null(False))
    rows_ok = int((shards["status"] == "ok").sum())
    ok = held_out(shards).filter(pl.col("status") == "ok")
    if faithfulness is not None and in_train.height:
        faithfulness = faithfulness.filter(~pl.col("row_id").is_in(in_train["row_id"].implode()))
    status_counts = dict(shards.group_by("status").len().iter_rows()) if shards.height else {}
    skipped = status_counts.get("skipped", 0)
    gaps = ok["efficiency_gap"].drop_nulls().to_list()  # null where the method has no v(full) (empirical)
    metrics: dict[str, float | int | None] = {
        "rows_total": shards.height,
        "rows_ok": rows_ok,
        "rows_failed": shards.height - rows_ok - skipped,
        "rows_skipped": skipped,
        "runtime_total_s": float(shards["runtime_s"].sum()) if shards.height else 0.0,
        "runtime_mean_s": _mean(ok["runtime_s"].to_list()),
        "evals_mean": _mean(ok["n_evals"].to_list()),
        # Model cost: the run's distinct coalitions, and how many of them its jobs sent to the model
        # (the rest came from the evaluation store).
        "evals_total": int(ok["n_evals"].sum()) if ok.height else 0,
        "model_evals_total": int(ok["model_evals"].fill_null(ok["n_evals"]).sum()) if ok.height else 0,
        "store_hits_total": int(ok["store_hits"].fill_null(0).sum()) if ok.height else 0,
        "rows_in_train": in_train.height,
        "players_mean": _mean(ok["n_players"].to_list()),
        "efficiency_residual_mean_abs": _mean([abs(v) for v in gaps]),
        "efficiency_residual_max_abs": max((abs(v) for v in gaps), default=None),
        "abs_mass_entropy_mean": _mean([abs_mass_entropy(v) for v in ok["attribution"].to_list()]),
        f"top{top_k}_share_mean": _mean([top_k_share(v, top_k) for v in ok["attribution"].to_list()]),
    }
    spent = budget_use(ok)
    metrics["budget_nominal"], metrics["rows_under_budget"] = spent["nominal"], spent["rows_under_budget"]
    metrics["stderr_rel_mean"] = _mean(
        [relative_stderr(v, e) for v, e in zip(ok["attribution"].to_list(), ok["stderr"].to_list(), strict=True)]
    )
    if faithfulness is not None and faithfulness.height:
        for col, dtype in faithfulness.schema.items():
            if col != "row_id" and dtype.is_numeric():
                metrics[f"faith_{col}"] = _mean(faithfulness[col].to_list())
    return {
        "run_id": run["run_id"],
        "slug": run["slug"],
        "variant": run["variant"],
        "reference": run["reference"],
        "params": run["params"],
        "data_id": run["data_id"],
        "method": run["explain"]["shap"]["method"],
        # the estimand its rows hold (shapley, banzhaf), null where the method has none (IG, empirical)
        "index": next(iter(_distinct(shards["index"].to_list())), None) if "index" in shards.columns else None,
        "status_counts": status_counts,
        "budget_use": spent,
        "failed_row_ids": failed_row_ids(shards),
        "metrics": metrics,
    }


def _distinct(values) -> list:
    return sorted({v for v in values if v is not None}, key=str)


def code_label(code: dict | None) -> str | None:
    """`<commit>` or `<commit>+dirty` (None outside a git checkout)."""
    if not code or not code.get("commit"):
        return None
    return code["commit"] + ("+dirty" if code.get("dirty") else "")


def device_label(record: dict) -> str:
    """`cpu (<CPU model>)` or `cuda:0 (<GPU name> x<count>)`: what a shard was computed on."""
    device = record.get("device") or "unknown"
    if device.startswith("cuda"):
        names = _distinct(record.get("gpus") or [])
        return f"{device} ({', '.join(names)} x{len(record['gpus'])})" if names else device
    return f"{device} ({record['cpu']})" if record.get("cpu") else device


def rollup_provenance(records: list[dict | None]) -> dict:
    """A run's provenance over its shards: time span, summed shard time, and every distinct code
    commit, device, host, version, dtype and config hash among them (several values = mixed provenance).

    `records` holds one entry per shard (None for a shard that carries none: written before
    provenance was recorded); those are counted, never guessed.
    """
    known = [r for r in records if r]
    starts = [r["started_at"] for r in known if r.get("started_at")]
    ends = [r["finished_at"] for r in known if r.get("finished_at")]
    return {
        "shards": len(records),
        "shards_without_provenance": len(records) - len(known),
        "first_start": min(starts) if starts else None,  # ISO 8601 in UTC: text order is time order
        "last_end": max(ends) if ends else None,
        "duration_s": float(sum(r.get("duration_s") or 0.0 for r in known)),
        "code_commits": _distinct(code_label(r.get("code")) or "unknown" for r in known),
        "devices": _distinct(device_label(r) for r in known),
        "hosts": _distinct(r.get("host") for r in known),
        "shapsweep_versions": _distinct(r.get("shapsweep_version") for r in known),
        "dtypes": _distinct(r.get("dtype") for r in known),
        "config_sha256": _distinct(r.get("config_sha256") for r in known),
        "slurm_job_ids": _distinct(r.get("slurm_job_id") for r in known),
    }
