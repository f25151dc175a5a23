"""Word players from a CTC model (`features.audio.aligner`) when a row has no `word_times`."""

import subprocess
from itertools import pairwise, product

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import resample_poly
from transformers import AutoModelForCTC, AutoProcessor

from shapsweep.errors import RowError
from shapsweep.models import load_model
from shapsweep.models.ctc_aligner import aligned_words, forced_align, transcript_targets, words_from_frames


def test_words_from_a_frame_path_collapse_repeats_and_split_on_delimiters():
    tokens = ["<pad>", "<unk>", "|", "a", "b", "c"]
    frames = [0, 3, 3, 0, 3, 4, 2, 2, 0, 5, 5, 0, 0, 2, 4]
    words = words_from_frames(frames, 0.02, tokens, blank=0, delimiter=2)
    assert [w[2] for w in words] == ["aab", "c", "b"]
    assert words[0][:2] == pytest.approx([0.02, 0.12]) and words[1][:2] == pytest.approx([0.18, 0.22])
    assert words[2][:2] == pytest.approx([0.28, 0.30])


def test_aligned_words_are_the_ctc_models_own_greedy_words(tiny_ctc_path, tiny_wav2vec2_path, media_dir):
    model = load_model(
        {"connector": "hf_classifier", "path_or_id": tiny_wav2vec2_path, "device": "cpu"},
        {"modalities": ["audio"], "audio": {"players": "words", "aligner": tiny_ctc_path}, "max_players": 64},
        {"kind": "logit"},
    )
    game = model.game({"audio": str(media_dir / "speech.wav")})

    processor = AutoProcessor.from_pretrained(tiny_ctc_path)
    ctc = AutoModelForCTC.from_pretrained(tiny_ctc_path).eval()
    samples, rate = soundfile.read(media_dir / "speech.wav", dtype="float32")
    clip = resample_poly(samples, 320, 441).astype(np.float32)  # 22.05 kHz -> 16 kHz
    with torch.inference_mode():
        ids = ctc(**processor(clip, sampling_rate=16000, return_tensors="pt")).logits[0].argmax(-1).tolist()
    # the transcript's words, from the tokenizer's own CTC decoding
    expected = processor.tokenizer.decode(ids).split()
    assert len(expected) >= 2
    assert game.players == expected
    starts = [r[0] for r in game.regions]
    bad = [r for r in game.regions if not 0 <= r[0] < r[1] <= len(samples) / rate + 1e-3]  # resampling rounds
    assert starts == sorted(starts) and not bad, (bad, len(samples) / rate)
    # each word starts at a frame whose token is one of its characters
    seconds = (len(samples) / rate) / len(ids)
    vocab = processor.tokenizer.convert_ids_to_tokens(list(range(len(processor.tokenizer))))
    for (start, _end), word in zip(game.regions, game.players):
        assert vocab[ids[round(start / seconds)]] == word[0]


# Forced alignment of a transcript (rows with a `transcript` column)

TOKENS = ["<pad>", "<unk>", "|", "a", "b", "c"]  # blank 0, delimiter 2


def _emissions(frame_probs: list[dict[int, float]]) -> np.ndarray:
    """Log-probabilities, one frame per dict of {token: probability}; the rest shared by the other tokens."""
    rows = []
    for probs in frame_probs:
        rest = (1.0 - sum(probs.values())) / (len(TOKENS) - len(probs))
        rows.append([probs.get(t, rest) for t in range(len(TOKENS))])
    return np.log(np.array(rows))


def test_forced_alignment_follows_the_transcript_where_the_greedy_path_misreads():
    blank, a, b, c, bar = 0, 3, 4, 5, 2
    # intended path: _ a a b _ | c _ a _ ; frame 6 is misread (greedy says b), the transcript says c
    emissions = _emissions(
        [{blank: 0.6}, {a: 0.6}, {a: 0.6}, {b: 0.6}, {blank: 0.6}, {bar: 0.6}]
        + [{b: 0.5, c: 0.3}, {blank: 0.6}, {a: 0.6}, {blank: 0.6}]
    )
    assert emissions.argmax(axis=1)[6] == b
    # "A" maps by case, "á" by dropping its accent, "!" and the word "42" cannot map and are skipped
    words, targets = transcript_targets("Ab! cá 42", TOKENS, delimiter=bar)
    assert targets == [a, b, bar, c, a] and [w[0] for w in words] == ["Ab!", "cá"]
    states = forced_align(emissions, targets, blank)
    labels = np.full(2 * len(targets) + 1, blank)
    labels[1::2] = targets
    assert labels[states].tolist() == [blank, a, a, b, blank, bar, c, blank, a, blank]
    spans = aligned_words(states, words, 0.02)
    assert [s[2] for s in spans] == ["Ab!", "cá"]
    assert [s[:2] for s in spans] == [pytest.approx([0.02, 0.08]), pytest.approx([0.12, 0.18])]


