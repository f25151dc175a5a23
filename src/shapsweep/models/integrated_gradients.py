"""Integrated Gradients over a row's word embeddings: a gradient reference explainer beside Shapley.

Integrated Gradients (Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks", ICML 2017)
attributes f(x) − f(x') to the input's coordinates by integrating the gradient along the straight path
from a baseline x' to x: IG_i = (x_i − x'_i) ∫₀¹ ∂f(x' + α(x − x'))/∂x_i dα. Its completeness axiom
(the attributions sum to f(x) − f(x')) is the counterpart of Shapley efficiency, and its residual is
recorded the same way.

Here x is the output of the model's own input-embedding layer for exactly the token ids the connector's
game feeds for the full coalition (template and special tokens included); position embeddings are added
inside the model, so only the word embeddings are interpolated. The baseline differs from x only at
player-owned tokens (the pad or mask token's embedding, or zeros), so every other token gets exactly
zero attribution; a player's value is the sum over its tokens and embedding dimensions. f is the game's
own value, computed as the connector computes it: the similarity (or contrast) of the sentence embedding
with the game's fixed target, the classifier's value of the game's target class, or the teacher-forced
log-probability of the game's response (its embeddings held fixed). Captum's `IntegratedGradients` does
the integration (its default Gauss-Legendre rule, `steps` points, `batch_size` points per pass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from captum.attr import IntegratedGradients

from shapsweep.models.config import check_differentiable
from shapsweep.models.sentence_encoder import NativeSentenceEncoder
from shapsweep.values.classifier import class_value_tensor
from shapsweep.values.logprob import response_logprob_tensor
from shapsweep.values.similarity import tensor_similarity

BASELINES = ("pad", "mask", "zero")
INTEGRATION_METHOD = "gausslegendre"  # captum's default rule


@dataclass
class GradientExplanation:
    """One row explained by integrated gradients; players and spans are those of `model.game(row)`.

    `values` are per player; `token_values` per token of the differentiated input (`token_owners`: the
    owning player, -1 for tokens that are never players, which get exactly 0).
    """

    players: list[str]
    spans: list[tuple[int, int]] | None
    values: np.ndarray
    v_baseline: float
    v_full: float
    completeness_gap: float
    forward_passes: int
    tokens: int
    steps: int
    response: str | None
    details: dict
    token_values: np.ndarray = field(repr=False)
    token_owners: np.ndarray = field(repr=False)


@dataclass
class _Value:
    """The value of one row as a function of its word embeddings (b, T, d) -> (b,) float64."""

    embedding: torch.nn.Module  # the model's input embedding layer
    module: torch.nn.Module  # the model it belongs to (to name the layer)
    device: torch.device
    forward: Callable[[torch.Tensor], torch.Tensor]
    extra_tokens: int  # tokens fed per input beyond the differentiated ones (a fixed response)
    described: str


def integrated_gradients(model, row: dict, steps: int = 50, baseline: str = "pad", batch_size: int = 64, game=None):
    """Explain `row` with integrated gradients on `model` (what `shapsweep.models.load_model` returns).

    Args:
        model: a sentence_embedder, a text hf_classifier or an hf_causal_lm with value.kind logprob.
        row: canonical row columns, as for `model.game(row)`.
        steps: integration points (`shap.options.steps`).
        baseline: `pad`, `mask` (the tokenizer's mask token) or `zero` embeddings at player-owned tokens
            (`shap.options.baseline`).
        batch_size: integration points per forward/backward pass (captum's internal_batch_size).
        game: `model.game(row)` when the caller has built it already (to check the player count first).

    Returns:
        A `GradientExplanation`.

    Raises:
        RowError: the row cannot be explained (the same kinds `model.game(row)` raises).
        ValueError: an unsupported connector, value or modality, or a bad option (naming the field).
    """
    check_differentiable(model.model_cfg, model.features, model.value)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"shap.options.steps: expected a positive integer, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"shap.batch_size: expected a positive integer, got {batch_size!r}")
    if baseline not in BASELINES:
        raise ValueError(f"shap.options.baseline: {baseline!r} is not one of {', '.join(BASELINES)}")
    if baseline == "mask" and model.tokenizer.mask_token_id is None:
        raise ValueError(
            "shap.options.baseline: 'mask' needs a tokenizer with a mask token, and this model's has none; "
            "use 'pad' or 'zero'"
        )

    if game is None:
        game = model.game(row)  # the players, RowErrors, target and response exactly as the Shapley game has them
    tokenized = game.tokenized
    value = _value_function(model, game)
    owners = np.asarray(tokenized.owners)
    n_tokens = len(owners)
    passes = {"forward_passes": 0, "tokens": 0}

    def counted(embeds: torch.Tensor) -> torch.Tensor:
        passes["forward_passes"] += 1
        passes["tokens"] += embeds.shape[0] * (n_tokens + value.extra_tokens)
        return value.forward(embeds)

    ids = torch.as_tensor(tokenized.ids, dtype=torch.long, device=value.device)[None, :]
    owned = torch.as_tensor(owners >= 0, device=value.device)[None, :, None]
    with torch.no_grad():
        inputs = value.embedding(ids)
        if baseline == "zero":
            fill = torch.zeros_like(inputs)
        else:
            token = model.pad_token_id if baseline == "pad" else model.tokenizer.mask_token_id
            fill = value.embedding(torch.full_like(ids, token))
        baselines = torch.where(owned, fill, inputs)

    with torch.enable_grad():  # callers may sit inside no_grad
        attributions, delta = IntegratedGradients(counted).attribute(
            inputs,
            baselines=baselines,
            n_steps=steps,
            method=INTEGRATION_METHOD,
            internal_batch_size=batch_size,
            return_convergence_delta=True,
        )
    with torch.no_grad():
        v_full, v_baseline = (float(v) for v in counted(torch.cat([inputs, baselines])).cpu())

    token_values = attributions[0].detach().to(device="cpu", dtype=torch.float64).sum(dim=-1).numpy()
    owned_np = owners >= 0
    values = np.bincount(owners[owned_np], weights=token_values[owned_np], minlength=game.n_players)
    values = values.astype(np.float64)
    layer = next((name for name, m in value.module.named_modules() if m is value.embedding), "input embeddings")
    details = {
        "steps": steps,
        "baseline": baseline,
        "integration": INTEGRATION_METHOD,
        "internal_batch_size": batch_size,
        "convergence_delta": float(delta.detach().double().sum()),
        "differentiated": value.described,
        "embedding_layer": layer,
        "tokens_in_input": n_tokens,
        "tokens_interpolated": int(owned_np.sum()),
    }
    return GradientExplanation(
        players=list(game.players),
        spans=game.spans,
        values=values,
        v_baseline=v_baseline,
        v_full=v_full,
        completeness_gap=float(values.sum() - (v_full - v_baseline)),
        forward_passes=game.stats["forward_passes"] + passes["forward_passes"],
        tokens=game.stats["tokens"] + passes["tokens"],
        steps=steps,
        response=game.response,
        details=details,
        token_values=token_values,
        token_owners=owners,
    )


def _value_function(model, game) -> _Value:
    """The connector's value of `game` as a differentiable function of the full input's word embeddings."""
    connector, value_cfg = model.model_cfg["connector"], model.value
    kind = value_cfg["kind"]
    if connector == "sentence_embedder":
        return _sentence_value(model, game, value_cfg)
    if connector == "hf_classifier":
        net, target = model.model, game.target_class

        def classify(embeds: torch.Tensor) -> torch.Tensor:
            mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
            return class_value_tensor(net(inputs_embeds=embeds, attention_mask=mask).logits, target, kind)

        label = (net.config.id2label or {}).get(target, target)
        described = f"{kind} of class {target} ({label}), the game's target class"
        return _Value(net.get_input_embeddings(), net, model.device, classify, 0, described)
    return _logprob_value(model, game, value_cfg)


def _sentence_value(model, game, value_cfg: dict) -> _Value:
    encoder = model.encoder
    if not isinstance(encoder, NativeSentenceEncoder):
        raise ValueError(
            "model.path_or_id: this sentence-transformers model loads through SentenceTransformer (modules beyond "
            "Transformer, Pooling, Normalize); integrated_gradients needs its word embeddings, which that path hides"
        )
    similarity = value_cfg["similarity"]
    if value_cfg["kind"] == "contrast":
        positive, negative = (torch.as_tensor(v, dtype=torch.float64) for v in (model.positive, model.negative))

        def score(e: torch.Tensor) -> torch.Tensor:
            return tensor_similarity(e, positive, similarity) - tensor_similarity(e, negative, similarity)

        described = f"{similarity} similarity to the positive text minus to the negative text"
    else:
        target = torch.as_tensor(game.target_embedding, dtype=torch.float64)

        def score(e: torch.Tensor) -> torch.Tensor:
            return tensor_similarity(e, target, similarity)

        held = "the full input's embedding" if value_cfg["target"] == "full" else "the reference text's embedding"
        described = f"{similarity} similarity of the sentence embedding to {held} (held fixed)"

    def forward(embeds: torch.Tensor) -> torch.Tensor:
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        return score(encoder.embed_differentiable(embeds, mask))

    net = encoder.model
    return _Value(net.get_input_embeddings(), net, model.device, forward, 0, described)


def _logprob_value(model, game, value_cfg: dict) -> _Value:
    net, reduce = model.model, value_cfg["reduce"]
    embedding = net.get_input_embeddings()
    response = torch.as_tensor(game.response_ids, dtype=torch.long, device=model.device)
    r = response.shape[0]
    with torch.no_grad():
        response_embeds = embedding(response)[None]  # teacher forcing: the response is held fixed

    def forward(embeds: torch.Tensor) -> torch.Tensor:
        b = embeds.shape[0]
        sequence = torch.cat([embeds, response_embeds.expand(b, -1, -1)], dim=1)
        mask = torch.ones(sequence.shape[:2], dtype=torch.long, device=embeds.device)
        logits = net(inputs_embeds=sequence, attention_mask=mask, logits_to_keep=r + 1, use_cache=False).logits
        return response_logprob_tensor(logits[:, :-1], response, reduce)

    source = value_cfg["response"]
    described = f"teacher-forced {reduce} log-probability of the {source} response ({r} tokens, held fixed)"
    return _Value(embedding, net, model.device, forward, r, described)
