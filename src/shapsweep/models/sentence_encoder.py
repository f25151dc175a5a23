"""Sentence-transformers models without the `sentence_transformers` package.

Importing `sentence_transformers` costs ~3 s (it pulls datasets, sklearn and the trainer stack) in every
explain job, more than torch itself. Most sentence-transformers folders are just Transformer → Pooling
(→ Normalize), described by `modules.json`, `1_Pooling/config.json` and `sentence_bert_config.json`, so
they are run here with `transformers.AutoModel` and the same pooling arithmetic. Anything else falls back
to `SentenceTransformer` (imported lazily), which gives the same embeddings, only slower to start.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import torch

log = logging.getLogger("shapsweep.models")

TRANSFORMER = ("sentence_transformers.models.Transformer", "sentence_transformers.base.modules.transformer.Transformer")
POOLING = ("sentence_transformers.models.Pooling", "sentence_transformers.sentence_transformer.modules.pooling.Pooling")
NORMALIZE = ("sentence_transformers.models.Normalize", "sentence_transformers.base.modules.normalize.Normalize")
# sentence_bert_config.json settings the native path reproduces; any other non-empty one means fall back.
READ_SETTINGS = {"max_seq_length", "do_lower_case"}
DEFAULT_SETTINGS = {"backend": "torch", "transformer_task": "feature-extraction"}
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
POOLING_MODES = tuple(LEGACY_POOLING_KEYS.values())
ENCODE_BATCH_SIZE = 32  # SentenceTransformer.encode's default


class Unsupported(Exception):
    """The folder needs `SentenceTransformer` (the message says why)."""


def load_sentence_encoder(
    path_or_id: str,
    *,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    revision: str | None = None,
    trust_remote_code: bool = False,
):
    """A `NativeSentenceEncoder` where the folder's modules allow it, else a `FallbackSentenceEncoder`."""
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        return NativeSentenceEncoder(path_or_id, device=device, dtype=dtype, **common)
    except Unsupported as why:
        log.info("loading %s with SentenceTransformer: %s", path_or_id, why)
        return FallbackSentenceEncoder(path_or_id, device=device, dtype=dtype, **common)


def _read_json(path_or_id: str, filename: str, revision: str | None, subfolder: str = "") -> dict | list | None:
    """The parsed file from a folder or the hub cache, or None when the model has no such file."""
    from transformers.utils import cached_file

    found = cached_file(
        path_or_id,
        filename,
        revision=revision,
        subfolder=subfolder,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )
    if found is None:
        return None
    with open(found, encoding="utf-8") as handle:
        return json.load(handle)


def pooling_modes(config: dict) -> tuple[str, ...]:
    """Pooling modes of a `1_Pooling/config.json`, in the order sentence-transformers concatenates them."""
    if "pooling_mode" in config:
        modes = config["pooling_mode"]
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
    else:
        modes = tuple(mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key, False)) or ("mean",)
    unknown = [m for m in modes if m not in POOLING_MODES]
    if unknown:
        raise Unsupported(f"pooling mode {unknown[0]!r}")
    return modes


