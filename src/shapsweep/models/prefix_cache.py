"""Key/value cache of the prompt part no coalition changes, computed once and shared by every coalition.

The tokens before the first player-owned token (chat template, system prompt, BOS) are the same in
every masked prompt of a row, under every masking strategy (unowned tokens are always kept), and
usually in every row of a job. Their keys and values are computed once per distinct prefix and
expanded over a batch; the model then runs only the rest of each coalition's sequence, at positions
that continue from the prefix length. Only plain `DynamicLayer` caches are reused: a sliding-window
or recurrent layer would drop or fold the prefix, so such a model falls back to full forward passes.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict

import numpy as np
import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


def cache_argument(model) -> str:
    """The forward argument that takes a KV cache: transformers 5 models say `cache` (`past_key_values` is
    deprecated); remote-code models written for older releases still say `past_key_values`."""
    parameters = inspect.signature(model.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def output_cache(out):
    """The KV cache a forward pass returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def shared_prefix_length(owners: np.ndarray) -> int:
    """Tokens before the first player-owned one, leaving at least one token to run per coalition (the
    last prompt token's logits predict the response's first token)."""
    owned = np.flatnonzero(np.asarray(owners) >= 0)
    first = int(owned[0]) if len(owned) else len(owners)
    return max(0, min(first, len(owners) - 1))


class PrefixCache:
    """One prefix's per-layer (keys, values), batch size 1, on the model's device."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]], length: int):
        self.layers = layers
        self.length = length

    def expanded(self, batch: int, config) -> DynamicCache:
        """A fresh cache holding the prefix for `batch` sequences (the forward pass appends to it)."""
        data = [(k.expand(batch, *k.shape[1:]), v.expand(batch, *v.shape[1:])) for k, v in self.layers]
        return DynamicCache(ddp_cache_data=data, config=config)


class PrefixCaches:
    """Prefix caches of one model, keyed by the prefix's token ids (a job's rows mostly share one)."""

    def __init__(self, model, device: torch.device, keep: int = 4):
        self.model, self.device, self.keep = model, device, keep
        self.argument = cache_argument(model)
        self._caches: OrderedDict[bytes, PrefixCache] = OrderedDict()
        self.supported = True  # False once the model's cache turned out not to be plain DynamicLayers

    def get(self, prefix_ids: np.ndarray) -> tuple[PrefixCache | None, bool]:
        """(cache, computed now) for these prefix ids; (None, False) where reuse is not possible."""
        if not self.supported or len(prefix_ids) == 0:
            return None, False
        key = np.asarray(prefix_ids, dtype=np.int64).tobytes()
        if key in self._caches:
            self._caches.move_to_end(key)
            return self._caches[key], False
        ids = torch.as_tensor(np.asarray(prefix_ids, dtype=np.int64))[None, :].to(self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                position_ids=torch.arange(ids.shape[1], device=self.device)[None, :],
                use_cache=True,
                logits_to_keep=1,
                **{self.argument: DynamicCache(config=self.model.config)},
            )
        cache = output_cache(out)
        layers = getattr(cache, "layers", None)
        plain = all(type(layer) is DynamicLayer and layer.get_seq_length() == ids.shape[1] for layer in layers or [])
        if not isinstance(cache, DynamicCache) or not layers or not plain:
            self.supported = False
            return None, False
        entry = PrefixCache([(layer.keys, layer.values) for layer in layers], ids.shape[1])
        self._caches[key] = entry
        while len(self._caches) > self.keep:
            self._caches.popitem(last=False)
        return entry, True
