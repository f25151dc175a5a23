"""`hf_classifier` connector: a text, image or audio classifier; value of a target class.

`features.modalities` chooses the model class: text (the default) loads
AutoModelForSequenceClassification and its tokenizer, `['image']` AutoModelForImageClassification and
the folder's image processor, `['audio']` AutoModelForAudioClassification and its feature extractor.
`value.target_class`: null (the class predicted on the full input, per row), a class index or a
label name from the model's `id2label`.
"""

from __future__ import annotations

import numpy as np
import torch

from shapsweep.features.masking import mask_batch
from shapsweep.features.parts import Parts, TextPart, media_part
from shapsweep.features.tokenized import row_text, tokenize_row
from shapsweep.models.config import modalities_of
from shapsweep.models.ctc_aligner import aligner_for
from shapsweep.models.device import BatchRunner
from shapsweep.models.game import CachedGame, Usage
from shapsweep.models.media_processing import audio_inputs, image_inputs, load_media_processor, processor_rate
from shapsweep.models.pretrained import load_pretrained, load_weights, max_positions
from shapsweep.values.classifier import class_value


def _auto_class(modality: str):
    import transformers

    return {
        "text": transformers.AutoModelForSequenceClassification,
        "image": transformers.AutoModelForImageClassification,
        "audio": transformers.AutoModelForAudioClassification,
    }[modality]


class HFClassifier:
    def __init__(self, model_cfg: dict, features_cfg: dict, value_cfg: dict):
        self.model_cfg, self.features, self.value = model_cfg, features_cfg, value_cfg
        (self.modality,) = modalities_of(features_cfg)  # the config layer allows one modality here
        self.runner = BatchRunner(model_cfg["batch_size"])
        if self.modality == "text":
            self.tokenizer, self.model, self.device = load_pretrained(_auto_class("text"), model_cfg)
            tok = self.tokenizer
            self.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else 0
            self.mask_token_id = next(
                (t for t in (tok.mask_token_id, tok.pad_token_id, tok.unk_token_id) if t is not None), None
            )
            self.max_length = max_positions(self.model.config)
        else:
            self.model, self.device, path = load_weights(_auto_class(self.modality), model_cfg)
            self.processor = load_media_processor(path, self.modality, model_cfg)
            self.sampling_rate = processor_rate(self.processor) if self.modality == "audio" else None
            self.aligner = aligner_for(features_cfg, model_cfg)
        self.target_class = self._resolve_target(value_cfg["target_class"])

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

    def parts(self, row: dict) -> Parts:
        """The row's single part (text, image or audio) as players."""
        if self.modality == "text":
            tokenized = tokenize_row(
                self.tokenizer, row_text(row), self.features, spans=row.get("spans"), max_length=self.max_length
            )
            part = TextPart(tokenized)
        else:
            part = media_part(row, self.modality, self.features, self.sampling_rate, self.aligner)
        return Parts([part], self.features["max_players"])

    def model_inputs(self, parts: Parts, coalitions: np.ndarray, usage: Usage) -> dict:
        """Tensors for one chunk of coalitions: masked token ids, or masked media through one processor call."""
        (masked,) = parts.masked(coalitions)
        if self.modality == "text":
            batch = mask_batch(
                parts.parts[0].tokenized.ids,
                parts.parts[0].tokenized.owners,
                masked,
                self.features["masking"],
                pad_token_id=self.pad_token_id,
                mask_token_id=self.mask_token_id,
            )
            usage.add(1, int(batch.lengths.sum()))
            return {
                "input_ids": torch.from_numpy(batch.input_ids),
                "attention_mask": torch.from_numpy(batch.attention_mask),
            }
        usage.add(1, len(masked))  # media: one "token" per masked image or clip fed
        if self.modality == "image":
            return image_inputs(self.processor, masked)
        return audio_inputs(self.processor, masked, self.sampling_rate)

    def logits(self, parts: Parts, coalitions: np.ndarray, usage: Usage) -> torch.Tensor:
        inputs = self.model_inputs(parts, coalitions, usage)
        with torch.inference_mode():
            dtype = self.model.dtype
            inputs = {
                k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)) for k, v in inputs.items()
            }
            return self.model(**inputs).logits

    def game(self, row: dict) -> CachedGame:
        parts = self.parts(row)
        usage = Usage()
        full = np.ones(parts.n_players, dtype=bool)
        full_logits = self.logits(parts, full[None, :], usage)
        target = self.target_class if self.target_class is not None else int(full_logits[0].argmax())
        kind = self.value["kind"]

        def evaluate(coalitions: np.ndarray) -> np.ndarray:
            return class_value(self.logits(parts, coalitions, usage), target, kind)

        game = CachedGame(parts.players, parts.spans, evaluate, self.runner, usage, regions=parts.regions)
        game.target_class = target
        if self.modality == "text":  # the full input's tokens and owners (integrated gradients differentiates them)
            game.tokenized = parts.parts[0].tokenized
        game.prime(full, class_value(full_logits, target, kind)[0])
        return game
