"""Run-comparison plots of an experiment set, drawn with matplotlib (no pyplot state, no display needed).

- approximation error against the reference run versus budget, one line per method;
- mean runtime per row versus the coalitions the rows evaluated (`n_evals`, not the nominal budget: an
  estimator may spend fewer), one line per method;
- the share of |phi| mass carried by each player position, per method (median and quartiles over rows);
- mean deletion and insertion curves per method (when the evaluate rule ran).

Each function takes plain polars frames and returns a Figure; `to_png` renders it reproducibly (no
timestamp or software version in the file), so the same runs give byte-identical plots. A plot with
nothing to show still renders, with a sentence saying why, so the report rule's outputs always exist.
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl
from matplotlib.figure import Figure

PLOT_NAMES = ("error_vs_budget", "runtime_vs_budget", "phi_mass_by_position", "faithfulness_curves")
BASELINE_METHOD = "random"  # not an estimator: its budget means nothing, drawn as a horizontal line
# Said where a set has no compared run; docs/pipeline.md ("A reference run") explains the budget to use.
NO_REFERENCE_MESSAGE = (
    "No run has a reference run to compare with.\n"
    "Mark one run `reference: true` (exact, or where exact is out of reach\n"
    "a high-budget run of a sampling method; see docs/pipeline.md)."
)
MAX_POSITIONS = 64  # positions beyond this are not drawn (rows rarely have more players; see max_players)


def _empty(fig: Figure, ax, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _method_lines(ax, per_run: pl.DataFrame, y: str, x: str = "budget") -> bool:
    """One line per method of `y` over `x`, the random baseline as a dashed horizontal line (the floor);
    True when something was drawn."""
    data = per_run.filter(pl.col(y).is_not_null() & pl.col(y).is_finite())
    estimators = data.filter(pl.col(x).is_not_null() & (pl.col("method") != BASELINE_METHOD))
    drawn = False
    for (method,), part in estimators.sort("method").group_by("method", maintain_order=True):
        part = part.group_by(x).agg(pl.col(y).mean()).sort(x)
        ax.plot(part[x].to_numpy(), part[y].to_numpy(), marker="o", label=str(method))
        drawn = True
    baseline = data.filter(pl.col("method") == BASELINE_METHOD)
    if baseline.height:
        ax.axhline(float(baseline[y].mean()), color="0.4", linestyle="--", label=f"{BASELINE_METHOD} baseline")
        drawn = True
    if drawn:
        if estimators.height:
            ax.set_xscale("log")
        if data[y].min() > 0:
            ax.set_yscale("log")
        ax.legend(title="method", fontsize="small")
        ax.grid(True, alpha=0.3, which="both")
    return drawn


def _per_budget(
    per_run: pl.DataFrame, column: str, ylabel: str, title: str, if_empty: str, x: str, xlabel: str
) -> Figure:
    """One line per method of `column` against `x` (the nominal budget, or the coalitions evaluated)."""
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    if not _method_lines(ax, per_run, column, x):
        return _empty(fig, ax, if_empty)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def error_vs_budget(per_run: pl.DataFrame) -> Figure:
    """per_run: `method`, `budget`, `ref_rel_l2` (mean relative L2 error of the run against its reference)."""
    return _per_budget(
        per_run,
        "ref_rel_l2",
        "relative L2 error vs reference",
        "Approximation error versus budget",
        NO_REFERENCE_MESSAGE,
        "budget",
        "budget (shap.budget: coalitions asked per row)",
    )


def runtime_vs_budget(per_run: pl.DataFrame) -> Figure:
    """per_run: `method`, `evals` (mean distinct coalitions evaluated per row, `n_evals`), `runtime_s`
    (mean seconds per explained row)."""
    return _per_budget(
        per_run,
        "runtime_s",
        "mean runtime per row (s)",
        "Runtime versus coalitions evaluated",
        "No run has both evaluated coalitions and a runtime.",
        "evals",
        "coalitions evaluated per row (mean n_evals)",
    )


def phi_mass_shares(attributions: list[list[float]] | pl.Series) -> np.ndarray:
    """Rows x positions matrix of |phi_i| / sum |phi| (NaN past a row's last player or for all-zero rows).
    Computed by polars over the list column: a Python loop per row took seconds at 100k rows x 10 runs."""
    series = pl.Series("phi", attributions, dtype=pl.List(pl.Float64))
    width = min(MAX_POSITIONS, int(series.list.len().max() or 0))
    if width == 0:
        return np.full((len(series), 0), np.nan)
    mags = pl.DataFrame([series]).select(pl.col("phi").list.eval(pl.element().abs()))["phi"]
    total = mags.list.sum().to_numpy().astype(float)
    cells = pl.DataFrame([mags.list.get(k, null_on_oob=True).alias(str(k)) for k in range(width)])
    shares = cells.to_numpy().astype(float)  # nulls (past a row's end) are NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((total > 0)[:, None], shares / total[:, None], np.nan)


def phi_mass_by_position(explanations: pl.DataFrame) -> Figure:
    """explanations: `method`, `attribution` (list per row); ok rows only."""
    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    data = explanations.filter(pl.col("attribution").list.len() > 0)
    drawn = False
    for (method,), part in data.sort("method", nulls_last=True).group_by("method", maintain_order=True):
        shares = phi_mass_shares(part["attribution"])
        if shares.size == 0 or np.all(np.isnan(shares)):
            continue
        filled = ~np.all(np.isnan(shares), axis=0)
        positions = np.arange(shares.shape[1])[filled]
        cols = shares[:, filled]
        median = np.nanmedian(cols, axis=0)
        low, high = np.nanpercentile(cols, [25, 75], axis=0)
        (line,) = ax.plot(positions, median, marker=".", label=str(method))
        ax.fill_between(positions, low, high, alpha=0.2, color=line.get_color())
        drawn = True
    if not drawn:
        return _empty(fig, ax, "No explained row with attributions yet.")
    ax.set_xlabel("player position")
    ax.set_ylabel("share of |φ| mass (median, IQR)")
    ax.set_title("Where the attribution mass sits")
    ax.legend(title="method", fontsize="small")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def mean_curve(curves: list[list[float]], grid: np.ndarray) -> np.ndarray:
    """Curves sampled at k/n (k = 0..n, n varying by row) put on one grid of fractions and averaged."""
    resampled = [np.interp(grid, np.linspace(0, 1, len(c)), c) for c in curves if c is not None and len(c) >= 2]
    return np.mean(resampled, axis=0) if resampled else np.full(len(grid), np.nan)


def faithfulness_curves(curves: pl.DataFrame) -> Figure:
    """curves: `method`, `deletion_curve`, `insertion_curve` (one evaluated row each)."""
    fig = Figure(figsize=(9, 4), dpi=100)
    deletion, insertion = fig.subplots(1, 2, sharey=True)
    if curves.is_empty():
        return _empty(fig, deletion, "No faithfulness results:\nset evaluation.enabled to true.")
    grid = np.linspace(0.0, 1.0, 21)
    for (method,), part in curves.sort("method").group_by("method", maintain_order=True):
        style = {"linestyle": "--", "color": "0.4"} if method == BASELINE_METHOD else {}
        deletion.plot(grid, mean_curve(part["deletion_curve"].to_list(), grid), label=str(method), **style)
        insertion.plot(grid, mean_curve(part["insertion_curve"].to_list(), grid), label=str(method), **style)
    deletion.set_title("Deletion: top players removed (lower is better)", fontsize="medium")
    insertion.set_title("Insertion: only top players kept (higher is better)", fontsize="medium")
    for ax in (deletion, insertion):
        ax.set_xlabel("fraction of players, by attribution rank")
        ax.grid(True, alpha=0.3)
    deletion.set_ylabel("value of the game (mean over rows)")
    insertion.legend(title="method", fontsize="small")
    fig.tight_layout()
    return fig


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
