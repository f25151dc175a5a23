"""Word players from a CTC model (`features.audio.aligner`) when a row has no `word_times`."""

import numpy as np
import pytest
import soundfile
import torch
from scipy.signal import resample_poly
from transformers import AutoModelForCTC, AutoProcessor

from shapsweep.models import load_model
from shapsweep.models.ctc_aligner import words_from_frames


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