def _brute_force_best_path(log_probs: np.ndarray, targets: list[int], blank: int) -> list[int]:
    """The most likely frame-token sequence whose CTC collapse (merge repeats, drop blanks) is `targets`."""
    best, best_score = None, -np.inf
    for path in product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        collapsed = [t for i, t in enumerate(path) if t != blank and (i == 0 or path[i - 1] != t)]
        if collapsed == targets:
            score = log_probs[np.arange(len(path)), path].sum()
            if score > best_score:
                best, best_score = list(path), score
    return best


@pytest.mark.parametrize("targets", [[1, 2], [1, 1], [2, 1, 2], [1, 2, 2]])
def test_forced_alignment_is_the_best_path_of_a_brute_force_search(targets):
    rng = np.random.default_rng(len(targets) * 10 + targets[-1])
    labels = np.full(2 * len(targets) + 1, 0)
    labels[1::2] = targets
    for _ in range(5):
        log_probs = np.log(rng.dirichlet(np.ones(3), size=6))  # 6 frames, tokens {blank 0, 1, 2}
        states = forced_align(log_probs, targets, blank=0)
        assert labels[states].tolist() == _brute_force_best_path(log_probs, targets, blank=0)
        assert states[0] in (0, 1) and states[-1] in (len(labels) - 1, len(labels) - 2)


def test_a_transcript_longer_than_the_frames_or_impossible_is_refused():
    with pytest.raises(ValueError, match="at least 4 frames"):
        forced_align(np.log(np.full((3, 6), 1 / 6)), [3, 3, 4], blank=0)
    impossible = np.log(np.full((8, 6), 1 / 6))
    impossible[:, 4] = -np.inf
    with pytest.raises(ValueError, match="no CTC path"):
        forced_align(impossible, [3, 4], blank=0)


def _aligned_game(tiny_ctc_path, tiny_wav2vec2_path, row):
    model = load_model(
        {"connector": "hf_classifier", "path_or_id": tiny_wav2vec2_path, "device": "cpu"},
        {"modalities": ["audio"], "audio": {"players": "words", "aligner": tiny_ctc_path}, "max_players": 64},
        {"kind": "logit"},
    )
    return model.game(row)


def test_a_transcript_is_force_aligned_to_espeak_speech(tiny_ctc_path, tiny_wav2vec2_path, tmp_path):
    wav = tmp_path / "apples.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "green apples taste sour"], check=True)
    game = _aligned_game(
        tiny_ctc_path, tiny_wav2vec2_path, {"audio": str(wav), "transcript": "Green apples taste SOUR"}
    )
    # the tiny vocabulary has no g or p: those letters are skipped, the words keep their names as written
    assert game.players == ["Green", "apples", "taste", "SOUR"]
    duration = soundfile.info(str(wav)).duration
    regions = game.regions
    assert all(0 <= start < end <= duration + 1e-3 for start, end in regions), (regions, duration)
    assert all(previous[1] <= current[0] + 1e-9 for previous, current in pairwise(regions)), regions


def test_a_transcript_too_long_for_its_clip_is_a_bad_media_row(tiny_ctc_path, tiny_wav2vec2_path, tmp_path):
    wav = tmp_path / "short.wav"
    soundfile.write(wav, np.zeros(1600, dtype=np.float32), 16000)  # 0.1 s: a few CTC frames
    with pytest.raises(RowError) as caught:
        _aligned_game(tiny_ctc_path, tiny_wav2vec2_path, {"audio": str(wav), "transcript": "the cat " * 20})
    assert caught.value.kind == "bad_media" and "short.wav" in caught.value.message
