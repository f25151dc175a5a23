"""Word segments of a clip from a CTC speech model (`features.audio.aligner`), for `words` audio players.

With a transcript (the row's `transcript` column) the words are found by *forced alignment*, as
MLLM-SHAP's SGPA does: the transcript's characters, `|` between words, are aligned to the model's CTC
emissions by Viterbi over the blank-interleaved CTC trellis (the algorithm of torchaudio's `forced_align`
and the PyTorch forced-alignment tutorial; Kürzinger et al. 2020, "CTC-Segmentation"). A word spans its
first to its last character frame and is named by the transcript's word as written. Characters are
matched to the vocabulary as written, then upper-, then lower-cased, then without accents (wav2vec2
vocabularies are upper-case letters); characters that still do not match are skipped, and a word with no
matching character gets no player.

Without a transcript, the words come from the model's greedy CTC path: each frame gets its most likely
token (a character, the blank = the tokenizer's pad token, or the word delimiter `|`); a word is a run of
character frames between delimiters (blanks inside it kept, blanks around it not), named by its
CTC-collapsed characters. Either way times are frame index × (clip duration / frames). Rows that carry
`word_times` keep theirs and never reach the aligner.
"""

from __future__ import annotations

import unicodedata
from itertools import pairwise

import numpy as np
import torch

from shapsweep.data.media import resample
from shapsweep.errors import RowError
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

    def log_probs(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """(frames, vocabulary) CTC log-probabilities of the clip."""
        clip = resample(samples, rate, self.rate)
        inputs = self.processor(clip, sampling_rate=self.rate, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in inputs.items()}).logits[0]
        return torch.log_softmax(logits.float(), dim=-1).cpu().numpy()

    def __call__(self, samples: np.ndarray, rate: int, transcript: str | None = None, source: str = "clip"):
        """[[start_s, end_s, word], ...] of the clip, in time order (as a `word_times` column holds them).

        `transcript` given (not blank): forced alignment of its words; otherwise the greedy path. `source`
        names the clip in errors. Raises RowError `bad_media` when the transcript needs more frames than
        the clip has.
        """
        emissions = self.log_probs(samples, rate)
        seconds = len(samples) / rate / max(1, len(emissions))
        if transcript is None or not str(transcript).strip():
            return words_from_frames(emissions.argmax(axis=1), seconds, self.tokens, self.blank, self.delimiter)
        words, targets = transcript_targets(str(transcript), self.tokens, self.delimiter)
        if not targets:
            raise RowError("bad_media", f"{source}: no character of the transcript is in the aligner's vocabulary")
        try:
            states = forced_align(emissions, targets, self.blank)
        except ValueError as error:
            raise RowError("bad_media", f"{source}: cannot align the transcript to the audio ({error})") from error
        return aligned_words(states, words, seconds)


def _vocabulary_ids(char: str, index: dict[str, int]) -> list[int]:
    """The ids one transcript character maps to (see the module docstring); [] when none does."""
    for candidate in (char, char.upper(), char.lower()):
        if candidate in index:
            return [index[candidate]]
    stripped = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
    if stripped and "".join(stripped) != char:
        return [i for c in stripped for i in _vocabulary_ids(c, index)]
    return []


def transcript_targets(transcript: str, tokens: list[str], delimiter: int) -> tuple[list[tuple[str, int, int]], list]:
    """The alignment targets of a transcript: (words, token ids).

    words: (word as written, index of its first target, index past its last) for each word with at least
    one character in the vocabulary; token ids: those characters, the delimiter between words.
    """
    index = {token: i for i, token in enumerate(tokens) if len(token) == 1 and i != delimiter}
    words, targets = [], []
    for word in transcript.split():
        ids = [i for char in word for i in _vocabulary_ids(char, index)]
        if not ids:
            continue
        if targets:
            targets.append(delimiter)
        words.append((word, len(targets), len(targets) + len(ids)))
        targets.extend(ids)
    return words, targets


def forced_align(log_probs: np.ndarray, targets: list[int], blank: int) -> np.ndarray:
    """The trellis state of each frame on the most likely CTC path that spells `targets`.

    States are 0..2L for L targets: even states are blanks, state 2k+1 is target k. A path starts in state
    0 or 1, ends in 2L or 2L-1, and each frame stays, moves one state, or skips a blank between two
    different targets (the CTC topology). Raises ValueError when the frames are too few for the targets or
    no path has a finite score.
    """
    frames, length = log_probs.shape[0], len(targets)
    repeats = sum(a == b for a, b in pairwise(targets))
    if frames < length + repeats:
        raise ValueError(f"{length} characters need at least {length + repeats} frames, the clip has {frames}")
    labels = np.full(2 * length + 1, blank)
    labels[1::2] = targets
    # a skip from state s-2 is allowed into a target state whose target differs from the previous target
    skip = np.zeros(len(labels), dtype=bool)
    skip[3::2] = labels[3::2] != labels[1:-2:2]
    score = np.full(len(labels), -np.inf)
    score[:2] = log_probs[0, labels[:2]]
    back = np.zeros((frames, len(labels)), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, frames):
        stay, step, jump = score, np.r_[-np.inf, score[:-1]], np.r_[-np.inf, -np.inf, score[:-2]]
        jump = np.where(skip, jump, -np.inf)
        moves = np.stack([stay, step, jump])
        back[t] = moves.argmax(axis=0)
        score = moves.max(axis=0) + log_probs[t, labels]
    if not np.isfinite(score[-2:]).any():  # a target the model gives zero probability everywhere
        raise ValueError("no CTC path spells the transcript (some character has zero probability)")
    state = len(labels) - 1 if score[-1] >= score[-2] else len(labels) - 2
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = state
        state -= back[t, state]
    return path


def aligned_words(states: np.ndarray, words: list[tuple[str, int, int]], seconds: float) -> list[list]:
    """[[start_s, end_s, word], ...] from a forced-alignment state path: each word spans the frames of its
    first to its last character (states 2k+1 for its targets k)."""
    target_of_frame = np.where(states % 2 == 1, states // 2, -1)
    spans = []
    for word, first, last in words:
        frames = np.flatnonzero((target_of_frame >= first) & (target_of_frame < last))
        spans.append([float(frames[0] * seconds), float((frames[-1] + 1) * seconds), word])
    return spans


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
