"""The ablation-game kind: how much a fixed model relies on each of its components, per row.

Players are the components of the run's own model (`shap.options.components`: attention heads, attention
sublayers, MLP blocks or whole layers; `shapsweep.models.ablation`), v(S) = the row's full-input value with
every component outside S ablated (`shap.options.ablation`: zeroed, or replaced by its per-position mean over
the first `reference_rows` rows of the run's dataset selection). So v(all players) is the model's own value
and v(empty) the value with every listed component off. Estimated by any game estimator (exact by default).

It needs no trace: unlike the update game (which parameter updates moved the value during training) it asks
what the finished model's value rests on now.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import numpy as np

from shapsweep.data.selection import outside_selection
from shapsweep.errors import ConfigError, RowError
from shapsweep.file_schemas import failed_row
from shapsweep.row_explainers.model_rows import load_run_model
from shapsweep.row_explainers.row_fields import component_game_record
from shapsweep.run_spec import RunSpec
from shapsweep.store import game_key, row_digest

COLUMNS: dict = {}  # no shard column beyond the common ones: its players are the components


def load(run: RunSpec, inputs) -> AblationGameRows:
    return AblationGameRows(run, inputs.rows_path, inputs.store)


class AblationGame:
    """A `Game` over one row's components: each call evaluates up to `batch_size` coalitions per forward pass."""

    def __init__(self, ablation, connector, target, batch_size: int = 64):
        self.ablation, self.connector, self.target, self.batch_size = ablation, connector, target, batch_size
        self.players = list(ablation.players)
        self.forward_passes = 0

    @property
    def n_players(self) -> int:
        return len(self.players)

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        import torch

        from shapsweep.models.full_input_value import full_input_values

        coalitions = np.asarray(coalitions, dtype=bool)
        out = []
        with torch.no_grad(), self.ablation.hooked():
            for start in range(0, len(coalitions), self.batch_size):
                chunk = coalitions[start : start + self.batch_size]
                with self.ablation.keeping(chunk):
                    values = full_input_values(self.connector, self.connector.model, self.target, len(chunk))
                self.forward_passes += 1
                out.append(values.cpu().numpy())
        return np.concatenate(out) if out else np.empty(0)


def reference_games(connector, rows: Iterable[dict]) -> list:
    """The games of the reference rows that have one (an empty or too long row is left out)."""
    games = []
    for row in rows:
        try:
            games.append(connector.game(row))
        except RowError:
            continue
    return games


def record_reference_means(ablation, connector, games: list) -> None:
    """The components' per-position means over the reference rows' full inputs (one forward pass each)."""
    from shapsweep.models.full_input_value import full_input_values

    def forward():
        for game in games:
            full_input_values(connector, connector.model, game)

    with ablation.hooked():
        ablation.record_means(forward)


def _any_input_length(run: RunSpec) -> RunSpec:
    """The run with features.max_players lifted: a row's words are not this game's players, so no row is
    too long for it (the model's own position limit still is)."""
    features = {**run["explain"]["features"], "max_players": 2**62}
    return {**run, "explain": {**run["explain"], "features": features}}


class AblationGameRows:
    columns = COLUMNS

    def __init__(self, run: RunSpec, rows_path=None, store=None):
        from shapsweep.models.ablation import ComponentAblation

        self.run, self.store = run, store
        self.reference_digests: list[str] = []  # mean ablation: the reference rows' contents (the store key's)
        self.options = run["explain"]["shap"]["options"]
        self.label = f"experiments[{run['variant_index']}] ({run['slug']})"
        self.connector = self.computes_with = load_run_model(_any_input_length(run))
        self.connector.model.eval()
        try:
            self.ablation = ComponentAblation(
                self.connector.model, self.options["components"], self.options["ablation"]
            )
        except ValueError as exc:
            raise ConfigError(f"{self.label}.{exc}") from None
        self._check_player_count()
        if self.options["ablation"] == "mean":
            self._record_means(rows_path)

    def _check_player_count(self) -> None:
        from shapsweep.estimators.exact import DEFAULT_MAX_PLAYERS

        n = self.ablation.n_players
        if self.options["estimator"] == "exact" and n > DEFAULT_MAX_PLAYERS:
            raise ConfigError(
                f"{self.label}.shap.options.components: {self.options['components']!r} gives {n} components, over "
                f"the exact estimator's limit of {DEFAULT_MAX_PLAYERS} (2^{n} forward passes per row); use coarser "
                "components or a sampling shap.options.estimator with shap.budget"
            )

    def _record_means(self, rows_path) -> None:
        import polars as pl

        if rows_path is None:
            raise ConfigError(
                f"{self.label}.shap.options.ablation: 'mean' needs the run's rows file for its reference rows "
                "(explain it through the workflow), or use ablation 'zero'"
            )
        rows = list(pl.read_parquet(rows_path).head(self.options["reference_rows"]).iter_rows(named=True))
        self.reference_digests = [row_digest(row) for row in rows]
        games = reference_games(self.connector, rows)
        if not games:
            raise ConfigError(
                f"{self.label}.shap.options.reference_rows: none of the first {self.options['reference_rows']} rows "
                "of the selection has an input to take component means over; raise reference_rows"
            )
        record_reference_means(self.ablation, self.connector, games)
        self.n_reference_rows = len(games)

    def _store_key(self, row: dict) -> str | None:
        """The row's ablation game in the evaluation store: the row's input game plus the components, what
        replaces them and (mean ablation) the reference rows' contents; None without a store."""
        if self.store is None:
            return None
        ex = self.run["explain"]
        players = {k: self.options[k] for k in ("components", "ablation")}
        if self.options["ablation"] == "mean":
            players["reference_rows"] = self.reference_digests
        return game_key(ex["model"], ex["features"], ex["value"], row, players)

    def explain(self, rows: Iterable[dict]) -> Iterator[dict]:
        return (self._row(row) for row in rows)

    def _row(self, row: dict) -> dict:
        from shapsweep.row_explainers.game import estimate_component_game

        shap = self.run["explain"]["shap"]
        row_id, run_id = str(row["row_id"]), self.run["run_id"]
        started = time.perf_counter()
        try:
            target = self.connector.game(row)
        except RowError as exc:
            return failed_row(row_id, run_id, exc.kind, exc.message, time.perf_counter() - started)
        skip = outside_selection(target.n_players, self.run["explain"]["selection"])
        if skip is not None:
            return failed_row(row_id, run_id, "skipped", skip, time.perf_counter() - started, list(target.players))
        ablated = AblationGame(self.ablation, self.connector, target, shap["batch_size"])
        try:
            game, result, budget = estimate_component_game(ablated, self.run, row_id, self.store, self._store_key(row))
        except ValueError as exc:
            return failed_row(
                row_id, run_id, "estimator_error", str(exc), time.perf_counter() - started, ablated.players
            )
        details = {
            **result.details,
            "components": self.options["components"],
            "ablation": self.options["ablation"],
        }
        if self.options["ablation"] == "mean":
            details["reference_rows"] = self.n_reference_rows
        runtime_s = time.perf_counter() - started
        return component_game_record(
            row_id, run_id, game, result, self.run, budget, details, ablated.forward_passes, runtime_s
        )
