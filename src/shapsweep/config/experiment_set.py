"""An experiment set: the validated config and its concrete runs (slug, run id, explain spec).

Run id = `<slug>-<hash>`; the hash covers everything that changes a shard's numbers: model,
features, value, shap, shard_size and the data id (dataset identity + selection without
max_samples). Resources, tracking, evaluation, report and compare options are not hashed.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from shapsweep.config.methods import resolve_targets
from shapsweep.config.render import render
from shapsweep.config.schema import block_schema, fill_defaults, validate
from shapsweep.config.sweep import deep_merge, expand_node
from shapsweep.config.training import bind_trace
from shapsweep.errors import ConfigError
from shapsweep.hashing import readable, short_hash
from shapsweep.run_spec import RunSpec

RUN_BLOCKS = ("model", "dataset", "selection", "features", "value", "shap", "resources")
HASHED_BLOCKS = ("model", "features", "value", "shap")
_VALID_BLOCKS: set[tuple[str, str]] = set()
# model/features/value contents -> the model layer's resolved blocks (sweeps repeat them verbatim).
_RESOLVED_MODEL_BLOCKS: dict[str, tuple[dict, dict, dict]] = {}


def point_label(index: int, name: str, params: dict) -> str:
    """How errors name one point of a variant's sweep: `experiments[1] (kernel, shap.budget=64)`."""
    swept = ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in params.items())
    return f"experiments[{index}] ({name}" + (f", {swept}" if swept else "") + ")"


def _slug(name: str, params: dict) -> str:
    parts = [readable(name, 32)]
    for dotted, value in params.items():
        text = json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
        parts.append(f"{readable(dotted.rsplit('.', 1)[-1], 16)}-{readable(text)}")
    return "_".join(parts)[:96]


@dataclass
class ExperimentSet:
    config: dict  # validated, defaults filled; what results/<set>/config.json holds
    runs: dict[str, RunSpec]  # run_id -> run spec (in config order)
    duplicates: list[str] = field(default_factory=list)  # "variant X point Y is the same run as ..."

    @property
    def set_dir(self) -> Path:
        return Path(self.config["output_root"]) / self.config["experiment_set_id"]

    def run(self, run_id: str) -> RunSpec:
        try:
            return self.runs[run_id]
        except KeyError:
            raise ConfigError(
                f"run {run_id!r} is not in experiment set {self.config['experiment_set_id']!r} "
                f"(runs: {', '.join(self.runs) or 'none'})"
            ) from None

    @cached_property
    def training(self) -> dict | None:
        """The set's trace spec (config.training.training_spec); None when the set trains nothing."""
        from shapsweep.config.training import training_spec

        return training_spec(self.config)

    def shard_plan(self, run_id: str):
        """Rows and shards of a run, known before any job runs (see data.shards); cached per run."""
        from shapsweep.data.shards import count_selected_rows, plan_shards

        if run_id not in self._plans:
            run = self.run(run_id)
            ex = run["explain"]
            key = (run["data_id"], ex["selection"]["max_samples"])
            if key not in self._row_counts:
                _check_local_columns(ex["dataset"])
                self._row_counts[key] = count_selected_rows(ex["dataset"], ex["selection"])
            self._plans[run_id] = plan_shards(self._row_counts[key], run["shard_size"])
        return self._plans[run_id]

    @cached_property
    def _row_counts(self) -> dict[tuple, int]:
        return {}

    @cached_property
    def _plans(self) -> dict:
        return {}

    def data_selection(self, data_id: str) -> tuple[dict, dict]:
        """(dataset, selection) of rows.parquet for `data_id`: the whole selection, without max_samples
        (the row order does not depend on it; each run explains its first max_samples rows)."""
        runs = [r for r in self.runs.values() if r["data_id"] == data_id]
        training = self.training
        if not runs and training is not None and training.get("data_id") == data_id:
            return training["dataset"], {**training["selection"], "max_samples": None}
        if not runs:
            raise ConfigError(
                f"data id {data_id!r}: no run of experiment set {self.config['experiment_set_id']!r} reads it"
            )
        ex = runs[0]["explain"]
        return ex["dataset"], {**ex["selection"], "max_samples": None}

    @cached_property
    def references(self) -> dict[str, str | None]:
        """run_id -> the reference run it is compared against (same data, model, features, value, and
        estimand: a Banzhaf run is never scored against Shapley values, nor the other way round)."""
        out: dict[str, str | None] = {}
        refs = [r for r in self.runs.values() if r["reference"]]
        for run_id, run in self.runs.items():
            match = None
            # a path_kernel run's component scores are scored against an update_game run's (compare.row_errors);
            # its other players are training examples, which no other run has
            shap = run["explain"]["shap"]
            refs_here = [
                r
                for r in refs
                if _comparable(r["explain"]["shap"]["method"], shap["method"])
                and _estimand(r["explain"]["shap"]) == _estimand(shap)
            ]
            for ref in refs_here:
                if (
                    ref["run_id"] != run_id
                    and ref["data_id"] == run["data_id"]
                    and all(ref["explain"][b] == run["explain"][b] for b in ("model", "features", "value"))
                ):
                    match = ref["run_id"]
                    break
            out[run_id] = match
        return out


