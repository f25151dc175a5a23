"""`sentence_embedder` connector: a sentence-transformers (or plain BERT-style) encoder.

Value kinds:
- `similarity`: similarity of the masked text's embedding to the full text's (`target: full`) or to
  a reference text (`target: reference`: `value.reference`, else the row's `reference` column).
- `contrast`: sim(e, e(positive)) − sim(e, e(negative)), e.g. zero-shot classification by label
  descriptions.
"""

from __future__ import annotations

import numpy as np
import torch

from shapsweep.errors import RowError
from shapsweep.features.masking import mask_batch
from shapsweep.features.tokenized import row_text, tokenize_row
from shapsweep.models.device import BatchRunner, resolve_device, resolve_dtype
from shapsweep.models.game import CachedGame, Usage
from shapsweep.models.locate import resolve_path_or_id
from shapsweep.models.sentence_encoder import load_sentence_encoder
from shapsweep.values.similarity import vector_similarity


class SentenceEmbedder:
    def __init__(self, model_cfg: dict, features_cfg: dict, value_cfg: dict):
        self.model_cfg, self.features, self.value = model_cfg, features_cfg, value_cfg
        self.device = resolve_device(model_cfg["device"])
        path = resolve_path_or_id(model_cfg["path_or_id"])
        try:
            self.encoder = load_sentence_encoder(
                path,
                device=self.device,
                dtype=resolve_dtype(model_cfg["dtype"]),
                revision=model_cfg["revision"],
                trust_remote_code=model_cfg["trust_remote_code"],
            )
        except OSError as error:
            raise ValueError(f"model.path_or_id: cannot load {model_cfg['path_or_id']!r} ({error})") from error
        self.tokenizer = self.encoder.tokenizer
        self.runner = BatchRunner(model_cfg["batch_size"])
        self.mask_token_id = next(
            (
                t
                for t in (self.tokenizer.mask_token_id, self.tokenizer.pad_token_id, self.tokenizer.unk_token_id)
                if t is not None
            ),
            None,
        )
        self.pad_token_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        if value_cfg["kind"] == "contrast":
            self.positive, self.negative = self.embed_texts([value_cfg["positive"], value_cfg["negative"]])
        # A reference text fixed in the config is the same for every row: embed it once per job.
        fixed = value_cfg.get("reference") if value_cfg.get("target") == "reference" else None
        self.fixed_reference = self.embed_texts([fixed])[0] if isinstance(fixed, str) and fixed.strip() else None

    def embed_texts(self, texts: list[str], usage: Usage | None = None) -> np.ndarray:
        """Embeddings of whole texts (reference texts, label descriptions), float64 (len, d)."""
        encoded = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        return self._forward(encoded["input_ids"], encoded["attention_mask"], usage)

    def _forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, usage: Usage | None) -> np.ndarray:
        embeddings = self.encoder.embed(input_ids, attention_mask)
        if usage is not None:
            usage.add(1, int(attention_mask.sum()))
        return embeddings.float().cpu().numpy().astype(np.float64)

    def embed_coalitions(self, tokenized, coalitions: np.ndarray, usage: Usage) -> np.ndarray:
        batch = mask_batch(
            tokenized.ids,
            tokenized.owners,
            coalitions,
            self.features["masking"],
            pad_token_id=self.pad_token_id,
            mask_token_id=self.mask_token_id,
        )
        embeddings = self._forward(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask), None)
        usage.add(1, int(batch.lengths.sum()))
        return embeddings

    def game(self, row: dict) -> CachedGame:
        text = row_text(row)
        tokenized = tokenize_row(
            self.tokenizer, text, self.features, spans=row.get("spans"), max_length=self.encoder.max_seq_length
        )
        usage = Usage()
        value = self.value
        similarity = value["similarity"]
        if value["kind"] == "contrast":
            positive, negative = self.positive, self.negative

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                e = self.embed_coalitions(tokenized, coalitions, usage)
                return vector_similarity(e, positive, similarity) - vector_similarity(e, negative, similarity)

        else:
            full = np.ones(tokenized.n_players, dtype=bool)
            if value["target"] == "full":
                target = self.embed_coalitions(tokenized, full[None, :], usage)[0]
            elif self.fixed_reference is not None:
                target = self.fixed_reference
            else:
                reference = value["reference"] if value["reference"] is not None else row.get("reference")
                if not isinstance(reference, str) or not reference.strip():
                    raise RowError(
                        "missing_column",
                        "value.target 'reference' needs value.reference or a non-empty `reference` column in the row",
                    )
                target = self.embed_texts([reference], usage)[0]

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                return vector_similarity(self.embed_coalitions(tokenized, coalitions, usage), target, similarity)

        players = tokenized.players
        game = CachedGame([p.text for p in players], [(p.start, p.end) for p in players], evaluate, self.runner, usage)
        game.tokenized = tokenized  # the full input's tokens and owners (integrated gradients differentiates them)
        game.target_embedding = None if value["kind"] == "contrast" else target
        if value["kind"] == "similarity" and value["target"] == "full":
            # The full input's embedding is the target: v(full) is its similarity to itself.
            game.prime(full, vector_similarity(target[None, :], target, similarity)[0])
        return game
