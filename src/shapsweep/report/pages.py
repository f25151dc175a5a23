"""Builds the HTML report of an experiment set: index, one page per dataset row, one page per run.

```
report/index.html          sweep table (runs x parameters x metrics), plots, links to every page
report/plots/<name>.png    the plots embedded in the index (also offered to `snakemake --report`)
report/runs/<run>.html     one run: its spec, metrics and its rows ordered by a chosen metric
report/rows/<row>.html     one dataset row: every run's attribution of it side by side, one colour scale
```

Pages are Jinja2 templates with autoescaping on: dataset and model text can never become markup. Every
page is self-contained (inline style, inline plots as data: URIs, a Content-Security-Policy that forbids
any fetch), so a folder of pages can be zipped and opened anywhere without a server or Jupyter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from shapsweep import plots
from shapsweep.evaluation.reference_error import reference_errors
from shapsweep.report import atomic_files
from shapsweep.report.colour import DivergingScale
from shapsweep.report.heatmap import segments
from shapsweep.report.inputs import BUDGET_KEYS, METHOD_KEYS, ReportInputs

# Per-row numbers a run page can sort by, besides faithfulness columns (which are added when present).
ROW_METRICS = ("runtime_s", "n_evals", "v_full", "v_empty", "ref_rel_l2", "ref_spearman")
# Row columns shown as the text itself rather than as metadata.
TEXT_COLUMNS = ("row_id", "text", "spans", "reference", "label")


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shapsweep", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


def format_number(value: Any) -> str:
    """Short human form of a table cell: 4 significant digits for floats, JSON for nested values."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def page_slug(*parts: str) -> str:
    """A file name for a page: readable prefix plus a hash of the full key (ids may hold any character)."""
    key = "\0".join(parts)
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", parts[-1]).strip("-.")[:40] or "row"
    return f"{readable}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:10]}"


@dataclass
class RunInfo:
    run_id: str
    page: str
    method: str | None
    budget: float | None
    reference: str | None
    data_id: str | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportFiles:
    index: Path
    plots: dict[str, Path]
    run_pages: dict[str, Path]
    row_pages: dict[tuple[str, str], Path]


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _run_infos(inputs: ReportInputs) -> dict[str, RunInfo]:
    infos = {}
    param_columns = [c for c in inputs.runs.columns if c != "run_id"]
    for record in inputs.runs.iter_rows(named=True):
        run_id = record["run_id"]
        spec = inputs.run_specs.get(run_id, {})
        params = spec.get("params") if isinstance(spec.get("params"), dict) else {}
        infos[run_id] = RunInfo(
            run_id=run_id,
            page=f"{page_slug(run_id)}.html",
            method=(lambda m: None if m is None else str(m))(inputs.run_value(run_id, METHOD_KEYS)),
            budget=_number(inputs.run_value(run_id, BUDGET_KEYS)),
            reference=inputs.run_reference.get(run_id),
            data_id=inputs.run_data.get(run_id),
            params=dict(params),
            metrics={c: record[c] for c in param_columns},
        )
    return infos


def row_metrics(inputs: ReportInputs, infos: dict[str, RunInfo]) -> pl.DataFrame:
    """Every shard row with its run's method and budget, its error against the reference run and its
    faithfulness metrics (when evaluated)."""
    exp = inputs.explanations
    by_run = {k[0]: part for k, part in exp.group_by("run_id", maintain_order=True)} if exp.height else {}
    parts = []
    for run_id, info in infos.items():
        part = by_run.get(run_id)
        if part is None:
            continue
        ref = by_run.get(info.reference) if info.reference else None
        errors = reference_errors(part, ref) if ref is not None else pl.DataFrame(
            {"row_id": part["row_id"], "ref_rel_l2": [None] * part.height, "ref_spearman": [None] * part.height},
            schema={"row_id": pl.Utf8, "ref_rel_l2": pl.Float64, "ref_spearman": pl.Float64},
        )
        part = part.join(errors, on="row_id", how="left").with_columns(
            pl.lit(info.method, dtype=pl.Utf8).alias("method"),
            pl.lit(info.budget, dtype=pl.Float64).alias("budget"),
            pl.lit(info.data_id, dtype=pl.Utf8).alias("data_id"),
        )
        parts.append(part)
    if not parts:
        return pl.DataFrame()
    frame = pl.concat(parts, how="vertical")
    if inputs.faithfulness is not None and inputs.faithfulness.height:
        faith = inputs.faithfulness
        numeric = [c for c, t in faith.schema.items() if t.is_numeric() and c not in frame.columns]
        frame = frame.join(faith.select("run_id", "row_id", *numeric), on=["run_id", "row_id"], how="left")
    return frame