def _estimand(shap: dict) -> str:
    """What a run's attributions are: its shap.index, else its estimator's own ('banzhaf' for mc and msr);
    integrated gradients, empirical explainers and the path kernel approximate Shapley values."""
    from shapsweep.config.blocks import game_estimator
    from shapsweep.estimators import METHODS

    if shap.get("index"):
        return shap["index"]
    method = game_estimator(shap)
    return "shapley" if method is None else METHODS[method].indices[0]


def _comparable(reference_method: str, method: str) -> bool:
    """Whether a run of `method` is scored against a reference of `reference_method` (trace methods apart,
    ablation games apart: their players are components, which only another ablation game has)."""
    if "ablation_game" in (method, reference_method):
        return method == reference_method
    trace_methods = ("path_kernel", "update_game")
    if method in trace_methods or reference_method in trace_methods:
        return reference_method == "update_game" and method in trace_methods
    return True


def _check_local_columns(dataset: dict) -> None:
    """Fail before any job when a mapped column is missing from a local file (hub: `validate --check-dataset`)."""
    if dataset["source"] == "hub":
        return
    from shapsweep.data.load import check_columns
    from shapsweep.data.local_files import peek_columns, resolve_data_files

    columns = peek_columns(dataset["source"], resolve_data_files(dataset))
    if columns is not None:
        check_columns(columns, dataset)


def _check_estimator(run: dict, label: str) -> None:
    """Catch what would fail every row, before any job starts: unknown method or option, exact's limit."""
    from shapsweep.config import methods
    from shapsweep.config.blocks import (
        ABLATION_GAME,
        COMPONENT_GAMES,
        INTEGRATED_GRADIENTS,
        MODEL_METHODS,
        TRACE_METHODS,
    )
    from shapsweep.estimators import METHODS, methods_for

    shap = run["shap"]
    method = shap["method"]
    if method in COMPONENT_GAMES:  # its options first (they name the estimator), then the estimator's settings
        if method == ABLATION_GAME:
            methods.check_ablation_game(run, label)
        else:
            methods.check_trace_method(run, label)
        _check_game_estimator(run, label, shap["options"]["estimator"], "shap.options.estimator")
        return
    if method in MODEL_METHODS:
        if shap.get("target_stderr") is not None:
            raise ConfigError(f"{label}.shap.target_stderr: method {method!r} does not sample; remove it")
        if shap.get("interactions"):
            raise ConfigError(
                f"{label}.shap.interactions: method {method!r} evaluates no coalitions to read interactions from; "
                "remove it, or use a game estimator (e.g. regression_adjusted)"
            )
        if shap.get("index") == "banzhaf":
            raise ConfigError(
                f"{label}.shap.index: method {method!r} (shap.method) gives no Banzhaf values; "
                f"for shap.index 'banzhaf' set shap.method to one of {', '.join(methods_for('banzhaf'))}"
            )
        if method == INTEGRATED_GRADIENTS:
            methods.check_integrated_gradients(run, label)
        elif method in TRACE_METHODS:
            methods.check_trace_method(run, label)
        else:
            methods.check_empirical(run, label)
        return
    if method not in METHODS:
        known = ", ".join(sorted([*METHODS, *MODEL_METHODS]))
        raise ConfigError(f"{label}.shap.method: unknown method {method!r} (known: {known})")
    unknown = sorted(set(shap["options"]) - set(METHODS[method].options))
    if unknown:
        raise ConfigError(
            f"{label}.shap.options.{unknown[0]}: not an option of {method!r} "
            f"(its options: {', '.join(METHODS[method].options) or 'none'})"
        )
    _check_game_estimator(run, label, method, "shap.method")
    if method == "exact":  # a component game checks its player count once its model is loaded
        from shapsweep.estimators.exact import DEFAULT_MAX_PLAYERS
        from shapsweep.models.config import fixed_player_count

        limit = shap["options"].get("max_players", DEFAULT_MAX_PLAYERS)
        fixed = fixed_player_count(run["features"])  # a grid fixes every row's players: max_players is moot
        players = run["features"]["max_players"] if fixed is None else fixed
        if players > limit:
            field, fix = (
                ("features.max_players", "lower features.max_players (longer rows get status too_many_players)")
                if fixed is None
                else ("features.image.grid", "use a coarser features.image.grid")
            )
            raise ConfigError(
                f"{label}.{field}: {players} players is over the exact method's limit of {limit} "
                f"(2^{players} coalitions per row); {fix} or use a sampling method"
            )


