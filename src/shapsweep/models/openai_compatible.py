"""`openai_compatible` connector: games over a model served behind an OpenAI-compatible HTTP API.

vLLM, SGLang, llama.cpp's server and LM Studio all answer `POST /v1/completions`. The row's text is split
into players with the served model's own tokenizer (`model.path_or_id`, loaded without weights), the chat
template is rendered around it exactly as `hf_causal_lm` does, and each coalition's masked prompt goes to
the server as text, one request per coalition, `model.concurrency` in flight.

Values:
- `logprob`: log p(response | masked prompt) from the server's *prompt* log-probabilities (`echo` with
  `logprobs`): the prompt plus the response is sent with `max_tokens` 1 and the response's tokens are the
  last ones echoed before the generated one (`reply_logprobs`: none is echoed when the server stopped on
  EOS and says so with `usage.completion_tokens` 0, as llama-cpp-python does). A server that does not echo
  prompt log-probabilities is refused when the model loads, naming the value kind to use instead.
- `generate_similarity`: greedy generation (temperature 0, fixed seed), the reply embedded by a sentence
  embedder (or TF-IDF) and compared with the full prompt's reply. Generations go through the store.

The store keys each game on what the server says it serves (its `/v1/models` entry), so a model swapped
behind the same URL never hits old entries. A request that still fails after its retries fails its row
(`server_error`), never the shard.
"""

from __future__ import annotations

import os

import numpy as np
from transformers import AutoTokenizer

from shapsweep.errors import RowError
from shapsweep.features.conversation import row_conversation
from shapsweep.features.masking import mask_batch
from shapsweep.features.tokenized import TokenizedRow
from shapsweep.models.chat_prompt import PromptParts
from shapsweep.models.device import BatchRunner
from shapsweep.models.game import CachedGame, GenerationMemo, Usage
from shapsweep.models.locate import resolve_path_or_id
from shapsweep.models.sentence_encoder import load_sentence_encoder
from shapsweep.models.served_http import CompletionsClient, RetryPolicy, ServedError
from shapsweep.values.similarity import tfidf_similarity, vector_similarity

_GENERATION_SEED = 0
# /v1/models fields that change without the model changing (timestamps, access lists).
_VOLATILE = ("created", "object", "permission", "permissions")


