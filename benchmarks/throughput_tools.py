"""The tools the throughput benchmark times: shapsweep, the raw forward ceiling, Captum and shap.

Each runner returns (coalitions evaluated, seconds) over all rows of a case; model loading and
per-row set-up that every tool needs (the reference response, the full embedding) are outside the
timed region only where the tool lets us separate them, as noted per runner.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from shapsweep.features.masking import mask_batch

# The timer every runner uses: wall time by default; throughput.py may switch it to process CPU
# time, which a busy shared machine disturbs far less (at 1 thread it counts only this job's work).
clock = time.perf_counter


def set_clock(kind: str) -> None:
    global clock
    clock = time.process_time if kind == "process" else time.perf_counter


def run_shapsweep(model, case, include_reference: bool = True) -> tuple[int, float]:
    """Games built per row and the case's coalitions evaluated.

    With `include_reference` the time covers the whole explanation (tokenize, reference response or
    embedding, coalitions); without, only the game's coalition calls (what the ceiling measures).
    """
    count, total = 0, 0.0
    for i, row in enumerate(case.rows):
        start = clock()
        game = model.game(row)
        built = clock()
        coalitions = case.coalitions(game.n_players, i)
        game(coalitions)
        end = clock()
        total += end - (start if include_reference else built)
        count += len(coalitions)
    return count, total


def _sorted_chunks(coalitions: np.ndarray, batch_size: int):
    order = np.argsort(-coalitions.sum(axis=1), kind="stable")
    ordered = coalitions[order]
    return [ordered[s : s + batch_size] for s in range(0, len(ordered), batch_size)]


def embedder_ceiling(model, case) -> tuple[int, float]:
    """Raw encoder forward passes on the exact padded token batches shapsweep sends (built untimed)."""
    batches = []
    for i, row in enumerate(case.rows):
        game = model.game(row)
        tokenized = _tokenized(model, row)
        for chunk in _sorted_chunks(case.coalitions(game.n_players, i), model.runner.batch_size):
            b = mask_batch(tokenized.ids, tokenized.owners, chunk, "remove", pad_token_id=model.pad_token_id)
            batches.append(
                {"input_ids": torch.from_numpy(b.input_ids), "attention_mask": torch.from_numpy(b.attention_mask)}
            )
    count = sum(len(b["input_ids"]) for b in batches)
    start = clock()
    with torch.inference_mode():
        for features in batches:
            model.encoder(dict(features))["sentence_embedding"]
    return count, clock() - start


def media_ceiling(model, case) -> tuple[int, float]:
    """Raw classifier forward passes on the exact processor outputs shapsweep sends (masked images or clips
    through one processor call per chunk, built untimed)."""
    from shapsweep.models.game import Usage

    batches = []
    for i, row in enumerate(case.rows):
        parts = model.parts(row)
        for chunk in _sorted_chunks(case.coalitions(parts.n_players, i), model.runner.batch_size):
            batches.append(model.model_inputs(parts, chunk, Usage()))
    count = sum(len(next(iter(b.values()))) for b in batches)
    start = clock()
    with torch.inference_mode():
        for inputs in batches:
            model.model(**{k: v.to(model.device) for k, v in inputs.items()})
    return count, clock() - start


def _tokenized(model, row):
    from shapsweep.features.tokenized import tokenize_row

    if hasattr(model, "prefix"):
        return model.tokenize(row, 0)
    return tokenize_row(model.tokenizer, row["text"], model.features)


def causal_lm_ceiling(model, case) -> tuple[int, float]:
    """Raw teacher-forced forward passes (logits for the response positions only) on the same inputs."""
    batches = []
    for i, row in enumerate(case.rows):
        game = model.game(row)
        response = torch.tensor(game.response_ids)
        tokenized = _tokenized(model, row)
        r = len(response)
        for chunk in _sorted_chunks(case.coalitions(game.n_players, i), model.runner.batch_size):
            b = model._masked(tokenized, chunk)
            n = len(chunk)
            lengths = torch.from_numpy(b.lengths)
            batches.append(
                (
                    torch.cat([torch.from_numpy(b.input_ids), response.expand(n, r)], 1).to(model.device),
                    torch.cat([torch.from_numpy(b.attention_mask), torch.ones(n, r, dtype=torch.long)], 1).to(
                        model.device
                    ),
                    torch.cat([torch.from_numpy(b.position_ids), lengths[:, None] + torch.arange(r)], 1).to(
                        model.device
                    ),
                    r,
                )
            )
    count = sum(len(b[0]) for b in batches)
    _sync(model.device)
    start = clock()
    with torch.inference_mode():
        for ids, attention, positions, r in batches:
            model.model(
                input_ids=ids, attention_mask=attention, position_ids=positions, logits_to_keep=r + 1, use_cache=False
            )
    _sync(model.device)
    return count, clock() - start


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_captum(model, case, method: str, forward_in_tokens: bool) -> tuple[int, float]:
    """Captum LLMAttribution over the same word players (a TextTemplateInput slot per word).

    The chat template's text is the fixed part of the template, so the empty coalition is defined.
    Every call of the wrapped forward function is one coalition (Captum evaluates one at a time).
    """
    from captum.attr import FeatureAblation, LLMAttribution, ShapleyValueSampling, TextTemplateInput

    count = 0
    start = clock()
    for _i, row in enumerate(case.rows):
        game = model.game(row)  # the same greedy response shapsweep explains (timed: Captum would generate it too)
        words = game.players
        template = (
            model.prefix.replace("{", "{{").replace("}", "}}")
            + " ".join("{}" for _ in words)
            + model.suffix.replace("{", "{{").replace("}", "}}")
        )
        inp = TextTemplateInput(template=template, values=words)
        attr_method = FeatureAblation(model.model) if method == "FeatureAblation" else ShapleyValueSampling(model.model)
        llm_attr = LLMAttribution(attr_method, model.tokenizer)
        original = llm_attr.attr_method.forward_func
        calls = [0]

        def counted(*args, calls=calls, original=original, **kwargs):
            calls[0] += 1
            return original(*args, **kwargs)

        llm_attr.attr_method.forward_func = counted
        kwargs = {"n_samples": case.extra.get("captum_samples", 2)} if method == "ShapleyValueSampling" else {}
        target = torch.tensor(list(game.response_ids))
        llm_attr.attribute(inp, target=target, forward_in_tokens=forward_in_tokens, **kwargs)
        count += calls[0]
    return count, clock() - start


def _teacher_forced_strings(model, response_ids: list[int]):
    """A plain batched function of prompt strings -> log p(response | chat-templated prompt)."""
    response = torch.tensor(response_ids)
    tok = model.tokenizer

    def f(strings) -> np.ndarray:
        prompts = [model.prefix + s + model.suffix for s in strings]
        encoded = [tok(p, add_special_tokens=model.add_special_tokens)["input_ids"] for p in prompts]
        width = max(len(e) for e in encoded)
        r = len(response)
        ids = torch.full((len(encoded), width + r), model.pad_token_id)
        attention = torch.zeros_like(ids)
        for j, e in enumerate(encoded):  # left padding, response at the end
            ids[j, width - len(e) : width] = torch.tensor(e)
            attention[j, width - len(e) :] = 1
            ids[j, width:] = response
        positions = (attention.cumsum(1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = model.model(
                input_ids=ids, attention_mask=attention, position_ids=positions, logits_to_keep=r + 1
            ).logits[:, :-1]
        logprobs = torch.log_softmax(logits.float(), -1).gather(-1, response.expand(len(encoded), r)[..., None])
        return logprobs.squeeze(-1).sum(1).double().numpy()

    return f


def _shap_evals(case, row) -> int:
    """The case's evaluations, raised to the Permutation explainer's minimum of 2n + 1."""
    return max(case.evaluations, 2 * (len(row["text"].split()) + 2) + 1)


def run_shap(model, case, kind: str) -> tuple[int, float]:
    """shap's Permutation explainer with its Text masker (word tokens, removed words) over a plain
    batched function of masked strings; `max_evals` = the case's evaluations per row."""
    import shap

    from shapsweep.values.similarity import vector_similarity

    count = 0
    start = clock()
    for row in case.rows:
        if kind == "causal_lm":
            game = model.game(row)
            inner = _teacher_forced_strings(model, game.response_ids)
        else:
            target = model.embed_texts([row["text"]])[0]

            def inner(strings, target=target):
                return vector_similarity(model.embed_texts(list(strings)), target, "cosine")

        calls = [0]

        def f(strings, inner=inner, calls=calls):
            calls[0] += len(strings)
            return inner(list(strings))

        # Word tokens by regex; shap's default mask for a regex tokenizer is "..." (collapsed runs).
        masker = shap.maskers.Text(tokenizer=r"\W+", collapse_mask_token=True)
        explainer = shap.explainers.Permutation(f, masker, seed=0)
        explainer([row["text"]], max_evals=_shap_evals(case, row), batch_size=64, silent=True)
        count += calls[0]
    return count, clock() - start


def run_shap_teacher_forcing(model, case) -> tuple[int, float]:
    """shap.models.TeacherForcing on the causal LM with shap's Text masker over the model's tokenizer
    (its players are tokenizer tokens, masked with "..."; no chat template: shap feeds the raw text).
    Coalitions are counted as the masked inputs TeacherForcing receives."""
    import shap

    calls = [0]

    class CountingTeacherForcing(shap.models.TeacherForcing):
        def __call__(self, X, Y):
            calls[0] += len(X)
            return super().__call__(X, Y)

    start = clock()
    for row in case.rows:
        game = model.game(row)
        wrapped = CountingTeacherForcing(model.model, model.tokenizer, batch_size=model.runner.batch_size)
        masker = shap.maskers.Text(model.tokenizer, mask_token="...", collapse_mask_token=True)
        explainer = shap.explainers.Permutation(wrapped, masker, seed=0)
        n_tokens = len(model.tokenizer(row["text"])["input_ids"])
        explainer(
            [row["text"]],
            [game.response],
            max_evals=max(case.evaluations, 2 * n_tokens + 3),
            batch_size=64,
            silent=True,
        )
    return calls[0], clock() - start
