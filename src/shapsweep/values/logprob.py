"""`logprob`: log-probability of a fixed response under the (masked) prompt, teacher-forced."""

from __future__ import annotations

import numpy as np
import torch


def response_logprob(logits: torch.Tensor, response_ids: torch.Tensor, reduce: str) -> np.ndarray:
    """Sum or mean over tokens of log p(response_t | prompt, response_<t).

    `logits` (b, R, V) are the model's outputs at the R positions that predict the R response
    tokens `response_ids` (R,). Computed in float32 at least, returned as float64.
    """
    return response_logprob_tensor(logits, response_ids, reduce).cpu().numpy()


def response_logprob_tensor(logits: torch.Tensor, response_ids: torch.Tensor, reduce: str) -> torch.Tensor:
    """`response_logprob` as a float64 tensor that keeps the autograd graph (integrated gradients)."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    picked = logprobs.gather(-1, response_ids.view(1, -1, 1).expand(logits.shape[0], -1, 1)).squeeze(-1)
    totals = picked.sum(dim=1) if reduce == "sum" else picked.mean(dim=1)
    return totals.double()
