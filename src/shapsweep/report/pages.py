"""Builds the HTML report of an experiment set: index, one page per dataset row, one page per run.

```
report/index.html          sweep table (runs x parameters x metrics), plots, links to every page
report/plots/<name>.png    the plots embedded in the index (also offered to `snakemake --report`)
report/runs/<run>.html     one run: its spec, metrics and its rows ordered by a chosen metric
report/rows/<row>.html     one dataset row: every run's attribution of it side by side, one colour scale
                           (every row while the set has report.row_pages rows or fewer; else the rows
                           pointed at: report/explorer.py)
report/explorer.html       every row of every run: sort, filter, search, a heatmap drawn in the page
report/explorer/*.js       its data: rows.js and one file per run
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from shapsweep import layout, plots
from shapsweep.atomic_outputs import atomic_path, write_text
from shapsweep.report.colour import DivergingScale
from shapsweep.report.conversation import media_record, row_turns, turns_view
from shapsweep.report.explorer import explorer_slug, pointed_rows, write_explorer_data
from shapsweep.report.heatmap import segments
from shapsweep.report.incremental import InputDigests, digest
from shapsweep.report.inputs import REFERENCE_ERROR_COLUMNS, ReportInputs, RunInfo
from shapsweep.report.interactions import interaction_view
from shapsweep.report.media import media_view, row_media
from shapsweep.report.training import training_run_view, training_view

# Per-row numbers a run page can sort by, besides faithfulness columns (which are added when present).
ROW_METRICS = ("runtime_s", "n_evals", "v_full", "v_empty", "ref_rel_l2", "ref_spearman", "ref_topk_overlap")
# Rows a run page lists once the set is past report.row_pages rows (the explorer lists them all).
RUN_PAGE_ROWS_AT_SCALE = 100
# Row columns shown as the text itself rather than as metadata.
TEXT_COLUMNS = ("row_id", "text", "spans", "reference", "label", "image", "audio", "word_times", "messages")


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
class ReportFiles:
    index: Path
    sweep: Path
    plots: dict[str, Path]
    run_pages: dict[str, Path]
    row_pages: dict[tuple[str, str], Path]
    explorer: Path | None = None


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def run_page(run_id: str) -> str:
    return f"{page_slug(run_id)}.html"


def row_metrics(inputs: ReportInputs) -> pl.DataFrame:
    """Every shard row with its run's method and data id, its errors against the reference run (compare
    rule) and its faithfulness metrics (evaluate rule), when there are some."""
    exp = inputs.explanations
    if exp.is_empty():
        return pl.DataFrame()
    infos = inputs.infos
    frame = exp.with_columns(
        pl.col("run_id")
        .replace_strict({r: i.method for r, i in infos.items()}, default=None, return_dtype=pl.Utf8)
        .alias("method"),
        pl.col("run_id")
        .replace_strict({r: i.data_id for r, i in infos.items()}, default=None, return_dtype=pl.Utf8)
        .alias("data_id"),
    )
    for extra in (inputs.reference_errors, inputs.faithfulness):
        if extra is not None and extra.height:
            numeric = [c for c, t in extra.schema.items() if t.is_numeric() and c not in frame.columns]
            frame = frame.join(extra.select("run_id", "row_id", *numeric), on=["run_id", "row_id"], how="left")
    # A set without a compared run (only its reference, or none) has no errors: null, not absent.
    absent = [
        pl.lit(None, dtype=pl.Float64).alias(c) for c in REFERENCE_ERROR_COLUMNS.values() if c not in frame.columns
    ]
    return frame.with_columns(absent) if absent else frame


def per_run_frame(metrics: pl.DataFrame, infos: dict[str, RunInfo]) -> pl.DataFrame:
    """One row per run for the plots: method, budget (configured, else mean coalitions evaluated), mean
    coalitions evaluated per row (`evals`), mean runtime per row and mean error against the reference."""
    schema = {
        "run_id": pl.Utf8,
        "method": pl.Utf8,
        "budget": pl.Float64,
        "evals": pl.Float64,
        "runtime_s": pl.Float64,
        "ref_rel_l2": pl.Float64,
    }
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
        rows.append(
            {
                "run_id": r["run_id"],
                "method": info.method,
                "budget": info.budget if info.budget is not None else r["mean_evals"],
                "evals": r["mean_evals"],
                "runtime_s": r["runtime_s"],
                "ref_rel_l2": r["ref_rel_l2"],
            }
        )
    return pl.DataFrame(rows, schema=schema).sort("run_id")


def _evaluated_curves(inputs: ReportInputs) -> pl.DataFrame:
    """method, deletion_curve, insertion_curve of every evaluated row (empty without evaluation)."""
    faith = inputs.faithfulness
    schema = {"method": pl.Utf8, "deletion_curve": pl.List(pl.Float64), "insertion_curve": pl.List(pl.Float64)}
    if faith is None or not {"deletion_curve", "insertion_curve"} <= set(faith.columns):
        return pl.DataFrame(schema=schema)
    methods = {run_id: info.method for run_id, info in inputs.infos.items()}
    return faith.filter(pl.col("status") == "ok").select(
        pl.col("run_id").replace_strict(methods, default=None, return_dtype=pl.Utf8).alias("method"),
        pl.col("deletion_curve").cast(schema["deletion_curve"]),
        pl.col("insertion_curve").cast(schema["insertion_curve"]),
    )


def _write_plots(
    out_dir: Path, inputs: ReportInputs, metrics: pl.DataFrame, per_run: pl.DataFrame, digests: InputDigests
) -> dict[str, Path]:
    ok = (
        metrics.filter(pl.col("status").is_null() | (pl.col("status") == "ok"))
        if metrics.height
        else pl.DataFrame(schema={"method": pl.Utf8, "attribution": pl.List(pl.Float64)})
    )
    curves = _evaluated_curves(inputs)
    paths = {name: out_dir / "plots" / f"{name}.png" for name in layout.REPORT_PLOTS}
    if digests.fresh("plots", digest(per_run, ok.select("method", "attribution"), curves), list(paths.values())):
        return paths
    figures = {
        "error_vs_budget": plots.error_vs_budget(per_run),
        "runtime_vs_budget": plots.runtime_vs_budget(per_run),
        "phi_mass_by_position": plots.phi_mass_by_position(ok.select("method", "attribution")),
        "faithfulness_curves": plots.faithfulness_curves(curves),
    }
    return {name: write_bytes(paths[name], plots.to_png(fig)) for name, fig in figures.items()}


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _row_records(inputs: ReportInputs) -> dict[tuple[str, str], dict[str, Any]]:
    """(data_id, row_id) -> the dataset row, built once (a filter per page is quadratic in rows)."""
    return {(data_id, r["row_id"]): r for data_id, frame in inputs.rows.items() for r in frame.iter_rows(named=True)}


def _scale_attributions(part: pl.DataFrame) -> list[list[float]]:
    """Attributions that set a row page's shared colour limit. The random baseline's values are on no
    particular scale and would wash out every real run, so it only counts when it is all there is
    (its cells then clip at the ends of the scale)."""
    real = part.filter(pl.col("method") != plots.BASELINE_METHOD)
    chosen = real if real["attribution"].list.len().sum() else part
    return [a for a in chosen["attribution"].to_list() if a]


def reference_texts(record: dict[str, Any], infos: list[RunInfo]) -> list[dict[str, Any]]:
    """The texts the row's runs score against (`value.target: 'reference'`): the config's fixed
    `value.reference`, else the row's `reference` column; one entry per distinct text, with its source and
    the runs using it, so the row page shows what the user asked next to what was explained."""
    found: dict[tuple[str, str], list[str]] = {}
    for info in infos:
        value = (info.spec.get("explain") or {}).get("value") or {}
        if value.get("target") != "reference":
            continue
        if isinstance(value.get("reference"), str):
            key = (value["reference"], "value.reference (fixed in the config)")
        elif isinstance(record.get("reference"), str):
            key = (record["reference"], "the row's reference column")
        else:
            continue
        found.setdefault(key, []).append(info.run_id)
    return [{"text": text, "source": source, "runs": runs} for (text, source), runs in found.items()]


def _row_pages(
    env,
    inputs: ReportInputs,
    metrics: pl.DataFrame,
    metric_columns: list[str],
    out_dir: Path,
    digests: InputDigests | None = None,
):
    """One page per (data_id, row_id): every run that explained the row, side by side, one colour scale.
    With `digests`, a page whose inputs did not change since the last build is kept as it is."""
    pages: dict[tuple[str, str], Path] = {}
    listing = []
    if metrics.is_empty():
        return pages, listing
    template = env.get_template("row.html.j2")
    records = _row_records(inputs)
    # each run's spec digested once, not once per row page that shows it
    run_digests = {run_id: digest(asdict(info)) for run_id, info in inputs.infos.items()}
    for (data_id, row_id), part in metrics.group_by(["data_id", "row_id"], maintain_order=True):
        record = records.get((data_id, row_id), {})
        name = f"{page_slug(data_id, row_id)}.html"
        pages[(data_id, row_id)] = out_dir / "rows" / name
        first = part.row(0, named=True)
        listing.append(
            {
                "data_id": data_id,
                "row_id": row_id,
                "link": f"rows/{name}",
                "n_runs": part.height,
                "preview": (record.get("text") or " ".join(first["players"] or []))[:120],
            }
        )
        if digests is not None:
            runs_used = [run_digests[r] for r in part["run_id"]]
            page_inputs = digest(part, record, runs_used, metric_columns, inputs.set_name)
            if digests.fresh(f"row:{name}", page_inputs, [pages[(data_id, row_id)]]):
                continue
        scale = DivergingScale.for_values(v for a in _scale_attributions(part) for v in a)
        conversation = row_turns(record)  # (conversation text, turns) for a row with `messages`
        media = row_media(media_record(record, conversation[1]) if conversation else record)
        runs = []
        for r in part.iter_rows(named=True):
            segs = segments(
                r["players"],
                r["attribution"],
                scale,
                r["stderr"],
                r["attribution_normalized"],
                text=conversation[0] if conversation else record.get("text"),
                spans=r["player_spans"],
            )
            runs.append(
                {
                    "info": inputs.infos[r["run_id"]],
                    "page": run_page(r["run_id"]),
                    "row": r,
                    "segments": segs,
                    "turns": (
                        turns_view(conversation[1], segs, any(s is not None for s in r["player_spans"] or []))
                        if conversation
                        else None
                    ),
                    "media": media_view(media, r, inputs.infos[r["run_id"]].spec["explain"]["features"], segs),
                    "metrics": {c: r.get(c) for c in metric_columns if r.get(c) is not None},
                    "interactions": interaction_view(r),
                    "training": training_view(r),
                }
            )
        metadata = {k: v for k, v in record.items() if k not in TEXT_COLUMNS}
        references = reference_texts(record, [run["info"] for run in runs])
        html = template.render(
            references=references,
            set_name=inputs.set_name,
            data_id=data_id,
            row_id=row_id,
            record=record,
            metadata=metadata,
            runs=runs,
            scale=scale,
            media=media,
            root="../",
        )
        write_text(pages[(data_id, row_id)], html)
    return pages, listing


def _run_pages(
    env,
    inputs: ReportInputs,
    metrics: pl.DataFrame,
    metric_columns: list[str],
    out_dir: Path,
    sort_rows_by: str,
    max_rows: int | None,
    row_pages: dict[tuple[str, str], Path],
    digests: InputDigests,
) -> dict[str, Path]:
    """One page per run: its rows ordered by `sort_rows_by` (largest first, missing values last); a page
    whose inputs did not change since the last build is kept as it is."""
    pages = {}
    template = env.get_template("run.html.j2")
    records = {r["run_id"]: r for r in inputs.runs.iter_rows(named=True)}
    for run_id, info in inputs.infos.items():
        part = metrics.filter(pl.col("run_id") == run_id) if metrics.height else pl.DataFrame()
        if part.height:
            part = part.sort(sort_rows_by, descending=True, nulls_last=True)
        total = part.height
        every_row = part  # the training view (path_kernel runs) reads every row, not only those listed
        trained = "component_step_scores" in part.columns and part["component_step_scores"].null_count() < total
        if max_rows and part.height:  # None or 0: every row
            part = part.head(int(max_rows))
        path = out_dir / "runs" / run_page(run_id)
        pages[run_id] = path
        rows = list(part.iter_rows(named=True)) if part.height else []
        links = [
            f"../rows/{row_pages[(r['data_id'], r['row_id'])].name}"
            if (r["data_id"], r["row_id"]) in row_pages
            else f"../explorer.html#run={run_id}&row={r['row_id']}"
            for r in rows
        ]
        page_inputs = digest(
            part,
            records[run_id],
            asdict(info),
            total,
            links,
            metric_columns,
            sort_rows_by,
            inputs.set_name,
            digest(every_row) if trained and max_rows else None,
        )
        if digests.fresh(f"run:{path.name}", page_inputs, [path]):
            continue
        listed = []
        for r, link in zip(rows, links, strict=True):
            scale = DivergingScale.for_values(r["attribution"] or [])
            listed.append(
                {
                    "row": r,
                    "link": link,
                    "segments": segments(
                        r["players"], r["attribution"], scale, r["stderr"], r["attribution_normalized"]
                    ),
                    "metrics": {c: r.get(c) for c in metric_columns},
                }
            )
        html = template.render(
            set_name=inputs.set_name,
            info=info,
            record=records[run_id],
            spec=json.dumps(info.spec, indent=2, sort_keys=True, default=str),
            reference_page=run_page(info.reference) if info.reference else None,
            rows=listed,
            total=total,
            training=training_run_view(every_row) if trained else None,
            metric_columns=metric_columns,
            sort_rows_by=sort_rows_by,
            root="../",
        )
        write_text(path, html)
    return pages


def _remove_stale_pages(out_dir: Path, current: set[Path]) -> None:
    """Pages of rows or runs no longer in the set (a smaller selection, a removed variant) go, after
    the new pages exist, so no link ever points at a missing page."""
    for folder in ("rows", "runs"):
        for page in (out_dir / folder).glob("*.html"):
            if page not in current:
                page.unlink()


def _model_cost(runs: pl.DataFrame) -> dict[str, int] | None:
    """The sweep's model evaluations beside the coalition evaluations its runs asked for, summed over runs
    (each run counts its own distinct coalitions; one shared by runs counts once per run, so the sum is not
    the set's distinct coalitions). The gap is the evaluation store's saving."""
    if not {"evals_total", "model_evals_total"} <= set(runs.columns) or runs.height == 0:
        return None
    return {
        "model_evals": int(runs["model_evals_total"].fill_null(0).sum()),
        "coalitions": int(runs["evals_total"].fill_null(0).sum()),
        "store_hits": int(runs["store_hits_total"].fill_null(0).sum()) if "store_hits_total" in runs.columns else 0,
    }


def build_row_page(inputs: ReportInputs, row_id: str, out_dir: Path) -> list[Path]:
    """Render the page of one row (every data id that has `row_id`) under `out_dir`/rows, on demand:
    what `shapsweep show` opens for a row the report did not write a page for. Returns the pages."""
    out_dir = Path(out_dir)
    metrics = row_metrics(inputs)
    if metrics.is_empty() or metrics.filter(pl.col("row_id") == row_id).is_empty():
        known = metrics["row_id"].unique(maintain_order=True).head(5).to_list() if not metrics.is_empty() else []
        raise ValueError(f"row {row_id!r} is in no shard of set {inputs.set_name!r}; row ids look like {known}")
    metric_columns = [c for c in ROW_METRICS if c in metrics.columns] + [
        c for c in metrics.columns if c not in ROW_METRICS and c != "budget" and metrics.schema[c].is_numeric()
    ]
    pages, _ = _row_pages(
        template_environment(), inputs, metrics.filter(pl.col("row_id") == row_id), metric_columns, out_dir
    )
    return list(pages.values())


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
    metrics = row_metrics(inputs)
    digests = InputDigests(out_dir)
    plot_files = _write_plots(out_dir, inputs, metrics, per_run_frame(metrics, inputs.infos), digests)

    sort_rows_by = sort_rows_by or inputs.report_cfg.get("sort_rows_by") or "runtime_s"
    if max_rows is None:
        max_rows = inputs.report_cfg.get("max_rows")
    metric_columns = [c for c in ROW_METRICS if c in metrics.columns] + [
        c for c in metrics.columns if c not in ROW_METRICS and c != "budget" and metrics.schema[c].is_numeric()
    ]
    if metrics.height and sort_rows_by not in metric_columns:
        raise ValueError(
            f"report.sort_rows_by: {sort_rows_by!r} is not a per-row metric; choose one of {sorted(metric_columns)}"
        )

    paged = metrics
    n_rows = metrics.select("data_id", "row_id").n_unique() if metrics.height else 0
    if metrics.height:
        error_column = next((c for c in REFERENCE_ERROR_COLUMNS.values() if c in metrics.columns), None)
        named = [str(r) for r in inputs.report_cfg.get("rows") or []]
        pointed = pointed_rows(metrics, sort_rows_by, error_column, named)
        if n_rows > inputs.report_cfg.get("row_pages", 200):
            keys = pl.DataFrame(sorted(pointed), schema=["data_id", "row_id"], orient="row")
            paged = metrics.join(keys, on=["data_id", "row_id"], how="semi", maintain_order="left")
            # Run pages list the top rows only (a run page of 100k heatmaps is the size problem again);
            # the explorer has every row.
            if not max_rows or max_rows > RUN_PAGE_ROWS_AT_SCALE:
                max_rows = RUN_PAGE_ROWS_AT_SCALE
    row_pages, row_list = _row_pages(env, inputs, paged, metric_columns, out_dir, digests)
    run_pages = _run_pages(env, inputs, metrics, metric_columns, out_dir, sort_rows_by, max_rows, row_pages, digests)
    explorer = (
        _explorer(env, inputs, metrics, n_rows, metric_columns, out_dir, row_pages, digests) if metrics.height else None
    )
    index_html = env.get_template("index.html.j2").render(
        set_name=inputs.set_name,
        columns=inputs.runs.columns,
        runs=[{"page": run_page(r["run_id"]), "record": r} for r in inputs.runs.iter_rows(named=True)],
        plots=[
            {"name": name, "uri": _data_uri(path), "file": f"plots/{path.name}"} for name, path in plot_files.items()
        ],
        rows=row_list,
        n_rows=n_rows,
        explorer="explorer.html" if explorer else None,
        n_explanations=metrics.height,
        model_cost=_model_cost(inputs.runs),
        # said in words too (the plot's text is an image): how to get a run to compare with
        no_reference=None if any(i.reference for i in inputs.infos.values()) else plots.NO_REFERENCE_MESSAGE,
        root="",
    )
    index = out_dir / "index.html"
    write_text(index, index_html)
    digests.save()
    _remove_stale_pages(out_dir, {*row_pages.values(), *run_pages.values()})
    sweep = out_dir / "sweep.tsv"  # the index's table as data, for `snakemake --report` and spreadsheets
    with atomic_path(sweep) as tmp:
        inputs.runs.with_columns(
            pl.col(c).map_elements(format_number, return_dtype=pl.Utf8)
            for c, t in inputs.runs.schema.items()
            if t.is_nested()
        ).write_csv(tmp, separator="\t")
    return ReportFiles(
        index=index, plots=plot_files, run_pages=run_pages, row_pages=row_pages, sweep=sweep, explorer=explorer
    )


def _explorer(env, inputs: ReportInputs, metrics, n_rows, metric_columns, out_dir: Path, row_pages, digests) -> Path:
    """explorer.html and its data files; data files of runs no longer in the set go."""
    pages = {key: f"rows/{path.name}" for key, path in row_pages.items()}
    files = write_explorer_data(out_dir, metrics, lambda: _row_records(inputs), metric_columns, pages, digests)
    for stale in (out_dir / "explorer").glob("*.js"):
        if stale not in files.values():
            stale.unlink()
    runs = [
        {"run_id": run_id, "src": f"explorer/{explorer_slug(run_id)}.js"} for run_id in inputs.infos if run_id in files
    ]
    html = env.get_template("explorer.html.j2").render(
        set_name=inputs.set_name,
        runs=runs,
        n_rows=n_rows,
        config_hint=str(layout.config_json(inputs.set_dir)),
        gradient=DivergingScale(1.0).legend_gradient(),
        root="",
    )
    path = out_dir / "explorer.html"
    write_text(path, html)
    return path
