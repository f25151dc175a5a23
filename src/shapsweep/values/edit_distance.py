"""Word and character error rates of a reply against the full input's reply, as similarities.

WER / CER = Levenshtein distance (substitutions + deletions + insertions) between the word (or character)
sequences, divided by the reference's length; the value is 1 − rate (word / character accuracy): 1 for
identical replies, 0 when every reference unit is wrong, below 0 when the reply inserts more than the
reference holds (range (-inf, 1]); higher = closer. Words are whitespace-separated, case kept; an empty
reference scores 1 against an empty reply and 1 − len(reply) otherwise.
"""

from __future__ import annotations

import numpy as np


def edit_distance(hypothesis: list, reference: list) -> int:
    """Levenshtein distance between two sequences (one row of the table at a time)."""
    previous = np.arange(len(reference) + 1)
    for i, unit in enumerate(hypothesis, start=1):
        current = np.empty_like(previous)
        current[0] = i
        for j, target in enumerate(reference, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (unit != target))
        previous = current
    return int(previous[-1])


def error_rate(hypothesis: str, reference: str, unit: str) -> float:
    """WER (`unit` 'word') or CER ('char') of `hypothesis` against `reference`."""
    if unit == "word":
        hyp, ref = hypothesis.split(), reference.split()
    elif unit == "char":
        hyp, ref = list(hypothesis.strip()), list(reference.strip())
    else:
        raise ValueError(f"unit: {unit!r} is not 'word' or 'char'")
    return edit_distance(hyp, ref) / max(len(ref), 1)


def accuracy(texts: list[str], reference: str, unit: str) -> np.ndarray:
    """1 − error rate of each text against `reference` (float64)."""
    return np.array([1.0 - error_rate(t, reference, unit) for t in texts], dtype=np.float64)
