"""The prompt around a row's text or conversation: the tokenizer's chat template (with an optional system
turn), or BOS.

Shared by the in-process causal LM and the served connector, so both put the same tokens around the same
players: a served model explained through its own tokenizer sees exactly the prompt `hf_causal_lm` builds,
for a text row and for a conversation row (`messages`) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapsweep.errors import RowError
from shapsweep.features.conversation import Turn, tokenize_conversation
from shapsweep.features.tokenized import TokenizedRow, row_text, tokenize_row

# Stands for the row's text while the chat template is rendered; split on it to find the text's place.
TEXT_SLOT = "SHAPSWEEPTEXTSLOT7f3a"


@dataclass(frozen=True)
class PromptParts:
    """What surrounds the players: `prefix` + text + `suffix` (tokenized with or without the tokenizer's
    special tokens, after `prepend_ids`), or a conversation rendered whole by `render_conversation`."""

    tokenizer: Any
    system_prompt: str | None
    prefix: str
    suffix: str
    add_special_tokens: bool
    prepend_ids: tuple[int, ...]

    @classmethod
    def of(cls, tokenizer, system_prompt: str | None) -> PromptParts:
        return cls(tokenizer, system_prompt, *prompt_parts(tokenizer, system_prompt))

    def render_conversation(self, messages: list[dict]) -> str:
        """The prompt of a conversation (the system prompt first unless it has its own), ending where the
        assistant's reply starts: the chat template, or `role: content` lines without one."""
        system = self.system_prompt
        if system and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system}, *messages]
        tok = self.tokenizer
        if tok.chat_template:
            try:
                return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            except Exception as error:  # jinja raises TemplateError for e.g. roles out of order
                raise RowError("bad_input", f"the chat template cannot render `messages`: {error}") from error
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    def tokenize(self, row: dict, features: dict, turns: list[Turn] | None = None) -> TokenizedRow:
        """The row tokenized once with its players; `turns` (a conversation's prompt turns) replace `text`."""
        if turns is not None:
            return tokenize_conversation(
                self.tokenizer,
                turns,
                features,
                self.render_conversation,
                add_special_tokens=self.add_special_tokens,
                prepend_ids=self.prepend_ids,
                spans=row.get("spans"),
            ).tokenized
        return tokenize_row(
            self.tokenizer,
            row_text(row),
            features,
            spans=row.get("spans"),
            prefix=self.prefix,
            suffix=self.suffix,
            add_special_tokens=self.add_special_tokens,
            prepend_ids=self.prepend_ids,
        )


def prompt_parts(tokenizer, system_prompt: str | None) -> tuple[str, str, bool, tuple[int, ...]]:
    """(prefix, suffix, add_special_tokens, prepend_ids) that surround the row's text."""
    tok, system = tokenizer, system_prompt
    if tok.chat_template:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": TEXT_SLOT}
        ]
        try:
            rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception as error:  # jinja raises TemplateError for e.g. an unsupported system role
            field = "model.system_prompt" if system else "model.path_or_id"
            raise ValueError(f"{field}: the tokenizer's chat template failed: {error}") from error
        if rendered.count(TEXT_SLOT) != 1:
            raise ValueError("model.path_or_id: the tokenizer's chat template does not place the user text once")
        prefix, suffix = rendered.split(TEXT_SLOT)
        # The template writes its own BOS; tokenizing it again would double it.
        return prefix, suffix, False, ()
    prefix = f"{system}\n\n" if system else ""
    encoded = tok("x", add_special_tokens=True)["input_ids"]
    bos = tok.bos_token_id
    # Without BOS the empty coalition would be a zero-length prompt (no position to predict from).
    prepend = (bos,) if bos is not None and encoded[0] != bos else ()
    if bos is None and not prefix:
        raise ValueError(
            "model.path_or_id: the tokenizer has neither a chat template nor a BOS token; "
            "set model.system_prompt so the empty coalition still has a prompt"
        )
    return prefix, "", True, prepend
