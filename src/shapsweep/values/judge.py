"""`judge`: a generative model scores how well a reply agrees with the full input's reply, 0 to 10.

The prompt is fixed (`JUDGE_PROMPT`, sent as one user turn through the judge's chat template, or as plain
text after BOS without one). The judge answers greedily, restricted to the eleven allowed answers: the
score is the answer "0".."10" whose tokens it gives the highest log-probability after the prompt (so an
answer is always a valid score, and the same inputs always give the same score). Value = score / 10.
Range [0, 1]; higher = closer.
"""

from __future__ import annotations

import numpy as np

JUDGE_SCORES = tuple(range(11))
JUDGE_PROMPT = (
    "Rate how well the candidate answer agrees with the reference answer in meaning, from 0 (unrelated or "
    "contradicting) to 10 (the same meaning). Reply with the number only.\n\n"
    "Reference answer: {reference}\n\nCandidate answer: {candidate}\n\nScore:"
)


def judge_prompt(candidate: str, reference: str) -> str:
    return JUDGE_PROMPT.format(reference=reference.strip(), candidate=candidate.strip())


def judge_value(answer_logprobs: np.ndarray) -> np.ndarray:
    """(b,) values from (b, 11) log-probabilities of the answers 0..10: the greedy (highest) answer / 10;
    ties go to the lower score."""
    answer_logprobs = np.asarray(answer_logprobs, dtype=np.float64)
    return np.argmax(answer_logprobs, axis=1).astype(np.float64) / 10.0
