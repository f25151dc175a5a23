"""`hf_multimodal_lm` connector: image-text-to-text (LLaVA-style) and audio-text-to-text (Qwen2-Audio)
models through their own `AutoProcessor` and chat template; values `logprob` and `generate_similarity`
exactly as `hf_causal_lm` (this class reuses its value code and only replaces how a batch of masked
prompts reaches the model).

The user turn holds the row's media item and its text. Players: the text's words (when `text` is one of
`features.modalities`) followed by the image's regions or the audio's segments; the system prompt and
the template never are. A coalition's prompt is the template around the masked text (absent words
removed) with the masked image or clip; one processor call turns a chunk of them into model inputs.
Teacher forcing appends the response after each prompt's own last token (right padding), so every
prompt keeps the positions an unbatched call would give it; generation pads on the left, as
`generate` expects.
"""

from __future__ import annotations

import numpy as np
import torch

from shapsweep.errors import RowError
from shapsweep.features.conversation import conversation_text, player_turns, row_conversation, spans_by_turn
from shapsweep.features.parts import Parts, PromptTextPart, media_part
from shapsweep.features.text import split_players
from shapsweep.models.chat_prompt import TEXT_SLOT
from shapsweep.models.config import modalities_of
from shapsweep.models.ctc_aligner import aligner_for
from shapsweep.models.game import CachedGame, Usage
from shapsweep.models.hf_causal_lm import HFCausalLM
from shapsweep.models.media_processing import processor_rate
from shapsweep.models.pretrained import load_weights, max_positions
from shapsweep.values.logprob import response_logprob


def _auto_class(media: str):
    import transformers

    if media == "image":
        return transformers.AutoModelForImageTextToText
    return getattr(transformers, "AutoModelForMultimodalLM", transformers.AutoModelForSeq2SeqLM)


class MultimodalPrompt:
    """One row's prompt pieces: its parts (players) and how a coalition's masked texts become its prompt
    (`compose(masked texts per text part, batch size) -> prompt strings`, template included)."""

    def __init__(self, parts: Parts, compose):
        self.parts = parts
        self.compose = compose
        self.n_players = parts.n_players


