"""Device and dtype choice, and evaluation in batches that halve on CUDA out-of-memory."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from shapsweep.models.config import DTYPES

log = logging.getLogger("shapsweep.models")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("model.device: 'cuda' was asked for but no CUDA device is visible; use 'auto' or 'cpu'")
    return torch.device(device)


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"model.dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


class BatchRunner:
    """Runs `evaluate(chunk)` over an array in chunks of `batch_size` rows.

    On an out-of-memory error the chunk size is halved, the log says so, and the chunk is retried;
    the smaller size is kept for the rest of the job (the next row would run out of memory too).
    """

    def __init__(self, batch_size: int):
        self.batch_size = int(batch_size)

    def map(self, items, work: Callable) -> list:
        """[work(chunk) for each chunk of `items`], chunks of `batch_size`, halved on out-of-memory."""
        results = []
        start = 0
        while start < len(items):
            chunk = items[start : start + self.batch_size]
            try:
                results.append(work(chunk))
            except (torch.OutOfMemoryError, RuntimeError) as error:
                if not _is_out_of_memory(error) or self.batch_size == 1:
                    raise
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("out of memory on a batch of %d; retrying with batch_size %d", len(chunk), self.batch_size)
                continue
            start += len(chunk)
        return results

    def run(self, items: np.ndarray, evaluate: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """evaluate() over chunks of `items`, values concatenated as float64."""
        results = [np.asarray(r, dtype=np.float64) for r in self.map(items, evaluate)]
        return np.concatenate(results) if results else np.zeros(0)
