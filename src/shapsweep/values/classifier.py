"""Classifier value functions: probability, logit or log-odds of one target class."""

from __future__ import annotations

import numpy as np
import torch

CLASSIFIER_KINDS = ("probability", "logit", "log_odds")


def class_value(logits: torch.Tensor, target: int, kind: str) -> np.ndarray:
    """(b,) value of class `target` from logits (b, C), computed in float64.

    log_odds = log p / (1 − p) = logit_t − logsumexp(other logits): stable even when p is near 1.
    """
    return class_value_tensor(logits, target, kind).cpu().numpy()


def class_value_tensor(logits: torch.Tensor, target: int, kind: str) -> torch.Tensor:
    """`class_value` as a float64 tensor that keeps the autograd graph (integrated gradients)."""
    logits = logits.double()
    if kind == "logit":
        values = logits[:, target]
    elif kind == "probability":
        values = torch.softmax(logits, dim=-1)[:, target]
    elif kind == "log_odds":
        others = torch.cat([logits[:, :target], logits[:, target + 1 :]], dim=1)
        values = logits[:, target] - torch.logsumexp(others, dim=1)
    else:
        raise ValueError(f"value.kind: {kind!r} is not one of {', '.join(CLASSIFIER_KINDS)}")
    return values
