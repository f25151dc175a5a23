"""BERTScore F1 of a reply against the full input's reply: greedy matching of contextual token embeddings.

After Zhang et al., "BERTScore: Evaluating Text Generation with BERT" (ICLR 2020), without IDF weighting or
baseline rescaling: every candidate token is matched to its most similar reference token (cosine),
precision is the mean of those maxima, recall the same from the reference side, F1 their harmonic mean.
Range [-1, 1] (in practice [0, 1] for encoders whose token embeddings are not opposed); 1 when the two
replies embed token for token alike; higher = closer. An empty reply scores 0.
"""

from __future__ import annotations

import torch


def bertscore_f1(candidate: torch.Tensor, reference: torch.Tensor) -> float:
    """F1 of one candidate's token embeddings (m, d) against the reference's (n, d)."""
    if candidate.shape[0] == 0 or reference.shape[0] == 0:
        return 0.0
    c = torch.nn.functional.normalize(candidate.double(), dim=-1)
    r = torch.nn.functional.normalize(reference.double(), dim=-1)
    similarity = c @ r.T
    precision = similarity.max(dim=1).values.mean()
    recall = similarity.max(dim=0).values.mean()
    if precision + recall <= 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
