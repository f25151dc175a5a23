"""Word segments of a clip from a CTC speech model (`features.audio.aligner`), for `words` audio players.

The aligner's greedy CTC path gives each frame a token: characters, the blank (the tokenizer's pad
token) or the word delimiter (`|`). A word is a run of character frames between delimiters (blanks inside
a word are kept in it, blanks around it are not); its time span is that of its first and last character
frames, at the model's frame rate (clip duration / frames). The word's text is the CTC-collapsed
characters. This is the segmentation MLLM-SHAP's SGPA builds its word players from, here without a
transcript: rows that have one as `word_times` keep theirs.
"""

from __future__ import annotations

import numpy as np
import torch

from shapsweep.data.media import resample
from shapsweep.models.locate import resolve_path_or_id


class CTCAligner:
    def __init__(self, path_or_id: str, model_cfg: dict):
        from transformers import AutoModelForCTC, AutoProcessor

        from shapsweep.models.device import resolve_device

        path = resolve_path_or_id(path_or_id, field="features.audio.aligner")
        common = {"revision": None, "trust_remote_code": model_cfg["trust_remote_code"]}
        try:
            self.processor = AutoProcessor.from_pretrained(path, **common)
            self.model = AutoModelForCTC.from_pretrained(path, **common)
        except (OSError, ValueError) as error:
            raise ValueError(f"features.audio.aligner: cannot load {path_or_id!r} as a CTC model ({error})") from error
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is None or getattr(tokenizer, "word_delimiter_token_id", None) is None:
            raise ValueError(f"features.audio.aligner: {path_or_id!r} has no CTC tokenizer with a word delimiter")
        self.device = resolve_device(model_cfg["device"])
        self.model.to(self.device).eval()
        self.tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.blank = tokenizer.pad_token_id
        self.delimiter = tokenizer.word_delimiter_token_id
        self.rate = int(self.processor.feature_extractor.sampling_rate)

    def frame_tokens(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """The greedy CTC token of each frame."""
        clip = resample(samples, rate, self.rate)
        inputs = self.processor(clip, sampling_rate=self.rate, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits[0]
        return logits.argmax(dim=-1).cpu().numpy()

    def __call__(self, samples: np.ndarray, rate: int) -> list[list]:
        """[[start_s, end_s, word], ...] of the clip, in time order (as a `word_times` column holds them)."""
        frames = self.frame_tokens(samples, rate)
        seconds = len(samples) / rate / max(1, len(frames))
        return words_from_frames(frames, seconds, self.tokens, self.blank, self.delimiter)


def words_from_frames(frames, seconds: float, tokens: list[str], blank: int, delimiter: int) -> list[list]:
    """Words of a greedy CTC frame path (see the module docstring)."""
    words, current, previous = [], None, None
    for index, token in enumerate(list(frames) + [delimiter]):
        token = int(token)
        if token == delimiter:
            if current is not None:
                words.append([current[0] * seconds, (current[1] + 1) * seconds, current[2]])
            current, previous = None, None
            continue
        if token == blank:
            previous = None
            continue
        if current is None:
            current = [index, index, ""]
        if token != previous:  # CTC collapse: repeated frames are one character
            current[2] += tokens[token]
        current[1] = index
        previous = token
    return words


def aligner_for(features: dict, model_cfg: dict) -> CTCAligner | None:
    """The aligner `features.audio.aligner` names, loaded once per job; None when there is none."""
    audio = features.get("audio") or {}
    return CTCAligner(audio["aligner"], model_cfg) if audio.get("aligner") else None