def pool(token_embeddings: torch.Tensor, attention_mask: torch.Tensor, modes: tuple[str, ...]) -> torch.Tensor:
    """sentence-transformers' `Pooling` on right- or left-padded (b, t, d) token embeddings."""
    accumulate = torch.float32 if token_embeddings.dtype in (torch.float16, torch.bfloat16) else token_embeddings.dtype
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    vectors = []
    for mode in modes:
        if mode == "cls":  # first real token (after any left padding)
            first = attention_mask.to(torch.int).argmax(dim=1)
            index = first.view(-1, 1, 1).expand(-1, 1, token_embeddings.shape[-1])
            vectors.append(torch.gather(token_embeddings, 1, index).squeeze(1))
        elif mode == "max":
            vectors.append(token_embeddings.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            total = (token_embeddings * mask).sum(dim=1, dtype=accumulate)
            count = torch.clamp(mask.sum(dim=1, dtype=accumulate), min=1e-9)
            vectors.append((total / (count if mode == "mean" else torch.sqrt(count))).to(token_embeddings.dtype))
        elif mode == "weightedmean":  # weights 1, 2, ... counted from the first real token
            positions = torch.arange(1, token_embeddings.shape[1] + 1, device=mask.device, dtype=accumulate)
            weights = positions.view(1, -1, 1) - attention_mask.to(torch.int32).argmax(dim=1).view(-1, 1, 1)
            weighted = attention_mask.unsqueeze(-1).to(accumulate) * weights
            total = (token_embeddings * weighted).sum(dim=1)
            vectors.append((total / torch.clamp(weighted.sum(dim=1), min=1e-9)).to(token_embeddings.dtype))
        else:  # lasttoken: last real token (before any right padding)
            length = token_embeddings.shape[1]
            found, from_end = attention_mask.flip(1).max(1)
            from_end = torch.where(found == 0, length - 1, from_end)
            index = (length - from_end - 1).view(-1, 1, 1).expand(-1, 1, token_embeddings.shape[-1])
            vectors.append(torch.gather(token_embeddings * mask, 1, index).squeeze(1))
    return torch.cat(vectors, dim=-1)


class NativeSentenceEncoder:
    """Transformer → Pooling → optional Normalize, read from the model's sentence-transformers files.

    Raises `Unsupported` for anything else (Dense, LayerNorm, Router, prompts, non-torch backends...).
    """

    def __init__(self, path_or_id: str, *, device: torch.device, dtype: torch.dtype, revision, trust_remote_code):
        modules = _read_json(path_or_id, "modules.json", revision)
        if not isinstance(modules, list) or not modules:
            raise Unsupported("no modules.json")
        ordered = sorted(modules, key=lambda m: m.get("idx", 0))
        kinds = [m.get("type") for m in ordered]
        if not (kinds[0] in TRANSFORMER and len(kinds) in (2, 3) and kinds[1] in POOLING):
            raise Unsupported(f"modules {kinds} are not Transformer, Pooling[, Normalize]")
        if len(kinds) == 3 and kinds[2] not in NORMALIZE:
            raise Unsupported(f"module {kinds[2]!r}")
        transformer_dir, pooling_dir = ordered[0].get("path", ""), ordered[1].get("path", "")
        self.normalize = len(kinds) == 3

        settings = _read_json(path_or_id, "config_sentence_transformers.json", revision) or {}
        if settings.get("default_prompt_name"):
            raise Unsupported("a default prompt (SentenceTransformer.encode prepends it)")
        bert = _read_json(path_or_id, "sentence_bert_config.json", revision, transformer_dir) or {}
        odd = [k for k, v in bert.items() if k not in READ_SETTINGS and v and DEFAULT_SETTINGS.get(k) != v]
        if odd:
            raise Unsupported(f"sentence_bert_config.json sets {sorted(odd)}")
        pooling = _read_json(path_or_id, "config.json", revision, pooling_dir)
        if pooling is None:
            raise Unsupported(f"no {pooling_dir or '.'}/config.json for the Pooling module")
        self.modes = pooling_modes(pooling)

        from transformers import AutoConfig, AutoModel, AutoTokenizer

        common = {"revision": revision, "trust_remote_code": trust_remote_code, "subfolder": transformer_dir}
        config = AutoConfig.from_pretrained(path_or_id, **common)
        if getattr(config, "is_encoder_decoder", False):
            raise Unsupported("an encoder-decoder model (SentenceTransformer runs only its encoder)")
        self.tokenizer = AutoTokenizer.from_pretrained(path_or_id, **common)
        self.model = AutoModel.from_pretrained(path_or_id, config=config, dtype=dtype, **common).to(device).eval()
        self.device = device
        # As sentence-transformers: max_seq_length caps the tokenizer, else the position embeddings do.
        if bert.get("max_seq_length") is not None:
            self.tokenizer.model_max_length = int(bert["max_seq_length"])
        elif getattr(config, "max_position_embeddings", -1) not in (None, -1):
            self.tokenizer.model_max_length = min(self.tokenizer.model_max_length, config.max_position_embeddings)
        if bert.get("do_lower_case"):
            self._lowercase_in_tokenizer()

    def _lowercase_in_tokenizer(self) -> None:
        # In the normalizer, as sentence-transformers does: character offsets still point into the raw text.
        from tokenizers.normalizers import Lowercase, Sequence

        if not getattr(self.tokenizer, "is_fast", False):
            raise Unsupported("do_lower_case on a slow tokenizer")
        backend = self.tokenizer.backend_tokenizer
        current = backend.normalizer  # lowercasing twice is harmless, so no need to look inside it
        backend.normalizer = Sequence([Lowercase()] + ([current] if current is not None else []))

    @property
    def max_seq_length(self) -> int:
        return self.tokenizer.model_max_length

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(b, d) sentence embeddings of token ids (on any device), in the model's dtype."""
        input_ids, attention_mask = input_ids.to(self.device), attention_mask.to(self.device)
        with torch.inference_mode():
            tokens = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self._sentence_embedding(tokens, attention_mask)

    def embed_differentiable(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """`embed` from word embeddings (b, t, d) instead of token ids, keeping the autograd graph: what
        integrated gradients differentiates (position embeddings are still added inside the model)."""
        attention_mask = attention_mask.to(self.device)
        tokens = self.model(inputs_embeds=inputs_embeds.to(self.device), attention_mask=attention_mask)
        return self._sentence_embedding(tokens.last_hidden_state, attention_mask)

    def _sentence_embedding(self, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pooled = pool(tokens, attention_mask, self.modes)
        return torch.nn.functional.normalize(pooled, p=2, dim=-1) if self.normalize else pooled

    def encode(self, texts: list[str]) -> np.ndarray:
        """float64 (len, d) embeddings of texts, as `SentenceTransformer.encode` (length-sorted batches)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = [None] * len(texts)
        for start in range(0, len(texts), ENCODE_BATCH_SIZE):
            chunk = order[start : start + ENCODE_BATCH_SIZE]
            encoded = self.tokenizer([texts[i] for i in chunk], padding=True, truncation=True, return_tensors="pt")
            vectors = self.embed(encoded["input_ids"], encoded["attention_mask"]).float().cpu().numpy()
            for i, vector in zip(chunk, vectors):
                out[i] = vector
        return np.asarray(out, dtype=np.float64).reshape(len(texts), -1)


class FallbackSentenceEncoder:
    """The same interface over `SentenceTransformer`, for folders `NativeSentenceEncoder` does not read."""

    def __init__(self, path_or_id: str, *, device: torch.device, dtype: torch.dtype, revision, trust_remote_code):
        from sentence_transformers import SentenceTransformer  # ~3 s of imports: only when needed

        self.model = SentenceTransformer(
            path_or_id, device=str(device), revision=revision, trust_remote_code=trust_remote_code
        )
        self.model.to(dtype).eval()
        self.tokenizer = self.model.tokenizer
        self.device = device

    @property
    def max_seq_length(self) -> int:
        return self.model.max_seq_length

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        features = {"input_ids": input_ids.to(self.device), "attention_mask": attention_mask.to(self.device)}
        with torch.inference_mode():
            return self.model(features)["sentence_embedding"]

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, convert_to_numpy=True), dtype=np.float64).reshape(len(texts), -1)
