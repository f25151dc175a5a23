"""The update-game kind: each test row's value change over trace steps [s0, s1) split over parameter groups
by Shapley values of the update game (`shapsweep.training.update_game`): players are the components,
v(S) = the value with only S's recorded updates applied, estimated by any game estimator (exact by default).

On one step it is the reference of the path kernel's component scores (`compare` scores a path_kernel run's
`component_scores` against it); over many steps the two differ by the training path's dependence.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from shapsweep.data.selection import outside_selection
from shapsweep.errors import RowError
from shapsweep.file_schemas import failed_row
from shapsweep.row_explainers.row_fields import component_game_record
from shapsweep.row_explainers.traced_model import TracedModel
from shapsweep.run_spec import RunSpec
from shapsweep.store import game_key

COLUMNS: dict = {}  # no shard column beyond the common ones: its players are the components


def load(run: RunSpec, inputs) -> UpdateGameRows:
    return UpdateGameRows(run, inputs.store)


class UpdateGameRows:
    columns = COLUMNS

    def __init__(self, run: RunSpec, store=None):
        from shapsweep.training.update_game import UpdateWindow

        self.run, self.store = run, store
        self.traced = TracedModel(run)
        self.computes_with = self.traced.connector
        # the window's θ_{s0} and Δθ, read from the trace once for every row
        self.window = UpdateWindow(
            self.traced.root, self.traced.net, steps=self.traced.window, components=self.traced.options["components"]
        )

    def _store_key(self, row: dict) -> str | None:
        """The row's update game in the evaluation store: the row's input game plus the trace, the window and
        the components; None without a store."""
        if self.store is None:
            return None
        ex = self.run["explain"]
        players = {
            "trace": self.run["trace"]["trace_id"],
            "window": list(self.traced.window),
            "components": self.traced.options["components"],
        }
        return game_key(ex["model"], ex["features"], ex["value"], row, players)

    def explain(self, rows: Iterable[dict]) -> Iterator[dict]:
        return (self._row(row) for row in rows)

    def _row(self, row: dict) -> dict:
        from shapsweep.row_explainers.game import estimate_component_game
        from shapsweep.training.update_game import UpdateGame

        row_id, run_id = str(row["row_id"]), self.run["run_id"]
        started = time.perf_counter()
        try:
            target = self.traced.connector.game(row)
        except RowError as exc:
            return failed_row(row_id, run_id, exc.kind, exc.message, time.perf_counter() - started)
        skip = outside_selection(target.n_players, self.run["explain"]["selection"])
        if skip is not None:
            return failed_row(row_id, run_id, "skipped", skip, time.perf_counter() - started, list(target.players))
        batch_size = self.run["explain"]["shap"]["batch_size"]
        updates = UpdateGame(
            self.window, self.traced.batch_value, target, collate=self.traced.collate, batch_size=batch_size
        )
        try:
            game, result, budget = estimate_component_game(updates, self.run, row_id, self.store, self._store_key(row))
        except ValueError as exc:
            return failed_row(
                row_id, run_id, "estimator_error", str(exc), time.perf_counter() - started, updates.players
            )
        details = {
            **result.details,
            "trace_id": self.run["trace"]["trace_id"],
            "window": list(self.traced.window),
            "stacked_coalitions": updates.stacked,  # False: the model took one forward a coalition
        }
        runtime_s = time.perf_counter() - started
        return component_game_record(
            row_id, run_id, game, result, self.run, budget, details, updates.forward_passes, runtime_s
        )