class OpenAICompatible:
    def __init__(self, model_cfg: dict, features_cfg: dict, value_cfg: dict):
        self.model_cfg, self.features, self.value = model_cfg, features_cfg, value_cfg
        path = resolve_path_or_id(model_cfg["path_or_id"], field="model.path_or_id")
        self.tokenizer = AutoTokenizer.from_pretrained(path, revision=model_cfg["revision"])
        self.prompt = PromptParts.of(self.tokenizer, model_cfg["system_prompt"])
        tok = self.tokenizer
        self.pad_token_id = next(t for t in (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, 0) if t is not None)
        self.mask_token_id = next(
            (t for t in (tok.mask_token_id, tok.unk_token_id, tok.pad_token_id) if t is not None), None
        )
        self.runner = BatchRunner(model_cfg["batch_size"])
        api_key = None
        if model_cfg["api_key_env"]:
            api_key = os.environ.get(model_cfg["api_key_env"])
            if not api_key:
                raise ValueError(
                    f"model.api_key_env: the environment variable {model_cfg['api_key_env']!r} is not set; "
                    "export the server's API key under that name (it is never written to any output)"
                )
        self.client = CompletionsClient(
            model_cfg["base_url"],
            api_key,
            concurrency=model_cfg["concurrency"],
            timeout_s=model_cfg["timeout_s"],
            retry=RetryPolicy(max_retries=model_cfg["max_retries"]),
        )
        self.store_identity = {"served_model": self._served_model()}
        self.embedder = None
        if value_cfg["kind"] == "generate_similarity" and value_cfg["similarity"] != "tfidf":
            embedder = resolve_path_or_id(value_cfg["embedder"], field="value.embedder")
            self.embedder = load_sentence_encoder(embedder, device="cpu")
        if value_cfg["kind"] == "logprob":
            self._check_prompt_logprobs()

    # ---- the server ---------------------------------------------------------------------------
    def _served_model(self) -> dict:
        """The server's /v1/models entry for model.model, without fields that change by themselves."""
        try:
            listing = self.client.get("/v1/models")
        except ServedError as error:
            raise ValueError(f"model.base_url: cannot list the served models ({error})") from None
        entries = listing.get("data") or []
        ids = [e.get("id") for e in entries]
        wanted = self.model_cfg["model"]
        entry = next((e for e in entries if e.get("id") == wanted), None)
        if entry is None:
            raise ValueError(f"model.model: {wanted!r} is not served at {self.model_cfg['base_url']} (it serves {ids})")
        return {k: v for k, v in sorted(entry.items()) if k not in _VOLATILE}

    def _check_prompt_logprobs(self) -> None:
        """Refuse a server that gives no log-probability to a reply's tokens after the empty coalition's
        prompt (the least any coalition sends): none at all, or none for the reply's first token, which
        llama-cpp-python leaves `null` when only a BOS precedes it (it drops the BOS from the echo)."""
        empty = self._prompt_around("")
        reply = "Hello"
        picked = None
        try:
            answer = self.client.post("/v1/completions", self._payload(empty + reply, max_tokens=1, echo=True))
            picked = reply_logprobs(answer, len(self.tokenizer(reply, add_special_tokens=False)["input_ids"]))
        except ServedError as error:
            reason = str(error)
        else:
            reason = "the answer has no prompt log-probabilities"
        if picked and None in picked:
            raise ValueError(
                f"value.kind: 'logprob': the server at {self.model_cfg['base_url']} gives the first token of a "
                f"reply no log-probability when the prompt before it is only {empty!r} (the empty coalition's); "
                "set model.system_prompt so every prompt has text before the reply (docs/served.md)"
            )
        if not picked:
            raise ValueError(
                f"value.kind: 'logprob' needs the prompt's log-probabilities (completions with echo and logprobs); "
                f"the server at {self.model_cfg['base_url']} does not return them ({reason}). llama.cpp's "
                "llama-cpp-python serves them with logits_all; vLLM does. Use value.kind 'generate_similarity'."
            )
        self._check_echo_alignment(self._prompt_around(reply))

    def _prompt_around(self, text: str) -> str:
        """The prompt a coalition keeping exactly `text` sends: BOS (when the connector adds one), template."""
        bos = self.tokenizer.decode(list(self.prompt.prepend_ids), skip_special_tokens=False)
        return bos + self.prompt.prefix + text + self.prompt.suffix

    def _check_echo_alignment(self, prompt: str) -> None:
        """Refuse echoed log-probabilities that do not belong to their tokens: a token a generation after
        `prompt` offers (with its log-probability) is echoed with the same one after `prompt` + that token.

        llama-cpp-python (0.3.x) drops a leading BOS from the echo and pairs the rest with the logits
        from position 0, so for a prompt that does not start with BOS every echoed value is the next
        position's. The candidates are the generation's top 5 tokens, the first that both tokenizers keep
        as one token after the prompt is checked; where none is (or the generation ends at once), the check
        passes.
        """
        try:
            generated = self.client.post("/v1/completions", {**self._payload(prompt, max_tokens=1), "logprobs": 5})
        except ServedError:
            return  # the echo check above answered; a server refusing plain logprobs is not the case here
        top = ((generated.get("choices") or [{}])[0].get("logprobs") or {}).get("top_logprobs") or [None]
        before = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]

        def one_more_token(text: str) -> bool:
            after = self.tokenizer(prompt + text, add_special_tokens=False)["input_ids"]
            return bool(text) and len(after) == len(before) + 1 and after[:-1] == before

        for text, value in sorted((top[0] or {}).items(), key=lambda item: -item[1]):
            if not one_more_token(text):
                continue
            try:
                answer = self.client.post("/v1/completions", self._payload(prompt + text, max_tokens=1, echo=True))
            except ServedError:
                return
            values = _token_logprobs(answer) or []
            tokens = ((answer.get("choices") or [{}])[0].get("logprobs") or {}).get("tokens") or []
            if len(tokens) != len(values):
                return
            # the candidate is the entry before the generated one's; a server that shifts its values also
            # drops that entry (llama-cpp-python), so the candidate may be the last one listed
            ends = (len(values) - _generated_entries(answer), len(values))
            end = next((e for e in ends if e >= 1 and tokens[e - 1] == text), None)
            if end is None:
                continue  # the server splits it in two (its tokenizer is not the connector's here): next one
            if values[end - 1] is None:
                return
            if abs(values[end - 1] - value) > 1e-2:
                raise ValueError(
                    f"value.kind: 'logprob' needs the prompt's log-probabilities, but the server at "
                    f"{self.model_cfg['base_url']} echoes values that do not belong to their tokens: {text!r} is "
                    f"offered with log-probability {value:.4f} and echoed with {values[end - 1]:.4f}. llama-cpp-python "
                    "shifts them by one token when the prompt does not start with the model's BOS "
                    "(docs/served.md); serve the model with vLLM, or use value.kind 'generate_similarity'."
                )
            return

    def _payload(self, prompt: str, *, max_tokens: int, echo: bool = False) -> dict:
        payload = {
            **self.model_cfg["request_options"],
            "model": self.model_cfg["model"],
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "top_p": 1.0,
            "seed": _GENERATION_SEED,
        }
        if echo:
            payload.update(echo=True, logprobs=1)
        return payload

    # ---- prompts ------------------------------------------------------------------------------
    def tokenize(self, row: dict, turns=None) -> TokenizedRow:
        """The row's prompt tokens and players, as hf_causal_lm builds them; `turns`: a conversation's."""
        return self.prompt.tokenize(row, self.features, turns)

    def masked_prompts(self, tokenized: TokenizedRow, coalitions: np.ndarray) -> list[str]:
        """Each coalition's prompt as the text of its kept tokens (special tokens written out)."""
        batch = mask_batch(
            tokenized.ids,
            tokenized.owners,
            coalitions,
            self.features["masking"],
            pad_token_id=self.pad_token_id,
            mask_token_id=self.mask_token_id,
        )
        return [
            self.tokenizer.decode(ids[:length], skip_special_tokens=False, clean_up_tokenization_spaces=False)
            for ids, length in zip(batch.input_ids, batch.lengths)
        ]

    # ---- values -------------------------------------------------------------------------------
    def _served(self, prompts: list[str], usage: Usage, **kwargs) -> list[dict]:
        try:
            answers = self.client.post_many("/v1/completions", [self._payload(p, **kwargs) for p in prompts])
        except ServedError as error:
            raise RowError("server_error", f"{error} (after {self.model_cfg['max_retries']} retries)") from None
        usage.add(len(prompts), sum(int((a.get("usage") or {}).get("total_tokens", 0)) for a in answers))
        return answers

    def logprobs(self, prompts: list[str], response: str, response_tokens: int, usage: Usage) -> np.ndarray:
        answers = self._served([p + response for p in prompts], usage, max_tokens=1, echo=True)
        reduce = np.sum if self.value["reduce"] == "sum" else np.mean
        out = []
        for answer in answers:
            picked = reply_logprobs(answer, response_tokens)
            if picked is None or any(v is None for v in picked):
                raise RowError("server_error", "the server echoed fewer prompt log-probabilities than the response has")
            out.append(float(reduce(np.asarray(picked, dtype=np.float64))))
        return np.asarray(out)

    def generate(self, prompts: list[str], usage: Usage) -> list[str]:
        answers = self._served(prompts, usage, max_tokens=self.model_cfg["max_new_tokens"])
        return [(answer.get("choices") or [{}])[0].get("text") or "" for answer in answers]

    # ---- games --------------------------------------------------------------------------------
    def game(self, row: dict) -> CachedGame:
        usage = Usage()
        turns, reference = None, row.get("reference")
        if row.get("messages") is not None:
            turns, reply = row_conversation(row)
            if not (isinstance(reference, str) and reference.strip()):
                reference = reply
        tokenized = self.tokenize(row, turns)
        full = np.ones((1, tokenized.n_players), dtype=bool)
        if self.value["kind"] == "logprob" and self.value["response"] == "reference":
            response = reference
            if not isinstance(response, str) or not response.strip():
                raise RowError(
                    "missing_column",
                    "value.response 'reference' needs a non-empty `reference` column (or, in a conversation, "
                    "a last assistant turn)",
                )
        else:
            response = self.generate(self.masked_prompts(tokenized, full), usage)[0]
        prime = []
        memo = None
        if self.value["kind"] == "logprob":
            response_tokens = len(self.tokenizer(response, add_special_tokens=False)["input_ids"])
            if response_tokens == 0:
                raise RowError("empty_input", "the response to score is empty (the server generated nothing)")

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                return self.logprobs(self.masked_prompts(tokenized, coalitions), response, response_tokens, usage)

        elif self.value["similarity"] == "tfidf":
            # IDF over the full prompt's reply and the n leave-one-out replies, fixed before any value.
            leave_one_out = ~np.eye(tokenized.n_players, dtype=bool)
            loo = self.generate(self.masked_prompts(tokenized, leave_one_out), usage)
            corpus = [response, *loo]

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                return tfidf_similarity(
                    self.generate(self.masked_prompts(tokenized, coalitions), usage), response, corpus
                )

            prime = [(full[0], tfidf_similarity([response], response, corpus)[0])]
            prime += list(zip(leave_one_out, tfidf_similarity(loo, response, corpus)))
        else:
            target = self.embedder.encode([response])[0]
            similarity = self.value["similarity"]
            memo = GenerationMemo()
            memo.record(full[0], self._ids(response))

            def generate_ids(todo: np.ndarray) -> list[list[int]]:
                return [self._ids(text) for text in self.generate(self.masked_prompts(tokenized, todo), usage)]

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                replies = [self.tokenizer.decode(ids) for ids in memo.responses(coalitions, generate_ids)]
                return vector_similarity(self.embedder.encode(replies), target, similarity)

            prime = [(full[0], vector_similarity(target[None, :], target, similarity)[0])]
        game = CachedGame.of_players(tokenized.players, evaluate, self.runner, usage, response)
        if memo is not None:
            game.generations = memo
        for coalition, value in prime:
            game.prime(coalition, value)
        return game

    def _ids(self, text: str) -> list[int]:
        """A reply as token ids (how the store keeps generations); decoding gives the text back."""
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def _token_logprobs(answer: dict) -> list | None:
    choice = (answer.get("choices") or [{}])[0]
    return (choice.get("logprobs") or {}).get("token_logprobs")


def reply_logprobs(answer: dict, response_tokens: int) -> list | None:
    """The log-probabilities of the last `response_tokens` prompt tokens of an echoed completion (max_tokens 1).

    The echo ends with the generated token's entry, except where the server stopped on EOS and leaves it
    out: llama-cpp-python then reports `usage.completion_tokens` 0 (vLLM counts and echoes the EOS). Without
    this, the pick would shift by one token onto the prompt. None when fewer entries were echoed.
    """
    echoed = _token_logprobs(answer)
    generated = _generated_entries(answer)
    if not echoed or len(echoed) < response_tokens + generated:
        return None
    return echoed[len(echoed) - generated - response_tokens : len(echoed) - generated]


def _generated_entries(answer: dict) -> int:
    """How many generated tokens (0 or 1) an echo with `max_tokens` 1 ends with: its `usage.completion_tokens`
    (1 where the server does not say)."""
    counted = (answer.get("usage") or {}).get("completion_tokens")
    return 1 if counted is None else min(1, int(counted))
