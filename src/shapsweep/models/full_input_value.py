"""Rows' full-input values recomputed from their games' token ids, as tensors that follow the model.

The game fixes what the value is of (the classifier's target class, the causal LM's response); this runs the
unmasked inputs through `model` (any network with the connector's architecture: traced parameters, ablation
hooks), so that each value keeps a gradient in the parameters and changes with them. Games are batched
padded on the right (the model's own default position ids) and each row's value is read at its own
positions. hf_classifier (text) and hf_causal_lm `logprob` only (no greedy decoding).
"""

from __future__ import annotations

import torch

from shapsweep.values.classifier import class_value_tensor
from shapsweep.values.logprob import response_logprob_tensor


def _causal(connector) -> bool:
    return connector.model_cfg["connector"] != "hf_classifier"


def collate_games(connector, games: list, pad_id: int) -> dict:
    """The games' full inputs as one batch padded on the right with `pad_id`: input_ids, attention_mask,
    and the games themselves (where each row's value is read)."""
    causal = _causal(connector)
    ids = [list(g.tokenized.ids) + (list(g.response_ids) if causal else []) for g in games]
    width = max(map(len, ids))
    return {
        "input_ids": torch.tensor([x + [pad_id] * (width - len(x)) for x in ids]),
        "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
        "games": games,
    }


def batch_values(connector, model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """(rows,) float64: each game's value in a `collate_games` batch under `model`, one forward for all."""
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in batch.items() if k != "games"}
    games = batch["games"]
    if not _causal(connector):
        logits = model(**inputs).logits
        # one read per distinct target class over the whole batch (an ablation game's copies: one)
        targets = [g.target_class for g in games]
        distinct = sorted(set(targets))
        per_target = torch.stack([class_value_tensor(logits, t, connector.value["kind"]) for t in distinct])
        return per_target[[distinct.index(t) for t in targets], torch.arange(len(games))]
    logits = model(**inputs, use_cache=False).logits
    # every row's response read at once: one gather of the positions that predict it (padded to the longest
    # response), not a slice per row, whose backward would write a batch-sized gradient per row
    lengths = [len(g.response_ids) for g in games]
    width = max(lengths)
    starts = [len(g.tokenized.ids) - 1 for g in games]
    positions = torch.tensor([[s + min(j, n - 1) for j in range(width)] for s, n in zip(starts, lengths, strict=True)])
    tokens = torch.tensor([list(g.response_ids) + [0] * (width - n) for g, n in zip(games, lengths, strict=True)])
    rows = torch.arange(len(games)).unsqueeze(1)
    padded = None if min(lengths) == width else torch.tensor(lengths, device=device)
    picked = logits[rows.to(device), positions.to(device)]
    return response_logprob_tensor(picked, tokens.to(device), connector.value["reduce"], padded)


def full_input_values(connector, model: torch.nn.Module, game, copies: int = 1) -> torch.Tensor:
    """(copies,) float64: the value of `game`'s full input under `model`, `copies` times in one batch (an
    ablation game's coalitions, each with its own hooks' mask)."""
    return batch_values(connector, model, collate_games(connector, [game] * copies, pad_id=0))