def per_run_frame(metrics: pl.DataFrame, infos: dict[str, RunInfo]) -> pl.DataFrame:
    """One row per run for the plots: method, budget (configured, else mean coalitions evaluated),
    mean runtime per row and mean error against the reference."""
    schema = {"run_id": pl.Utf8, "method": pl.Utf8, "budget": pl.Float64, "runtime_s": pl.Float64, "ref_rel_l2": pl.Float64}
    if metrics.is_empty():
        return pl.DataFrame(schema=schema)
    ok = metrics.filter(pl.col("status").is_null() | (pl.col("status") == "ok"))
    agg = ok.group_by("run_id").agg(
        pl.col("runtime_s").mean(),
        pl.col("ref_rel_l2").filter(pl.col("ref_rel_l2").is_finite()).mean(),
        pl.col("n_evals").cast(pl.Float64).mean().alias("mean_evals"),
    )
    rows = []
    for r in agg.iter_rows(named=True):
        info = infos[r["run_id"]]
        rows.append({
            "run_id": r["run_id"],
            "method": info.method or "?",
            "budget": info.budget if info.budget is not None else r["mean_evals"],
            "runtime_s": r["runtime_s"],
            "ref_rel_l2": r["ref_rel_l2"],
        })
    return pl.DataFrame(rows, schema=schema).sort("run_id")


def _write_plots(out_dir: Path, metrics: pl.DataFrame, per_run: pl.DataFrame) -> dict[str, Path]:
    ok = metrics.filter(pl.col("status").is_null() | (pl.col("status") == "ok")) if metrics.height else pl.DataFrame(
        schema={"method": pl.Utf8, "attribution": pl.List(pl.Float64)}
    )
    figures = {
        "error_vs_budget": plots.error_vs_budget(per_run),
        "runtime_vs_budget": plots.runtime_vs_budget(per_run),
        "phi_mass_by_position": plots.phi_mass_by_position(ok.select("method", "attribution")),
    }
    return {name: atomic_files.write_bytes(out_dir / "plots" / f"{name}.png", plots.to_png(fig)) for name, fig in figures.items()}


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _row_record(inputs: ReportInputs, data_id: str | None, row_id: str) -> dict[str, Any]:
    frame = inputs.rows.get(data_id) if data_id else None
    if frame is None:
        return {}
    hit = frame.filter(pl.col("row_id") == row_id)
    return hit.row(0, named=True) if hit.height else {}