def _check_game_estimator(run: dict, label: str, method: str, field: str) -> None:
    """A game estimator's settings: its index, one budget knob (none for exact and random), target_stderr only
    for a method that samples in rounds. `field` is where the method was named."""
    from shapsweep.estimators import BUDGET_KNOBS, METHODS, methods_for

    shap = run["shap"]
    index = shap.get("index")
    if index is not None and index not in METHODS[method].indices:
        raise ConfigError(
            f"{label}.shap.index: method {method!r} ({field}) estimates {' / '.join(METHODS[method].indices)} "
            f"values, not {index}; for shap.index {index!r} set {field} to one of {', '.join(methods_for(index))}"
        )
    knobs = [k for k in BUDGET_KNOBS if shap.get(k) is not None]
    if len(knobs) > 1:
        raise ConfigError(f"{label}.shap: give one budget knob, got {', '.join(knobs)}")
    if shap.get("target_stderr") is not None and not METHODS[method].rounds:
        rounds = ", ".join(m for m, spec in METHODS.items() if spec.rounds)
        raise ConfigError(
            f"{label}.shap.target_stderr: method {method!r} ({field}) does not sample in rounds (these do: {rounds})"
        )
    if not knobs and method not in ("exact", "random"):
        raise ConfigError(
            f"{label}.shap.budget: required for method {method!r} ({field}) (or num_samples, fraction, linear)"
        )


def _resolve_model_blocks(merged: dict, label: str, top: dict) -> None:
    """Replace model/features/value by the model layer's resolved blocks (its defaults filled, its own
    checks passed; pure, no torch): errors surface at parse time, and the run spec (hash, config.json,
    exports, W&B) records exactly what the explain job will use."""
    from shapsweep.models.config import resolve_configs

    key = json.dumps([merged["model"], merged["features"], merged["value"]], sort_keys=True)
    if key not in _RESOLVED_MODEL_BLOCKS:
        try:
            _RESOLVED_MODEL_BLOCKS[key] = resolve_configs(merged["model"], merged["features"], merged["value"])
        except ValueError as exc:
            raise ConfigError(_where_written(exc, label, top)) from None
    merged["model"], merged["features"], merged["value"] = copy.deepcopy(_RESOLVED_MODEL_BLOCKS[key])


def _where_written(exc: ValueError, label: str, top: dict) -> str:
    """Name the block the user wrote: a problem the top-level blocks already have is theirs, not a variant's."""
    from shapsweep.models.config import resolve_configs

    try:
        resolve_configs(top.get("model"), top.get("features"), top.get("value"))
    except ValueError as top_exc:
        if str(top_exc) == str(exc):
            return str(exc)
    return f"{label}.{exc}"


