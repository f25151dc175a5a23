"""`hf_classifier` connector: AutoModelForSequenceClassification; value of a target class.

`value.target_class`: null (the class predicted on the full input, per row), a class index or a
label name from the model's `id2label`.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from shapsweep.features.masking import mask_batch
from shapsweep.features.tokenized import row_text, tokenize_row
from shapsweep.models.device import BatchRunner
from shapsweep.models.game import CachedGame, Usage
from shapsweep.models.pretrained import load_pretrained, max_positions
from shapsweep.values.classifier import class_value


class HFClassifier:
    def __init__(self, model_cfg: dict, features_cfg: dict, value_cfg: dict):
        self.model_cfg, self.features, self.value = model_cfg, features_cfg, value_cfg
        self.tokenizer, self.model, self.device = load_pretrained(AutoModelForSequenceClassification, model_cfg)
        self.runner = BatchRunner(model_cfg["batch_size"])
        self.target_class = self._resolve_target(value_cfg["target_class"])
        tok = self.tokenizer
        self.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self.mask_token_id = next(
            (t for t in (tok.mask_token_id, tok.pad_token_id, tok.unk_token_id) if t is not None), None
        )
        self.max_length = max_positions(self.model.config)

    def _resolve_target(self, target):
        num_labels = self.model.config.num_labels
        if target is None:
            return None
        if isinstance(target, str):
            label2id = {str(k): int(v) for k, v in (self.model.config.label2id or {}).items()}
            if target not in label2id:
                raise ValueError(f"value.target_class: {target!r} is not a label of the model ({', '.join(label2id)})")
            return label2id[target]
        if not 0 <= target < num_labels:
            raise ValueError(f"value.target_class: {target} is outside the model's classes 0..{num_labels - 1}")
        return int(target)

    def logits(self, tokenized, coalitions: np.ndarray, usage: Usage) -> torch.Tensor:
        batch = mask_batch(
            tokenized.ids,
            tokenized.owners,
            coalitions,
            self.features["masking"],
            pad_token_id=self.pad_token_id,
            mask_token_id=self.mask_token_id,
        )
        with torch.inference_mode():
            logits = self.model(
                input_ids=torch.from_numpy(batch.input_ids).to(self.device),
                attention_mask=torch.from_numpy(batch.attention_mask).to(self.device),
            ).logits
        usage.add(1, int(batch.lengths.sum()))
        return logits

    def game(self, row: dict) -> CachedGame:
        tokenized = tokenize_row(
            self.tokenizer, row_text(row), self.features, spans=row.get("spans"), max_length=self.max_length
        )
        usage = Usage()
        full = np.ones(tokenized.n_players, dtype=bool)
        full_logits = self.logits(tokenized, full[None, :], usage)
        target = self.target_class if self.target_class is not None else int(full_logits[0].argmax())
        kind = self.value["kind"]

        def evaluate(coalitions: np.ndarray) -> np.ndarray:
            return class_value(self.logits(tokenized, coalitions, usage), target, kind)

        players = tokenized.players
        game = CachedGame([p.text for p in players], [(p.start, p.end) for p in players], evaluate, self.runner, usage)
        game.target_class = target
        game.prime(full, class_value(full_logits, target, kind)[0])
        return game