def build_report(
    inputs: ReportInputs,
    out_dir: Path,
    sort_rows_by: str | None = None,
    max_rows: int | None = None,
) -> ReportFiles:
    """Write every page and plot under `out_dir`. `sort_rows_by`/`max_rows` default to the config's
    `report` block; `max_rows=0` lists every row."""
    out_dir = Path(out_dir)
    env = template_environment()
    infos = _run_infos(inputs)
    metrics = row_metrics(inputs, infos)
    per_run = per_run_frame(metrics, infos)
    plot_files = _write_plots(out_dir, metrics, per_run)

    sort_rows_by = sort_rows_by or inputs.report_cfg.get("sort_rows_by") or "runtime_s"
    if max_rows is None:
        max_rows = inputs.report_cfg.get("max_rows")
    metric_columns = [c for c in ROW_METRICS if c in metrics.columns] + [
        c for c in metrics.columns if c not in ROW_METRICS and c not in ("budget",) and metrics.schema[c].is_numeric()
    ]
    if metrics.height and sort_rows_by not in metrics.columns:
        raise ValueError(
            f"report.sort_rows_by: {sort_rows_by!r} is not a per-row metric; choose one of {sorted(metric_columns)}"
        )

    # Row pages: one per (data_id, row_id), every run that explained it side by side.
    row_pages: dict[tuple[str, str], Path] = {}
    row_links: dict[tuple[str, str], str] = {}
    row_list = []
    if metrics.height:
        keys = metrics.select(pl.col("data_id").fill_null(""), "row_id").unique(maintain_order=True)
        for data_id, row_id in keys.iter_rows():
            row_links[(data_id, row_id)] = f"{page_slug(data_id, row_id)}.html"
        grouped = {
            (k[0] or "", k[1]): part
            for k, part in metrics.with_columns(pl.col("data_id").fill_null("")).group_by(["data_id", "row_id"], maintain_order=True)
        }
        template = env.get_template("row.html.j2")
        for (data_id, row_id), part in grouped.items():
            record = _row_record(inputs, data_id or None, row_id)
            scale = DivergingScale.for_values(v for a in part["attribution"].to_list() if a for v in a)
            runs = []
            for r in part.iter_rows(named=True):
                info = infos[r["run_id"]]
                runs.append({
                    "info": info,
                    "row": r,
                    "segments": segments(
                        r["players"], r["attribution"], scale, r["stderr"], r["attribution_normalized"],
                        text=record.get("text"), spans=r["player_spans"],
                    ),
                    "metrics": {c: r.get(c) for c in metric_columns if r.get(c) is not None},
                })
            metadata = {k: v for k, v in record.items() if k not in TEXT_COLUMNS}
            html = template.render(
                set_name=inputs.set_name, data_id=data_id, row_id=row_id, record=record, metadata=metadata,
                runs=runs, scale=scale, root="../",
            )
            path = atomic_files.write_text(out_dir / "rows" / row_links[(data_id, row_id)], html)
            row_pages[(data_id, row_id)] = path
            first = part.row(0, named=True)
            row_list.append({
                "data_id": data_id, "row_id": row_id, "link": f"rows/{row_links[(data_id, row_id)]}",
                "preview": (record.get("text") or " ".join(first["players"] or []))[:120],
                "n_runs": part.height,
            })

    # Run pages: its rows ordered by the chosen metric (largest first, missing values last).
    run_pages: dict[str, Path] = {}
    template = env.get_template("run.html.j2")
    for run_id, info in infos.items():
        part = metrics.filter(pl.col("run_id") == run_id) if metrics.height else pl.DataFrame()
        if part.height:
            part = part.sort(sort_rows_by, descending=True, nulls_last=True)
        total = part.height
        if max_rows and part.height:  # None or 0: every row
            part = part.head(int(max_rows))
        listed = []
        for r in part.iter_rows(named=True) if part.height else []:
            scale = DivergingScale.for_values(r["attribution"] or [])
            listed.append({
                "row": r,
                "link": f"../rows/{row_links[(r['data_id'] or '', r['row_id'])]}",
                "segments": segments(r["players"], r["attribution"], scale, r["stderr"], r["attribution_normalized"]),
                "metrics": {c: r.get(c) for c in metric_columns},
                "scale": scale,
            })
        html = template.render(
            set_name=inputs.set_name, info=info, spec=json.dumps(inputs.run_specs.get(run_id, {}), indent=2, sort_keys=True, default=str),
            rows=listed, total=total, metric_columns=metric_columns, sort_rows_by=sort_rows_by, root="../",
        )
        run_pages[run_id] = atomic_files.write_text(out_dir / "runs" / info.page, html)

    index_html = env.get_template("index.html.j2").render(
        set_name=inputs.set_name,
        columns=inputs.runs.columns,
        runs=[{"info": infos[r["run_id"]], "record": r} for r in inputs.runs.iter_rows(named=True)],
        plots=[{"name": name, "uri": _data_uri(path), "file": f"plots/{path.name}"} for name, path in plot_files.items()],
        rows=row_list,
        n_explanations=metrics.height,
        root="",
    )
    index = atomic_files.write_text(out_dir / "index.html", index_html)
    return ReportFiles(index=index, plots=plot_files, run_pages=run_pages, row_pages=row_pages)
