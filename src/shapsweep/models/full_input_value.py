"""A row's full-input value recomputed from its game's token ids, as a tensor that follows the model.

The game fixes what the value is of (the classifier's target class, the causal LM's response); this runs the
unmasked input through `model` (any network with the connector's architecture: traced parameters, ablation
hooks), `copies` times in one batch, so that the value keeps a gradient in the parameters and changes with
them. hf_classifier (text) and hf_causal_lm `logprob` only (no greedy decoding).
"""

from __future__ import annotations

import torch

from shapsweep.values.classifier import class_value_tensor
from shapsweep.values.logprob import response_logprob_tensor


def full_input_values(connector, model: torch.nn.Module, game, copies: int = 1) -> torch.Tensor:
    """(copies,) float64: the value of `game`'s full input under `model` (the connector's value kind)."""
    device = next(model.parameters()).device
    ids = torch.as_tensor(game.tokenized.ids, dtype=torch.long, device=device)
    if connector.model_cfg["connector"] == "hf_classifier":
        batch = ids[None].expand(copies, -1)
        logits = model(input_ids=batch, attention_mask=torch.ones_like(batch)).logits
        return class_value_tensor(logits, game.target_class, connector.value["kind"])
    response = torch.as_tensor(game.response_ids, dtype=torch.long, device=device)
    full = torch.cat([ids, response])[None].expand(copies, -1)
    logits = model(input_ids=full, attention_mask=torch.ones_like(full), use_cache=False).logits
    picked = logits[:, -(response.shape[0] + 1) : -1]
    return response_logprob_tensor(picked, response, connector.value["reduce"])
