"""Fine-tune an empirical explainer on a target run's attributions and save it as one folder.

Schwarzenberg et al., "Efficient Explanations from Empirical Explainers" (BlackboxNLP 2021): a pretrained
encoder with a per-token regression head is trained to reproduce an expensive explainer's attribution
maps. Here the loss is the MSE between each player's pooled prediction and the target run's attribution
for it, on targets divided by one scale fitted on the training rows (their root mean square, stored), so
the learning rate means the same for normalized and raw attributions. The validation part of the
training rows picks the best epoch and stops training once `patience` epochs bring no better loss.
Seeded: the head's initialisation, dropout and the batch order come from `seed`, and deterministic
algorithms are on, so the same data, options and seed give the same explainer on a CPU.
"""

from __future__ import annotations

import json
import math
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np
import torch

from shapsweep.atomic_outputs import atomic_dir
from shapsweep.empirical.explainer import INFO_FILE, EmpiricalExplainer
from shapsweep.empirical.network import HEAD_FILE, TokenRegressor, encode_batch, pool_players, prepare_tokenizer
from shapsweep.empirical.options import DEFAULT_ENCODER, validate_training_options
from shapsweep.empirical.training_data import SCALE_COLUMNS, Example, TrainingData

__all__ = ["TrainingData", "resolve_encoder", "train_explainer"]

LOG_FILE = "training_log.jsonl"
METRICS_FILE = "metrics.json"
GRADIENT_CLIP = 1.0  # the usual BERT fine-tuning clip: one large-target batch cannot wreck the encoder
EVAL_BATCH_SIZE = 64


def resolve_encoder(encoder: str | None) -> str:
    """The folder (or hub id) to fine-tune: `encoder`, or the shipped all-MiniLM-L6-v2 when None."""
    from shapsweep.models.locate import locate_model

    return locate_model(encoder or DEFAULT_ENCODER, field="shap.options.encoder").path


def fit_target_scale(examples: list[Example]) -> float:
    """Root mean square of every training player's target (1.0 when they are all zero)."""
    values = np.concatenate([e.targets for e in examples]) if examples else np.zeros(0)
    rms = float(np.sqrt(np.mean(values**2))) if values.size else 0.0
    return rms if rms > 0 and math.isfinite(rms) else 1.0


def _spearman(predicted: np.ndarray, target: np.ndarray) -> float | None:
    """Rank correlation of one row's players; None when it is undefined (under 2 players or a constant)."""
    from scipy.stats import spearmanr

    if len(target) < 2 or np.ptp(target) == 0 or np.ptp(predicted) == 0:
        return None
    return float(spearmanr(predicted, target).statistic)


def evaluate(explainer: EmpiricalExplainer, examples: list[Example]) -> dict:
    """Loss (MSE in the training scale), MSE in the target's scale and mean per-row Spearman over `examples`."""
    if not examples:
        return {"loss": None, "mse": None, "spearman_mean": None, "spearman_rows": 0}
    scaled = explainer.predict_scaled([e.text for e in examples], [e.spans for e in examples], EVAL_BATCH_SIZE)
    factor = explainer.target_scale
    loss_terms, mse_terms, rhos = [], [], []
    for example, prediction in zip(examples, scaled, strict=True):
        p = prediction.numpy().astype(np.float64)
        loss_terms.append((p - example.targets / factor) ** 2)
        mse_terms.append((p * factor - example.targets) ** 2)
        rho = _spearman(p, example.targets)
        if rho is not None:
            rhos.append(rho)
    return {
        "loss": float(np.mean(np.concatenate(loss_terms))),
        "mse": float(np.mean(np.concatenate(mse_terms))),
        "spearman_mean": float(np.mean(rhos)) if rhos else None,
        "spearman_rows": len(rhos),
    }


