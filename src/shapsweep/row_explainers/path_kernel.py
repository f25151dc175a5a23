"""The path-kernel kind: each test row's value change over a recorded training run, split over the training
examples (the players), the parameter groups and the steps (`shapsweep.training.path_kernel`).

A shard's rows are explained together (the kernel runs the trace once per shard, memory ∝ parameters × the
shard's rows). Each test row's value is its game's full-input value (`TracedModel.value`):
v_empty = f(x; θ_{s0}), v_full = f(x; θ_{s1}).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator

import numpy as np

from shapsweep.data.selection import outside_selection
from shapsweep.errors import ConfigError, RowError
from shapsweep.file_schemas import PATH_KERNEL_COLUMNS, failed_row
from shapsweep.row_explainers.traced_model import TracedModel
from shapsweep.run_spec import RunSpec

COLUMNS = PATH_KERNEL_COLUMNS


def load(run: RunSpec, inputs) -> PathKernelRows:
    return PathKernelRows(run, inputs.step_block)


class PathKernelRows:
    columns = COLUMNS

    def __init__(self, run: RunSpec, step_block: int | None = None):
        import polars as pl

        self.run = run
        self.traced = TracedModel(run)
        self.trace, self.options, self.window = run["trace"], self.traced.options, self.traced.window
        blocks = self.trace.get("step_blocks")
        if (step_block is None) != (blocks is None):
            raise ConfigError(
                f"run {run['run_id']}: options.step_block and --step-block go together (blocks: {blocks})"
            )
        if step_block is not None:
            if not 0 <= step_block < len(blocks):
                raise ConfigError(f"run {run['run_id']}: no step block {step_block} (it has {len(blocks)})")
            self.window = tuple(blocks[step_block])
        self.connector, self.net = self.traced.connector, self.traced.net
        self.computes_with = self.connector
        self.kind = self.traced.kind
        rows = pl.read_parquet(self.trace["rows"])
        limit = self.trace["max_samples"]
        rows = rows.head(limit) if limit is not None else rows
        target = "label" if self.kind == "hf_classifier" else "target"
        self.training_rows = {
            str(r["row_id"]): {**r, "row_id": str(r["row_id"]), target: r[self.trace["target"]]}
            for r in rows.iter_rows(named=True)
        }

    def _example_loss(self, model, batch):
        from shapsweep.training.train import batch_losses

        return batch_losses(model, self.kind, batch)

    def _group(self):
        data = self.options["data"]
        if data == "example":
            return None
        if data not in next(iter(self.training_rows.values())):
            raise ConfigError(f"shap.options.data: the training rows have no column {data!r}")
        return lambda row: str(row[data])

    def explain(self, rows: Iterable[dict]) -> Iterator[dict]:
        from shapsweep.training.path_kernel import path_kernel

        started = time.perf_counter()
        run_id, selection = self.run["run_id"], self.run["explain"]["selection"]
        records: list[dict | None] = []
        games, todo = [], []
        for row in rows:
            row_id = str(row["row_id"])
            try:
                game = self.connector.game(row)
            except RowError as exc:
                records.append(failed_row(row_id, run_id, exc.kind, exc.message))
                continue
            skip = outside_selection(game.n_players, selection)
            if skip is not None:
                records.append(failed_row(row_id, run_id, "skipped", skip, players=list(game.players)))
                continue
            records.append(None)
            games.append(game)
            todo.append(row_id)
        if games:
            try:
                result = path_kernel(
                    self.traced.root,
                    self.net,
                    self.traced.batch_value,
                    games,
                    self._example_loss,
                    self.training_rows,
                    collate=self.traced.collate,
                    vmap=False,  # transformers models do not run under torch.func.vmap (their mask code)
                    steps=self.window,
                    midpoints=self.options["midpoints"],
                    quadrature_rule=self.options["quadrature"],
                    components=self.options["components"],
                    data_group=self._group(),
                    chunk_size=self.options["chunk_size"],
                )
            except ValueError as exc:
                raise ConfigError(f"experiments[{self.run['variant_index']}] ({self.run['slug']}).shap.{exc}") from None
            finally:  # the path kernel leaves θ_{s0} loaded; the next shard's games are built from θ_{s1}
                self.traced.at_window_end()
            per_row = (time.perf_counter() - started) / len(games)
            labels, classes = self._labels(result.groups), self._classes(result.groups)
            for k, row_id in enumerate(todo):
                split = _label_split(result.group_scores[k], classes, getattr(games[k], "target_class", None))
                records[records.index(None)] = self._record(row_id, k, result, labels, per_row, split)
        return iter(records)

    def _labels(self, groups: list) -> list[str]:
        if self.options["data"] != "example":
            return [str(g) for g in groups]
        return [str(self.training_rows[g]["text"]) for g in groups]

    def _classes(self, groups: list) -> np.ndarray | None:
        """Each training example's class index (classifier traces, players = examples), else None."""
        from shapsweep.training.train import class_index

        if self.options["data"] != "example" or self.kind != "hf_classifier":
            return None
        label2id = getattr(self.net.config, "label2id", None) or {}
        return np.array([class_index(self.training_rows[g]["label"], label2id, g) for g in groups])

    def _record(self, row_id: str, k: int, result, labels: list[str], runtime_s: float, label_split: tuple) -> dict:
        from shapsweep.estimators import normalize

        values = result.group_scores[k]
        by_component_step = result.step_totals[k]  # component × step: φ_s·Δθ_s
        details = {
            "trace_id": self.trace["trace_id"],
            "window": list(self.window),
            "midpoints": self.options["midpoints"],
            "group_ids": [str(g) for g in result.groups],
            "data_total": float(values.sum()),
        }
        return {
            "row_id": row_id,
            "run_id": self.run["run_id"],
            "players": labels,
            "attribution": values.tolist(),
            "attribution_normalized": np.asarray(
                normalize(values, self.run["explain"]["shap"]["normalizer"]), dtype=np.float64
            ).tolist(),
            "estimator_details": json.dumps(details, sort_keys=True),
            "v_empty": float(result.v_empty[k]),
            "v_full": float(result.v_full[k]),
            "n_players": len(values),
            "n_evals": len(result.steps) * self.options["midpoints"],
            "model_evals": len(result.steps) * self.options["midpoints"],
            "store_hits": 0,
            "forward_passes": len(result.steps) * (self.options["midpoints"] + 1),
            "efficiency_gap": float(result.efficiency_gap[k]),
            "runtime_s": runtime_s,
            "trace_id": self.trace["trace_id"],
            "components": list(result.components),
            "component_scores": result.component_scores[k].tolist(),
            "trace_steps": [int(s) for s in result.steps],
            "step_totals": by_component_step.sum(axis=0).tolist(),
            "component_step_scores": by_component_step.tolist(),
            "momentum_score": float(result.momentum[k].sum()),
            "weight_decay_score": float(result.weight_decay[k].sum()),
            "same_label_mean": label_split[0],
            "other_label_mean": label_split[1],
            "status": "ok",
            "error": None,
        }


def _label_split(scores: np.ndarray, classes: np.ndarray | None, target) -> tuple[float | None, float | None]:
    """The mean score of the examples labelled with the row's target class, and of the others (None where
    there are no classes or no such examples)."""
    if classes is None or target is None:
        return None, None
    same = classes == int(target)
    return tuple(float(part.mean()) if part.size else None for part in (scores[same], scores[~same]))
