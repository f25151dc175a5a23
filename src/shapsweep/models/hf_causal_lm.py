"""`hf_causal_lm` connector: AutoModelForCausalLM games, `logprob` or `generate_similarity`.

The prompt is the tokenizer's chat template around the row's text (with the optional system
prompt), or the bare text after BOS when the tokenizer has no template. Only the text's tokens are
players; template, system prompt and special tokens always stay. A row with `messages` is a
conversation (`features.conversation`): the template renders every turn, the turns
`features.players_from` names hold the players, and the value is computed on the reply that
follows. Prompts are left-padded so that responses line up at the end of the batch: teacher
forcing then needs logits for the last R+1 positions only, and greedy decoding appends one column
per step with a shared KV cache. Explicit position ids keep positions right under padding and under
`attention` masking.

The prompt's tokens before the first player-owned token (template, system prompt) are the same for
every coalition: their key/value cache is computed once (`prefix_cache`) and expanded over each batch,
and the model runs only the rest of each masked prompt. The left padding of that rest then sits
between the prefix and the real tokens, masked out, and positions continue at the prefix length, so
each coalition sees exactly the sequence and positions an unbatched, uncached call would give it.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from shapsweep.errors import RowError
from shapsweep.features.conversation import Turn, row_conversation
from shapsweep.features.masking import mask_batch
from shapsweep.features.tokenized import TokenizedRow
from shapsweep.models.chat_prompt import PromptParts
from shapsweep.models.device import BatchRunner
from shapsweep.models.game import CachedGame, GenerationMemo, Usage
from shapsweep.models.locate import resolve_path_or_id
from shapsweep.models.prefix_cache import PrefixCache, PrefixCaches, output_cache, shared_prefix_length
from shapsweep.models.pretrained import load_pretrained, max_positions
from shapsweep.models.reply_scorers import REPLY_SCORERS, load_reply_scorer
from shapsweep.models.sentence_encoder import load_sentence_encoder
from shapsweep.values.generate_similarity import reduce_tokens
from shapsweep.values.logprob import response_logprob
from shapsweep.values.similarity import tfidf_similarity, vector_similarity


class HFCausalLM:
    def __init__(self, model_cfg: dict, features_cfg: dict, value_cfg: dict):
        self.model_cfg, self.features, self.value = model_cfg, features_cfg, value_cfg
        self.tokenizer, self.model, self.device = load_pretrained(AutoModelForCausalLM, model_cfg)
        self._configure()
        self.prompt = PromptParts.of(self.tokenizer, self.model_cfg["system_prompt"])
        # Set False to run every coalition's whole prompt (the reference path the cached one must equal).
        self.reuse_prefix = True
        self.prefix_caches = PrefixCaches(self.model, self.device)

    def _configure(self) -> None:
        """What every generative connector sets up once its tokenizer and model are loaded (shared with
        hf_multimodal_lm): batching, stop and pad tokens, the external embedder."""
        value_cfg, model_cfg = self.value, self.model_cfg
        tok = self.tokenizer
        self.runner = BatchRunner(model_cfg["batch_size"])
        self.max_new_tokens = model_cfg["max_new_tokens"]
        self.max_length = max_positions(self.model.config)
        eos = self.model.generation_config.eos_token_id
        eos = tok.eos_token_id if eos is None else eos
        self.eos_ids = torch.tensor(sorted({eos} if isinstance(eos, int) else set(eos or [])), dtype=torch.long)
        candidates = (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id, 0)
        self.pad_token_id = next(t for t in candidates if t is not None)
        self.mask_token_id = next(
            (t for t in (tok.mask_token_id, tok.unk_token_id, tok.pad_token_id) if t is not None), None
        )
        self.special_ids = set(tok.all_special_ids)
        self.embedder = None
        self.reply_scorer = None  # bertscore, nli, judge, wer, cer: scores the reply's text
        if value_cfg["kind"] == "generate_similarity" and value_cfg["similarity"] in REPLY_SCORERS:
            self.reply_scorer = load_reply_scorer(value_cfg, model_cfg, explained=self)
        elif value_cfg["kind"] == "generate_similarity" and value_cfg["embedding"] == "external":
            path = resolve_path_or_id(value_cfg["embedder"], field="value.embedder")
            try:
                self.embedder = load_sentence_encoder(path, device=self.device)
            except OSError as error:
                raise ValueError(f"value.embedder: cannot load {value_cfg['embedder']!r} ({error})") from error

    # ---- prompt -------------------------------------------------------------------------------
    def conversation(self, row: dict) -> tuple[list[Turn], str | None]:
        """The prompt turns and the reply of a row with `messages` (text only here)."""
        return row_conversation(row)

    def tokenize(self, row: dict, extra_tokens: int, turns: list[Turn] | None = None) -> TokenizedRow:
        """The row tokenized once; `turns` (a conversation's prompt turns) replace its `text`."""
        tokenized = self.prompt.tokenize(row, self.features, turns)
        if self.max_length is not None and len(tokenized.ids) + extra_tokens > self.max_length:
            raise RowError(
                "too_long",
                f"prompt ({len(tokenized.ids)} tokens) + response ({extra_tokens}) exceed the model's {self.max_length} positions",
            )
        return tokenized

    def _masked(self, tokenized: TokenizedRow, coalitions: np.ndarray):
        return mask_batch(
            tokenized.ids,
            tokenized.owners,
            coalitions,
            self.features["masking"],
            pad_token_id=self.pad_token_id,
            mask_token_id=self.mask_token_id,
            padding_side="left",
        )

    # ---- model calls --------------------------------------------------------------------------
    def _split_prefix(self, tokenized: TokenizedRow, usage: Usage) -> tuple[PrefixCache | None, TokenizedRow]:
        """The cached shared prefix (None without reuse) and the part of the row each coalition runs."""
        if not self.reuse_prefix:
            return None, tokenized
        length = shared_prefix_length(tokenized.owners)
        cache, computed = self.prefix_caches.get(tokenized.ids[:length])
        if cache is None:
            return None, tokenized
        if computed:
            usage.add(1, length)
        return cache, TokenizedRow(tokenized.ids[length:], tokenized.owners[length:], tokenized.players)

    def _with_prefix(self, prefix: PrefixCache | None, attention: torch.Tensor, positions: torch.Tensor):
        """(attention over prefix + rest, positions shifted past the prefix, a fresh batch cache or None)."""
        if prefix is None:
            return attention, positions, None
        b = attention.shape[0]
        ones = torch.ones(b, prefix.length, dtype=attention.dtype, device=attention.device)
        return torch.cat([ones, attention], dim=1), positions + prefix.length, prefix.expanded(b, self.model.config)

    def teacher_forced_logprob(self, tokenized, response: torch.Tensor, coalitions, usage: Usage) -> np.ndarray:
        """log p(response | masked prompt) per coalition, one forward pass for the chunk."""
        prefix, rest = self._split_prefix(tokenized, usage)
        batch = self._masked(rest, coalitions)
        b, r = len(coalitions), response.shape[0]
        ids = torch.cat([torch.from_numpy(batch.input_ids), response.expand(b, r)], dim=1)
        attention = torch.cat([torch.from_numpy(batch.attention_mask), torch.ones(b, r, dtype=torch.long)], dim=1)
        lengths = torch.from_numpy(batch.lengths)
        positions = torch.cat([torch.from_numpy(batch.position_ids), lengths[:, None] + torch.arange(r)], dim=1)
        attention, positions, cache = self._with_prefix(prefix, attention, positions)
        with torch.inference_mode():
            logits = self.model(
                input_ids=ids.to(self.device),
                attention_mask=attention.to(self.device),
                position_ids=positions.to(self.device),
                logits_to_keep=r + 1,
                use_cache=cache is not None,
                **{self.prefix_caches.argument: cache},
            ).logits[:, :-1]
        usage.add(1, int(batch.lengths.sum()) + b * r)
        return response_logprob(logits, response.to(self.device), self.value["reduce"])

    def greedy(self, tokenized, coalitions, usage: Usage) -> list[list[int]]:
        """Greedy responses (token ids, the stopping EOS included) to each masked prompt, KV-cached."""
        prefix, rest = self._split_prefix(tokenized, usage)
        batch = self._masked(rest, coalitions)
        b = len(coalitions)
        attention, positions, cache = self._with_prefix(
            prefix, torch.from_numpy(batch.attention_mask), torch.from_numpy(batch.position_ids)
        )
        ids = torch.from_numpy(batch.input_ids).to(self.device)
        attention, positions = attention.to(self.device), positions.to(self.device)
        next_position = torch.from_numpy(batch.lengths).to(self.device) + (prefix.length if prefix else 0)
        eos = self.eos_ids.to(self.device)
        finished = torch.zeros(b, dtype=torch.bool, device=self.device)
        steps = []
        with torch.inference_mode():
            for step in range(self.max_new_tokens):
                out = self.model(
                    input_ids=ids,
                    attention_mask=attention,
                    position_ids=positions,
                    use_cache=True,
                    logits_to_keep=1,
                    **{self.prefix_caches.argument: cache},
                )
                usage.add(1, int(batch.lengths.sum()) if step == 0 else int((~finished).sum()))
                cache = output_cache(out)
                token = out.logits[:, -1].argmax(dim=-1)
                token = torch.where(finished, torch.full_like(token, self.pad_token_id), token)
                steps.append(token)
                finished |= torch.isin(token, eos)
                if bool(finished.all()):
                    break
                ids = token[:, None]
                attention = torch.cat([attention, torch.ones_like(ids)], dim=1)
                positions = (next_position + step)[:, None]
        generated = torch.stack(steps, dim=1).cpu().tolist()
        eos_set = set(self.eos_ids.tolist())
        responses = []
        for row in generated:
            cut = next((i + 1 for i, t in enumerate(row) if t in eos_set), len(row))
            responses.append(row[:cut])
        return responses

    def embed_responses(self, responses: list[list[int]], usage: Usage) -> np.ndarray:
        """(b, d) float64 embeddings of responses, per `value.embedding` and `value.reducer`."""
        kind, reducer = self.value["embedding"], self.value["reducer"]
        content = [[t for t in r if t not in self.special_ids] for r in responses]
        if kind == "external":
            texts = [self.tokenizer.decode(r) for r in content]
            usage.add(1, 0)
            return self.embedder.encode(texts)
        width = max(1, max(len(r) for r in content))
        ids = torch.full((len(content), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, r in enumerate(content):
            ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        with torch.inference_mode():
            if kind == "static":
                vectors = self.model.get_input_embeddings()(ids)
            else:  # contextual: the response read on its own, after BOS when there is one
                lead = [self.tokenizer.bos_token_id] if self.tokenizer.bos_token_id is not None else []
                lead_ids = torch.tensor(lead, dtype=torch.long, device=self.device).expand(len(content), len(lead))
                full_ids = torch.cat([lead_ids, ids], dim=1)
                full_mask = torch.cat([torch.ones_like(lead_ids), mask], dim=1)
                hidden = self.model(
                    input_ids=full_ids,
                    attention_mask=full_mask,
                    output_hidden_states=True,
                    use_cache=False,
                    logits_to_keep=1,
                ).hidden_states[-1]
                vectors = hidden[:, len(lead) :]
                usage.add(1, int(full_mask.sum()))
            reduced = reduce_tokens(vectors, mask, reducer)
        return reduced.cpu().numpy().astype(np.float64)

    # ---- games --------------------------------------------------------------------------------
    def game(self, row: dict) -> CachedGame:
        kind = self.value["kind"]
        usage = Usage()
        turns, reference = None, row.get("reference")
        if row.get("messages") is not None:
            turns, reply = self.conversation(row)
            if not (isinstance(reference, str) and reference.strip()):
                reference = reply
        if kind == "logprob" and self.value["response"] == "reference":
            if not isinstance(reference, str) or not reference.strip():
                raise RowError(
                    "missing_column",
                    "value.response 'reference' needs a non-empty `reference` column (or, in a conversation, "
                    "a last assistant turn)",
                )
            response_ids = self.tokenizer(reference, add_special_tokens=False)["input_ids"]
            tokenized = self.tokenize(row, len(response_ids), turns)
        else:
            tokenized = self.tokenize(row, self.max_new_tokens, turns)
            response_ids = self.greedy(tokenized, np.ones((1, tokenized.n_players), dtype=bool), usage)[0]
        response_text = self.tokenizer.decode(response_ids, skip_special_tokens=True)
        full = np.ones(tokenized.n_players, dtype=bool)
        prime = None

        if kind == "logprob":
            response = torch.tensor(response_ids, dtype=torch.long)

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                return self.teacher_forced_logprob(tokenized, response, coalitions, usage)

        elif self.value["similarity"] == "tfidf":
            # IDF over this explanation's responses: the full prompt's and the n leave-one-out
            # prompts', fixed before any value is returned so every coalition is scored alike.
            leave_one_out = ~np.eye(tokenized.n_players, dtype=bool)
            loo_texts = self._texts(self.runner_greedy(tokenized, leave_one_out, usage))
            corpus = [response_text] + loo_texts

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                texts = self._texts(self.greedy(tokenized, coalitions, usage))
                return tfidf_similarity(texts, response_text, corpus)

            prime = [(full, tfidf_similarity([response_text], response_text, corpus)[0])]
            prime += list(zip(leave_one_out, tfidf_similarity(loo_texts, response_text, corpus)))
        elif self.reply_scorer is not None:
            memo = GenerationMemo()
            memo.record(full, response_ids)

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                responses = memo.responses(coalitions, lambda todo: self.greedy(tokenized, todo, usage))
                return self.reply_scorer(self._texts(responses), response_text, usage)

            prime = [(full, self.reply_scorer([response_text], response_text, usage)[0])]
        else:
            target = self.embed_responses([response_ids], usage)[0]
            similarity = self.value["similarity"]
            memo = GenerationMemo()
            memo.record(full, response_ids)

            def evaluate(coalitions: np.ndarray) -> np.ndarray:
                responses = memo.responses(coalitions, lambda todo: self.greedy(tokenized, todo, usage))
                return vector_similarity(self.embed_responses(responses, usage), target, similarity)

            prime = [(full, vector_similarity(target[None, :], target, similarity)[0])]

        game = self._cached_game(tokenized, evaluate, usage, response_text)
        if kind == "generate_similarity" and self.value["similarity"] != "tfidf":
            game.generations = memo
        game.response_ids = list(response_ids)
        for coalition, value in prime or []:
            game.prime(coalition, value)
        return game

    def _cached_game(self, tokenized, evaluate, usage: Usage, response_text: str) -> CachedGame:
        game = CachedGame.of_players(tokenized.players, evaluate, self.runner, usage, response_text)
        game.tokenized = tokenized  # the full prompt's tokens and owners (integrated gradients differentiates them)
        return game

    def _texts(self, responses: list[list[int]]) -> list[str]:
        return [self.tokenizer.decode(r, skip_special_tokens=True) for r in responses]

    def runner_greedy(self, tokenized, coalitions: np.ndarray, usage: Usage) -> list[list[int]]:
        """greedy() over many coalitions in chunks of the batch size (halving on out-of-memory)."""
        chunks = self.runner.map(coalitions, lambda chunk: self.greedy(tokenized, chunk, usage))
        return [response for chunk in chunks for response in chunk]