class HFMultimodalLM(HFCausalLM):
    def __init__(self, model_cfg: dict, features_cfg: dict, value_cfg: dict):
        from transformers import AutoProcessor

        self.model_cfg, self.features, self.value = model_cfg, features_cfg, value_cfg
        self.modalities = modalities_of(features_cfg)
        self.media = self.modalities[-1]  # image | audio (the config layer checks the combination)
        self.model, self.device, path = load_weights(_auto_class(self.media), model_cfg)
        common = {"revision": model_cfg["revision"], "trust_remote_code": model_cfg["trust_remote_code"]}
        try:
            self.processor = AutoProcessor.from_pretrained(path, **common)
        except (OSError, ValueError) as error:
            raise ValueError(f"model.path_or_id: {model_cfg['path_or_id']!r} has no processor ({error})") from error
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # for generate; teacher forcing re-pads on the right
        self._configure()
        self.max_length = max_positions(getattr(self.model.config, "text_config", self.model.config))
        self.sampling_rate = processor_rate(self.processor.feature_extractor) if self.media == "audio" else None
        self.prefix, self.suffix = self._template()
        self.aligner = aligner_for(features_cfg, model_cfg)

    def _template(self) -> tuple[str, str]:
        """The rendered chat template before and after the user text (the media item comes first)."""
        system = self.model_cfg["system_prompt"]
        item = {"type": "image"} if self.media == "image" else {"type": "audio", "audio_url": "row-audio"}
        messages = ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []) + [
            {"role": "user", "content": [item, {"type": "text", "text": TEXT_SLOT}]}
        ]
        template = getattr(self.processor, "chat_template", None) or self.tokenizer.chat_template
        if not template:
            raise ValueError("model.path_or_id: the processor has no chat template; hf_multimodal_lm needs one")
        try:
            rendered = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as error:  # jinja raises TemplateError for e.g. an unsupported system role
            field = "model.system_prompt" if system else "model.path_or_id"
            raise ValueError(f"{field}: the processor's chat template failed: {error}") from error
        if rendered.count(TEXT_SLOT) != 1:
            raise ValueError("model.path_or_id: the chat template does not place the user text once")
        prefix, suffix = rendered.split(TEXT_SLOT)
        return prefix, suffix

    # ---- prompts ------------------------------------------------------------------------------
    def _media_item(self) -> dict:
        return {"type": "image"} if self.media == "image" else {"type": "audio", "audio_url": "row-audio"}

    def conversation(self, row: dict):
        """The prompt turns and reply of a `messages` row; one turn may hold the row's image or audio."""
        return row_conversation(row, (self.media,))

    def _spans(self) -> bool:
        return self.features["granularity"] == "spans"

    def _words(self, text: str, spans=None) -> list:
        try:
            return split_players(
                text,
                self.features["granularity"],
                spans=spans,
                exclude_punctuation=self.features["exclude_punctuation"],
            )
        except (ValueError, TypeError) as error:
            raise RowError("bad_spans", str(error)) from error

    def tokenize(self, row: dict, extra_tokens: int, turns=None) -> MultimodalPrompt:
        """The row's parts (text players when text is a modality, then the media players)."""
        if turns is not None:
            return self._conversation_prompt(row, turns)
        text = row.get("text")
        if text is not None and not isinstance(text, str):
            raise RowError("bad_input", f"`text` must be a string, got {type(text).__name__}")
        parts = []
        if "text" in self.modalities:
            if not text or not text.strip():
                raise RowError("empty_input", "`text` is empty")
            parts.append(PromptTextPart(text, self._words(text, row.get("spans"))))
        parts.append(media_part(row, self.media, self.features, self.sampling_rate, self.aligner))
        fixed = None if "text" in self.modalities else (text or "")

        def compose(masked: list, b: int) -> list[str]:
            texts = masked[0] if fixed is None else [fixed] * b
            return [self.prefix + t + self.suffix for t in texts]

        return MultimodalPrompt(Parts(parts, self.features["max_players"]), compose)

    def _conversation_prompt(self, row: dict, turns: list) -> MultimodalPrompt:
        """A conversation through the processor's chat template: the media item in the turn that holds it
        (the last user turn when only the row's own `image`/`audio` column holds one), text players from the
        turns `features.players_from` names (when text is a modality), every other turn whole. `spans`
        players index the conversation text (`features.conversation.spans_by_turn`), as in hf_causal_lm."""
        holder = next((i for i, t in enumerate(turns) if t.media_kind is not None), None)
        if holder is None:
            if row.get(self.media) is None:
                raise RowError(
                    "missing_column", f"the conversation holds no {self.media} and the row has no `{self.media}`"
                )
            holder = player_turns(turns, "last_user")[0]
        else:
            row = {**row, self.media: turns[holder].media}
        system = self.model_cfg["system_prompt"]
        messages = (
            [{"role": "system", "content": [{"type": "text", "text": system}]}]
            if system and turns[0].role != "system"
            else []
        )
        slots = [f"{TEXT_SLOT}{i}" for i in range(len(turns))]
        for i, (turn, slot) in enumerate(zip(turns, slots)):
            item = [self._media_item()] if i == holder else []
            messages.append({"role": turn.role, "content": [*item, {"type": "text", "text": slot}]})
        try:
            rendered = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as error:  # jinja raises TemplateError for e.g. roles out of order
            raise RowError("bad_input", f"the chat template cannot render `messages`: {error}") from error
        order = sorted((rendered.index(slot), i) for i, slot in enumerate(slots) if rendered.count(slot) == 1)
        if len(order) != len(turns):
            raise ValueError("model.path_or_id: the chat template does not place every turn's text exactly once")
        pieces, cursor = [], 0  # template text before each turn's text (in rendered order), then the tail
        for position, i in order:
            pieces.append(rendered[cursor:position])
            cursor = position + len(slots[i])
        tail = rendered[cursor:]
        _, bounds = conversation_text(turns)
        chosen = (
            player_turns(turns, self.features.get("players_from", "last_user")) if "text" in self.modalities else []
        )
        by_turn = spans_by_turn(row.get("spans"), bounds, chosen) if chosen and self._spans() else {}
        parts, part_of = [], {}
        for i in chosen:
            if self._spans() and i not in by_turn:
                continue  # a chosen turn no span falls in stays whole
            words = self._words(turns[i].content, by_turn.get(i)) if turns[i].content.strip() else []
            if words:
                part_of[i] = len(parts)
                parts.append(PromptTextPart(turns[i].content, words, offset=bounds[i][0]))
        if "text" in self.modalities and not parts:
            raise RowError("empty_input", "the turns features.players_from names have no players at this granularity")
        parts.append(media_part(row, self.media, self.features, self.sampling_rate, self.aligner))

        def compose(masked: list, b: int) -> list[str]:
            prompts = []
            for k in range(b):
                texts = [masked[part_of[i]][k] if i in part_of else turns[i].content for _, i in order]
                prompts.append("".join(p + t for p, t in zip(pieces, texts)) + tail)
            return prompts

        return MultimodalPrompt(Parts(parts, self.features["max_players"]), compose)

    def model_inputs(self, prompt: MultimodalPrompt, coalitions: np.ndarray) -> dict:
        """Processor outputs (left-padded) for a chunk of coalitions: one processor call."""
        masked = prompt.parts.masked(coalitions)
        media = masked[-1]
        prompts = prompt.compose(masked, len(coalitions))
        common = {"return_tensors": "pt", "padding": True, "add_special_tokens": False}
        if self.media == "image":
            inputs = self.processor(text=prompts, images=list(media), **common)
        else:
            inputs = self.processor(text=prompts, audio=list(media), sampling_rate=self.sampling_rate, **common)
        return {k: v.to(self.device) if hasattr(v, "to") else v for k, v in dict(inputs).items()}

    # ---- model calls (replace hf_causal_lm's token-level ones) ----------------------------------
    def teacher_forced_logprob(self, prompt, response: torch.Tensor, coalitions, usage: Usage) -> np.ndarray:
        """log p(response | masked prompt) per coalition, one forward pass for the chunk."""
        inputs = self.model_inputs(prompt, coalitions)
        ids, attention = inputs.pop("input_ids"), inputs.pop("attention_mask")
        lengths = attention.sum(dim=1)
        b, r = ids.shape[0], response.shape[0]
        width = int(lengths.max()) + r
        joined = torch.full((b, width), self.pad_token_id, dtype=ids.dtype, device=ids.device)
        mask = torch.zeros((b, width), dtype=attention.dtype, device=ids.device)
        response = response.to(ids.device)
        for i in range(b):  # right padding: each prompt, then the response, at the positions it would have alone
            real = ids[i][attention[i].bool()]
            joined[i, : len(real)] = real
            joined[i, len(real) : len(real) + r] = response
            mask[i, : len(real) + r] = 1
        with torch.inference_mode():
            logits = self.model(input_ids=joined, attention_mask=mask, use_cache=False, **inputs).logits
        # the logits that predict response token t sit at position len_i - 1 + t
        index = (lengths[:, None] - 1 + torch.arange(r, device=ids.device)[None, :]).to(logits.device)
        picked = logits.gather(1, index[:, :, None].expand(b, r, logits.shape[-1]))
        usage.add(1, int(lengths.sum()) + b * r)
        return response_logprob(picked, response.to(logits.device), self.value["reduce"])

    def greedy(self, prompt, coalitions, usage: Usage) -> list[list[int]]:
        """Greedy responses (token ids, the stopping EOS included) to each masked prompt."""
        inputs = self.model_inputs(prompt, coalitions)
        width = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.pad_token_id,
                eos_token_id=self.eos_ids.tolist(),
            )
        usage.add(self.max_new_tokens, int(inputs["attention_mask"].sum()))
        eos = set(self.eos_ids.tolist())
        responses = []
        for row in out[:, width:].cpu().tolist():
            cut = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
            responses.append(row[:cut])
        return responses

    def _cached_game(self, prompt, evaluate, usage: Usage, response_text: str) -> CachedGame:
        parts = prompt.parts
        return CachedGame(
            parts.players, parts.spans, evaluate, self.runner, usage, response=response_text, regions=parts.regions
        )