def _run_spec(cfg: dict, variant: dict, index: int, overrides: dict, params: dict) -> RunSpec:
    blocks = {b: cfg.get(b, {}) for b in RUN_BLOCKS}
    blocks["shard_size"] = cfg["shard_size"]
    merged = deep_merge(blocks, overrides)
    merged = fill_defaults(merged, {"properties": {**{b: {"$ref": f"#/$defs/{b}", "default": {}} for b in RUN_BLOCKS}}})
    label = point_label(index, variant["name"], params)
    for b in RUN_BLOCKS:
        key = (b, json.dumps(merged[b], sort_keys=True))
        if key not in _VALID_BLOCKS:  # sweeps repeat most blocks verbatim: validate each content once
            validate(merged[b], block_schema(b), prefix=f"{label}.{b}")
            _VALID_BLOCKS.add(key)
    validate(merged["shard_size"], {"type": "integer", "minimum": 1}, prefix=f"{label}.shard_size")
    _resolve_model_blocks(merged, label, cfg)

    _check_estimator(merged, label)
    from shapsweep.data.identity import data_id as make_data_id

    d_id = make_data_id(merged["dataset"], merged["selection"])
    explain = {b: merged[b] for b in HASHED_BLOCKS}
    hashed = {**explain, "data_id": d_id, "shard_size": merged["shard_size"]}
    slug = _slug(variant["name"], params)
    digest = short_hash(hashed, 8)
    return {
        "hash": digest,
        "hashed": hashed,  # exactly what the hash covers (runs/<run>/spec.json shows it)
        "run_id": f"{slug}-{digest}",
        "slug": slug,
        "variant": variant["name"],
        "variant_index": index,
        "reference": bool(variant.get("reference", False)),
        "params": params,
        "data_id": d_id,
        "shard_size": merged["shard_size"],
        "explain": {**explain, "dataset": merged["dataset"], "selection": merged["selection"]},
        "resources": merged["resources"],
    }


def from_config(raw: dict, source: str = "config") -> ExperimentSet:
    """Validate a rendered config (fill defaults) and expand its sweep into runs."""
    validate(raw)
    cfg = fill_defaults(raw)
    runs: dict[str, dict] = {}
    duplicates: list[str] = []
    by_hash: dict[str, tuple[str, str]] = {}  # explain-spec hash -> (run id, where it came from)
    for index, variant in enumerate(cfg["experiments"]):
        for overrides, params in expand_node(variant, f"experiments[{index}]"):
            spec = _run_spec(cfg, variant, index, overrides, params)
            here = point_label(index, variant["name"], params)
            if spec["hash"] in by_hash:
                first_id, first_where = by_hash[spec["hash"]]
                duplicates.append(f"{here} is the same run as {first_where}: run once as {first_id}")
                runs[first_id]["reference"] |= spec["reference"]
                continue
            runs[spec["run_id"]] = spec
            by_hash[spec["hash"]] = (spec["run_id"], here)
    runs = resolve_targets(runs, lambda run: point_label(run["variant_index"], run["variant"], run["params"]))
    exp = ExperimentSet(cfg, runs, duplicates)
    exp.runs = bind_trace(
        runs, exp.training, cfg, lambda run: point_label(run["variant_index"], run["variant"], run["params"])
    )
    return exp


def load_experiment_set(
    path: str | Path, ext_vars: dict[str, Any] | None = None, overrides: dict | None = None, warn=True
) -> ExperimentSet:
    """Render Jsonnet (or read JSON), apply `--config` overrides (they win), validate, expand."""
    path = Path(path)
    raw = json.loads(path.read_text()) if path.suffix == ".json" else render(path, ext_vars)
    if overrides:
        raw = deep_merge(raw, overrides)
    exp = from_config(raw, str(path))
    if warn:
        for line in exp.duplicates:
            print(f"shapsweep: duplicate run: {line}", file=sys.stderr)
    return exp


__all__ = ["ExperimentSet", "from_config", "load_experiment_set"]
