"""The prompt around a row's text: the tokenizer's chat template (with an optional system turn), or BOS.

Shared by the in-process causal LM and the served connector, so both put the same tokens around the same
players: a served model explained through its own tokenizer sees exactly the prompt `hf_causal_lm` builds.
"""

from __future__ import annotations

# Stands for the row's text while the chat template is rendered; split on it to find the text's place.
TEXT_SLOT = "SHAPSWEEPTEXTSLOT7f3a"


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
