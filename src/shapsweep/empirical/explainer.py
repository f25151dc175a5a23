"""A trained empirical explainer, loaded from its folder, predicting players' attributions in one pass.

The folder is what `training.train_explainer` writes: the fine-tuned encoder and its tokenizer
(`save_pretrained`), the head's weights (`head.safetensors`) and `explainer.json` (options, target scale,
pooling, target run). `predict` costs one batched encoder call per `batch_size` rows, whatever the number
of players, which is the point of an empirical explainer (Schwarzenberg et al., 2021).

The same rows in the same order and batch size give bitwise the same values. A row batched with other
rows can differ from the same row alone in the last float32 bits (BLAS blocking depends on the batch's
shape), so a caller that must reproduce numbers keeps the order and the batch size fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from shapsweep.empirical.network import HEAD_FILE, TokenRegressor, encode_batch, pool_players

INFO_FILE = "explainer.json"


class EmpiricalExplainer:
    """`network` + `tokenizer` + `info` (explainer.json); `forward_passes` counts encoder calls of `predict`."""

    def __init__(self, network: TokenRegressor, tokenizer, info: dict, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.network = network.to(self.device)
        self.tokenizer = tokenizer
        self.info = info
        self.forward_passes = 0
        self.players_without_tokens = 0

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> EmpiricalExplainer:
        """Load a folder written by `train_explainer`; `device`: cpu | cuda | auto."""
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        from shapsweep.models.device import resolve_device

        folder = Path(folder)
        info_path = folder / INFO_FILE
        if not info_path.is_file():
            raise ValueError(f"{folder} is not an empirical explainer folder (no {INFO_FILE}); train one first")
        info = json.loads(info_path.read_text())
        encoder = AutoModel.from_pretrained(folder, dtype=torch.float32)
        network = TokenRegressor(encoder)
        network.head.load_state_dict(load_file(folder / HEAD_FILE))
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(network.eval(), tokenizer, info, resolve_device(device))

    @property
    def target_scale(self) -> float:
        """Targets were divided by this before training; predictions are multiplied back by it."""
        return float(self.info["target_scale"]["factor"])

    def predict_scaled(self, texts: list[str], spans: list, batch_size: int = 64) -> list[torch.Tensor]:
        """Per row, its players' predictions in the standardised (training) scale, as CPU float32 tensors."""
        if len(texts) != len(spans):
            raise ValueError(f"predict: {len(texts)} texts but {len(spans)} span lists")
        if batch_size < 1:
            raise ValueError(f"predict: batch_size must be >= 1, got {batch_size}")
        max_length, pooling = int(self.info["max_length"]), self.info["pooling"]
        self.network.eval()
        # Rows of similar length share a batch, so little of each pass is padding; results go back in order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[torch.Tensor | None] = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = encode_batch(
                    self.tokenizer,
                    [texts[i] for i in chosen],
                    [_checked_spans(spans[i]) for i in chosen],
                    max_length=max_length,
                    pooling=pooling,
                ).to(self.device)
                predictions = self.network(**batch.inputs)
                self.forward_passes += 1
                self.players_without_tokens += batch.players_without_tokens
                for i, p in zip(chosen, pool_players(predictions, batch.pools), strict=True):
                    out[i] = p.float().cpu()
        return out

    def predict(self, texts: list[str], spans: list, batch_size: int = 64) -> list[np.ndarray]:
        """Per row, one float64 attribution per player (`spans[i][j]` = [start, end) of row i's player j),
        in the target run's scale (normalized or raw, as trained)."""
        factor = self.target_scale
        return [p.numpy().astype(np.float64) * factor for p in self.predict_scaled(texts, spans, batch_size)]


def _checked_spans(spans) -> list[tuple[int, int]]:
    checked = []
    for span in spans:
        if span is None or len(span) != 2:
            raise ValueError(f"predict: every player needs a [start, end) text span, got {span!r}")
        checked.append((int(span[0]), int(span[1])))
    return checked