@contextmanager
def _seeded_and_deterministic(seed: int, device: torch.device):
    """Seed torch's generators and switch on deterministic algorithms; put both back afterwards."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        # On CUDA a few kernels have no deterministic version: warn there instead of failing the job.
        torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)


def _train_epoch(network, tokenizer, optimizer, examples, order, options, factor, device) -> float | None:
    """One pass over `examples` in `order`; returns the mean training loss per player (None: no player had tokens)."""
    network.train()
    total, count = 0.0, 0
    for start in range(0, len(order), options["batch_size"]):
        chosen = [examples[i] for i in order[start : start + options["batch_size"]]]
        batch = encode_batch(
            tokenizer,
            [e.text for e in chosen],
            [e.spans for e in chosen],
            max_length=options["max_length"],
            pooling=options["pooling"],
        ).to(device)
        predicted = torch.cat(pool_players(network(**batch.inputs), batch.pools))
        target = torch.from_numpy(np.concatenate([e.targets for e in chosen]) / factor).float().to(device)
        has_tokens = torch.cat([pool.sum(dim=1) > 0 for pool in batch.pools])
        n = int(has_tokens.sum())
        if n == 0:  # every player of the batch was truncated away: nothing to learn from it
            continue
        loss = torch.nn.functional.mse_loss(predicted[has_tokens], target[has_tokens])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), GRADIENT_CLIP)
        optimizer.step()
        total += float(loss.detach()) * n
        count += n
    return total / count if count else None


def train_explainer(
    data: TrainingData,
    out_dir: Path,
    *,
    encoder: str | None = None,
    epochs: int = 20,
    learning_rate: float = 5e-5,
    batch_size: int = 16,
    patience: int = 3,
    max_length: int = 128,
    pooling: str = "mean",
    seed: int = 0,
    log: TextIO = sys.stderr,
    target: dict | None = None,
    device: str = "auto",
) -> dict:
    """Fine-tune `encoder` + a per-token head on `data.train`, stop early on `data.validation`, save to `out_dir`.

    `out_dir` appears only when complete (built in a sibling temp folder, then renamed): the encoder and
    tokenizer (`save_pretrained`), `head.safetensors`, `explainer.json` (options, target scale, pooling,
    `target` as given plus the shard rows' run ids), `training_log.jsonl` (one line per epoch) and
    `metrics.json`, which is also returned. `log` gets one line per epoch. `device`: auto | cpu | cuda.
    Raises ValueError for bad options (naming `shap.options.<key>`) or no training rows.
    """
    from safetensors.torch import save_file
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from shapsweep.models.device import resolve_device
    from shapsweep.version import __version__

    transformers_logging.disable_progress_bar()  # the log is read by people (one line per epoch), not terminals
    started = time.perf_counter()
    options = validate_training_options(
        {
            "scale": data.scale,
            "train_fraction": data.train_fraction,
            "validation_fraction": data.validation_fraction,
            "encoder": encoder,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "patience": patience,
            "max_length": max_length,
            "pooling": pooling,
            "seed": seed,
        }
    )
    if not data.train:
        raise ValueError(
            f"shap.options.train_fraction: no training rows among the target's {sum(data.rows_per_role.values())} "
            "explained rows; explain more rows or raise train_fraction"
        )
    torch_device = resolve_device(device)
    encoder_path = resolve_encoder(encoder)
    factor = fit_target_scale(data.train)
    info = {
        "method": "empirical",
        "format": 1,
        "options": options,
        "encoder": {"option": encoder, "path_or_id": encoder_path},
        "pooling": options["pooling"],
        "max_length": options["max_length"],
        "target_scale": {
            "scale": data.scale,
            "column": SCALE_COLUMNS[data.scale],
            "factor": factor,
            "fitted_on": "root mean square of the training rows' player targets",
        },
        "target": {**(target or {}), "shard_runs": list(data.target_runs)},
        "split": {
            "train_fraction": data.train_fraction,
            "validation_fraction": data.validation_fraction,
            "by": "sha256 of row_id (shapsweep.empirical.split)",
        },
        "shapsweep_version": __version__,
    }
    with atomic_dir(out_dir) as folder, _seeded_and_deterministic(options["seed"], torch_device):
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(encoder_path), encoder or DEFAULT_ENCODER)
        network = TokenRegressor(AutoModel.from_pretrained(encoder_path, dtype=torch.float32)).to(torch_device)
        info["encoder"]["model_type"] = network.encoder.config.model_type
        explainer = EmpiricalExplainer(network, tokenizer, info, torch_device)
        loaded = time.perf_counter()
        optimizer = torch.optim.AdamW(network.parameters(), lr=options["learning_rate"])
        order_generator = torch.Generator().manual_seed(options["seed"])
        initial = evaluate(explainer, data.validation)
        # The untrained head is no candidate: epoch 1 is the first best, whatever the initial loss was.
        best = {"epoch": 0, "loss": None, "state": None}
        history, waited = [], 0
        with open(folder / LOG_FILE, "w") as log_file:
            for epoch in range(1, options["epochs"] + 1):
                epoch_start = time.perf_counter()
                order = torch.randperm(len(data.train), generator=order_generator).tolist()
                train_loss = _train_epoch(
                    network, tokenizer, optimizer, data.train, order, options, factor, torch_device
                )
                val = evaluate(explainer, data.validation)
                line = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val["loss"],
                    "val_mse": val["mse"],
                    "val_spearman_mean": val["spearman_mean"],
                    "seconds": time.perf_counter() - epoch_start,
                }
                history.append(line)
                log_file.write(json.dumps(line) + "\n")
                log_file.flush()
                print(_epoch_line(line), file=log, flush=True)
                # Without validation rows every epoch counts as the best: the last one is kept.
                if val["loss"] is None or best["loss"] is None or val["loss"] < best["loss"]:
                    best = {"epoch": epoch, "loss": val["loss"], "state": _copy_state(network)}
                    waited = 0
                else:
                    waited += 1
                    if waited >= options["patience"]:
                        break
        if best["state"] is not None:
            network.load_state_dict(best["state"])
        trained = time.perf_counter()
        explainer.players_without_tokens = 0
        final_val = evaluate(explainer, data.validation)
        held_out = evaluate(explainer, data.held_out)
        network.encoder.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        save_file({k: v.detach().cpu().contiguous() for k, v in network.head.state_dict().items()}, folder / HEAD_FILE)
        (folder / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        metrics = {
            "best_epoch": best["epoch"],
            "epochs_run": len(history),
            "stopped_early": len(history) < options["epochs"],
            "initial_val_loss": initial["loss"],
            "val_loss": final_val["loss"],
            "val_mse": final_val["mse"],
            "val_spearman_mean": final_val["spearman_mean"],
            "held_out_mse": held_out["mse"],
            "held_out_spearman_mean": held_out["spearman_mean"],
            "rows": data.rows_per_role,
            "rows_skipped": data.skipped,
            "players": {
                "train": int(sum(len(e.spans) for e in data.train)),
                "validation": int(sum(len(e.spans) for e in data.validation)),
                "held_out": int(sum(len(e.spans) for e in data.held_out)),
            },
            # validation and held-out players none of whose characters reached a token (predicted 0)
            "eval_players_without_tokens": explainer.players_without_tokens,
            "target_scale": factor,
            "device": str(torch_device),
            "seconds": {
                "load": loaded - started,
                "train": trained - loaded,
                "total": time.perf_counter() - started,
            },
        }
        (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metrics


def _copy_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _epoch_line(line: dict) -> str:
    return (
        f"epoch {line['epoch']}: train loss {_fmt(line['train_loss'])}, val loss {_fmt(line['val_loss'])}, "
        f"val spearman {_fmt(line['val_spearman_mean'])}, {line['seconds']:.1f}s"
    )
