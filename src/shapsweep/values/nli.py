"""`nli`: the probability that the masked input's reply entails the full input's reply.

An NLI cross-encoder (a sequence-pair classifier with an entailment label) reads (premise = the coalition's
reply, hypothesis = the full input's reply); the value is the softmax probability of its entailment class.
Range [0, 1]; higher = closer (the reply still says what the full one says).
"""

from __future__ import annotations

import torch


def entailment_index(id2label: dict) -> int:
    """The class index whose label names entailment (`ENTAILMENT`, `entailment`, `LABEL_entail...`)."""
    found = [
        int(i) for i, label in id2label.items() if "entail" in str(label).lower() and "not" not in str(label).lower()
    ]
    if len(found) != 1:
        labels = ", ".join(str(v) for v in id2label.values())
        raise ValueError(f"value.scorer: an NLI model needs exactly one entailment label in its id2label, has {labels}")
    return found[0]


def entailment_probability(logits: torch.Tensor, index: int) -> torch.Tensor:
    """(b,) float64 probability of class `index` from (b, classes) logits."""
    return torch.softmax(logits.double(), dim=-1)[:, index]
