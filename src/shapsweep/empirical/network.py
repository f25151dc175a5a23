"""The empirical explainer's network: a pretrained text encoder with a per-token linear regression head.

Every explainer token gets a predicted value; a player's value pools (mean or sum) the predictions of the
tokens whose character offsets overlap the player's span. Players are whatever the target run used
(words, sentences, tokens of another tokenizer, spans), so the head never needs the target's tokenizer,
only the characters each player covers. A player none of whose characters reach a token (truncated at
`max_length`, or all whitespace) has no tokens and is predicted 0, the neutral attribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

HEAD_FILE = "head.safetensors"


class TokenRegressor(torch.nn.Module):
    """`encoder` (a transformers AutoModel) followed by one linear unit per token position."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        """(batch, tokens) predictions, one per token (padding included: pooling never reads it)."""
        hidden = self.encoder(**inputs).last_hidden_state
        return self.head(hidden).squeeze(-1)


@dataclass
class EncodedBatch:
    """Model inputs of a batch, and per row a (players, tokens) matrix mapping token predictions to players."""

    inputs: dict[str, torch.Tensor]
    pools: list[torch.Tensor]
    players_without_tokens: int

    def to(self, device: torch.device) -> EncodedBatch:
        return EncodedBatch(
            {k: v.to(device) for k, v in self.inputs.items()},
            [p.to(device) for p in self.pools],
            self.players_without_tokens,
        )


def pooling_matrix(spans, offsets: np.ndarray, usable: np.ndarray, pooling: str) -> np.ndarray:
    """(players, tokens) weights: token i counts for player j when its [start, end) overlaps j's span.

    `offsets` (tokens, 2) are the tokenizer's character offsets, `usable` marks real, non-special tokens.
    `mean` weighs a player's tokens 1/count, `sum` 1; a player without tokens gets a zero row.
    """
    starts, ends = offsets[:, 0], offsets[:, 1]
    usable = usable & (ends > starts)
    if len(spans) == 0:
        return np.zeros((0, len(offsets)), dtype=np.float32)
    span_starts = np.asarray([s for s, _ in spans])[:, None]
    span_ends = np.asarray([e for _, e in spans])[:, None]
    member = (starts[None, :] < span_ends) & (ends[None, :] > span_starts) & usable[None, :]
    weights = member.astype(np.float32)
    if pooling == "mean":
        counts = weights.sum(axis=1, keepdims=True)
        weights = np.divide(weights, counts, out=np.zeros_like(weights), where=counts > 0)
    return weights


def encode_batch(tokenizer, texts: list[str], spans: list, *, max_length: int, pooling: str) -> EncodedBatch:
    """Tokenize `texts` (padded, truncated at `max_length`) and build each row's pooling matrix."""
    encoded = tokenizer(
        list(texts),
        padding=True,
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="np",
    )
    offsets = encoded.pop("offset_mapping")
    special = encoded.pop("special_tokens_mask").astype(bool)
    attention = encoded["attention_mask"].astype(bool)
    pools, without = [], 0
    for i, row_spans in enumerate(spans):
        matrix = pooling_matrix(row_spans, offsets[i], attention[i] & ~special[i], pooling)
        without += int((matrix.sum(axis=1) == 0).sum())
        pools.append(torch.from_numpy(matrix))
    inputs = {k: torch.from_numpy(np.asarray(v, dtype=np.int64)) for k, v in encoded.items()}
    return EncodedBatch(inputs, pools, without)


def pool_players(token_predictions: torch.Tensor, pools: list[torch.Tensor]) -> list[torch.Tensor]:
    """Each row's players' values: its pooling matrix times its tokens' predictions."""
    return [pool @ token_predictions[i] for i, pool in enumerate(pools)]


def prepare_tokenizer(tokenizer, encoder: str):
    """`tokenizer`, checked for what pooling and batching need: character offsets and a padding token.

    Offsets come only from fast (Rust) tokenizers. An encoder without a padding token (GPT-2 style) pads
    with its end-of-sequence token: padded positions are masked and never pooled, so which token does not
    matter; the saved tokenizer keeps that choice.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"shap.options.encoder: {encoder!r} has no fast tokenizer (tokenizer.json), so its tokens' character "
            "offsets are unknown; choose an encoder that ships a fast tokenizer"
        )
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                f"shap.options.encoder: {encoder!r}'s tokenizer has neither a padding nor an end-of-sequence token "
                "to pad batches with; choose another encoder"
            )
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
