"""Similarity of embeddings (cosine, euclidean) and of texts (TF-IDF cosine)."""

from __future__ import annotations

import numpy as np
import torch

VECTOR_SIMILARITIES = ("cosine", "euclidean")


def vector_similarity(vectors: np.ndarray, target: np.ndarray, kind: str) -> np.ndarray:
    """Similarity of each row of `vectors` (b, d) to `target` (d,), in float64.

    cosine: a·t / (‖a‖‖t‖) (0 for a zero vector); euclidean: 1 / (1 + ‖a − t‖), 1 when equal.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if kind == "cosine":
        norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(target)
        dots = vectors @ target
        return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    if kind == "euclidean":
        return 1.0 / (1.0 + np.linalg.norm(vectors - target[None, :], axis=1))
    raise ValueError(f"value.similarity: {kind!r} is not one of {', '.join(VECTOR_SIMILARITIES)}")


def tensor_similarity(vectors: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """`vector_similarity` on tensors, float64, keeping the autograd graph (integrated gradients)."""
    vectors, target = vectors.double(), target.double().to(vectors.device)
    if kind == "cosine":
        norms = torch.linalg.vector_norm(vectors, dim=1) * torch.linalg.vector_norm(target)
        nonzero = norms > 0
        # Divide by 1 where the norm is 0, so the zero vector's gradient stays finite (its value is 0).
        return torch.where(nonzero, (vectors @ target) / torch.where(nonzero, norms, 1.0), 0.0)
    if kind == "euclidean":
        return 1.0 / (1.0 + torch.linalg.vector_norm(vectors - target[None, :], dim=1))
    raise ValueError(f"value.similarity: {kind!r} is not one of {', '.join(VECTOR_SIMILARITIES)}")


def tfidf_similarity(texts: list[str], reference: str, corpus: list[str]) -> np.ndarray:
    """Cosine of TF-IDF vectors of each text to `reference`, the IDF fitted on `corpus`.

    Uses scikit-learn's TfidfVectorizer (smoothed IDF, l2 norm), so two equal texts score 1 and
    texts sharing no word score 0. The token pattern keeps one-character words.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b")
    try:
        vectorizer.fit(list(corpus) + [reference] + list(texts))
    except ValueError:  # every document empty: no vocabulary
        return np.array([1.0 if t.strip() == reference.strip() else 0.0 for t in texts])
    matrix = vectorizer.transform(list(texts) + [reference])
    scores = (matrix[:-1] @ matrix[-1].T).toarray().ravel()
    return scores.astype(np.float64)
