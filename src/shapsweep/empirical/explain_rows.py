"""Shard rows of an empirical run: a trained explainer predicts every row's attributions in batched passes.

The target model is never loaded: players come from the row's text and the `features` block (the same
split every connector makes), and the explainer (`EmpiricalExplainer`) predicts one value per player.
Each row records whether it was one of the explainer's training rows (`in_train`, by the split of
`shapsweep.empirical.split`), so every comparison can keep to held-out rows.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from shapsweep.data.selection import outside_selection
from shapsweep.errors import RowError
from shapsweep.features.tokenized import row_players, row_text
from shapsweep.file_schemas import failed_row
from shapsweep.run_spec import RunSpec


class EmpiricalRows:
    """Explains the rows of one empirical run with the explainer trained on its target."""

    def __init__(self, run: RunSpec, explainer_dir: str | Path):
        from shapsweep.empirical.explainer import EmpiricalExplainer
        from shapsweep.models.device import resolve_device

        self.run = run
        device = resolve_device(run["explain"]["model"].get("device", "auto"))  # where the target would run
        self.explainer = EmpiricalExplainer.from_pretrained(Path(explainer_dir), device=str(device))

    def in_train(self, row_id: str) -> bool:
        """A training (or early-stopping) row of the explainer: the target's data and not held out."""
        from shapsweep.empirical.split import split_role

        empirical, options = self.run["empirical"], self.run["explain"]["shap"]["options"]
        if self.run["data_id"] != empirical["target_data_id"]:
            return False
        return split_role(row_id, options["train_fraction"], options["validation_fraction"]) != "held_out"

    def explain(self, rows: list[dict]) -> list[dict]:
        """Shard records (SHARD_SCHEMA) of `rows`, in order; one bad row never stops the others."""
        from shapsweep.estimators import normalize

        ex = self.run["explain"]
        features, shap, selection = ex["features"], ex["shap"], ex["selection"]
        run_id = self.run["run_id"]
        records: list[dict | None] = []
        todo: list[tuple[int, str, list]] = []  # (index, text, players) of rows the explainer predicts
        for i, row in enumerate(rows):
            row_id = str(row["row_id"])
            try:
                text = row_text(row)
                players = row_players(text, features, spans=row.get("spans"))
            except RowError as exc:
                records.append(failed_row(row_id, run_id, exc.kind, exc.message))
                continue
            reason = outside_selection(len(players), selection)
            if reason is not None:
                records.append(failed_row(row_id, run_id, "skipped", reason, players=[p.text for p in players]))
                continue
            records.append(None)
            todo.append((i, text, players))
        started = time.perf_counter()
        passes_before = self.explainer.forward_passes
        predictions = self.explainer.predict(
            [text for _, text, _ in todo],
            [[(p.start, p.end) for p in players] for _, _, players in todo],
            batch_size=shap["batch_size"],
        )
        per_row = (time.perf_counter() - started) / max(len(todo), 1)
        passes = self.explainer.forward_passes - passes_before
        details = {
            "explainer_id": self.run["empirical"]["explainer_id"],
            "target_run": self.run["empirical"]["target_run"],
            "explainer_forward_passes": passes,
            "rows_per_pass": len(todo) / passes if passes else None,
        }
        for (i, _, players), values in zip(todo, predictions, strict=True):
            row_id = str(rows[i]["row_id"])
            values = np.asarray(values, dtype=np.float64)
            records[i] = {
                "row_id": row_id,
                "run_id": run_id,
                "players": [p.text for p in players],
                "player_spans": [[p.start, p.end] for p in players],
                "attribution": values.tolist(),
                "attribution_normalized": np.asarray(normalize(values, shap["normalizer"]), dtype=np.float64).tolist(),
                "estimator_details": json.dumps(details, sort_keys=True),
                "n_players": len(players),
                "n_evals": 0,  # no coalition of the target model is evaluated
                "model_evals": 0,
                "store_hits": 0,
                "forward_passes": 1,  # the row's share of the explainer's batched passes
                "runtime_s": per_row,
                "in_train": self.in_train(row_id),
                "status": "ok",
                "error": None,
            }
        return records
