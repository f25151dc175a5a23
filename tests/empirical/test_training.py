"""Training an empirical explainer on a synthetic target: it learns, it is deterministic, it saves whole."""

import io
import json

import numpy as np
import pytest
from synthetic_target import TINY_TRAINING

from shapsweep.empirical.explainer import EmpiricalExplainer
from shapsweep.empirical.network import pooling_matrix
from shapsweep.empirical.training import train_explainer


def _predict(folder, examples):
    explainer = EmpiricalExplainer.from_pretrained(folder, device="cpu")
    return explainer, explainer.predict([e.text for e in examples], [e.spans for e in examples], batch_size=16)


def test_training_lowers_the_validation_loss(trained):
    metrics = trained["metrics"]
    assert metrics["val_loss"] < 0.25 * metrics["initial_val_loss"]
    assert metrics["val_spearman_mean"] > 0.8
    assert metrics["held_out_spearman_mean"] > 0.8  # rows it never saw: it learnt the words' values
    log = [json.loads(line) for line in (trained["out"] / "training_log.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in log] == list(range(1, metrics["epochs_run"] + 1))
    best = min(log, key=lambda line: line["val_loss"])
    assert metrics["best_epoch"] == best["epoch"] and metrics["val_loss"] == best["val_loss"]
    assert metrics["rows"] == {"train": 83, "validation": 8, "held_out": 28}


def test_the_saved_folder_reproduces_its_predictions(trained, training_data):
    folder = trained["out"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "head.safetensors", "explainer.json"} <= {
        p.name for p in folder.iterdir()
    }
    info = json.loads((folder / "explainer.json").read_text())
    assert info["pooling"] == "mean" and info["target_scale"]["scale"] == "raw"
    assert info["target"]["shard_runs"] == ["target-run-abc123"]
    explainer, first = _predict(folder, training_data.validation)
    _, again = _predict(folder, training_data.validation)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(p.dtype == np.float64 and len(p) == len(e.spans) for p, e in zip(first, training_data.validation))
    # The MSE written at the end of training came from the same weights: the reload reproduces it exactly.
    mse = np.mean(np.concatenate([(p - e.targets) ** 2 for p, e in zip(first, training_data.validation)]))
    assert mse == pytest.approx(trained["metrics"]["val_mse"], rel=1e-12)
    assert explainer.forward_passes == 1  # 8 rows, batch 16: one batched encoder call


def test_the_same_seed_gives_the_same_explainer(tmp_path, training_data, tiny_encoder, trained):
    options = {**TINY_TRAINING, "epochs": 2}
    train_explainer(training_data, tmp_path / "a", encoder=tiny_encoder, device="cpu", log=io.StringIO(), **options)
    train_explainer(training_data, tmp_path / "b", encoder=tiny_encoder, device="cpu", log=io.StringIO(), **options)
    options["seed"] = 1
    train_explainer(training_data, tmp_path / "c", encoder=tiny_encoder, device="cpu", log=io.StringIO(), **options)
    rows = training_data.held_out
    _, a = _predict(tmp_path / "a", rows)
    _, b = _predict(tmp_path / "b", rows)
    _, c = _predict(tmp_path / "c", rows)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


class _FailingLog(io.StringIO):
    def write(self, text):
        if text.startswith("epoch 2"):
            raise RuntimeError("disk full")
        return super().write(text)


def test_the_folder_appears_only_when_complete(tmp_path, training_data, tiny_encoder):
    out = tmp_path / "explainers" / "x"
    with pytest.raises(RuntimeError, match="disk full"):
        train_explainer(training_data, out, encoder=tiny_encoder, device="cpu", log=_FailingLog(), **TINY_TRAINING)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no half-written temp folder left behind either
    # A finished folder replaces an older one whole: nothing of the old one survives.
    out.mkdir()
    (out / "stale.txt").write_text("old")
    train_explainer(training_data, out, encoder=tiny_encoder, device="cpu", log=io.StringIO(), epochs=1)
    assert not (out / "stale.txt").exists() and (out / "metrics.json").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["x"]


def test_bad_options_and_no_training_rows_are_refused(tmp_path, training_data, tiny_encoder):
    with pytest.raises(ValueError, match=r"^shap\.options\.pooling: "):
        train_explainer(training_data, tmp_path / "x", encoder=tiny_encoder, pooling="max")
    with pytest.raises(ValueError, match=r"^shap\.options\.encoder: folder '/no/such/encoder' does not exist"):
        train_explainer(training_data, tmp_path / "x", encoder="/no/such/encoder")
    from shapsweep.empirical.training import TrainingData

    empty = TrainingData([], [], training_data.held_out, training_data.held_out_ids, "raw", 0.8, 0.1)
    with pytest.raises(ValueError, match=r"^shap\.options\.train_fraction: no training rows"):
        train_explainer(empty, tmp_path / "x", encoder=tiny_encoder)
    assert not (tmp_path / "x").exists()


def test_a_player_pools_the_tokens_its_span_overlaps():
    # Tokens "un" [0,2) "believ" [2,8) "able" [8,12) "film" [13,17), then padding; players: the two words,
    # a span inside one token, and a span past every token (truncated away): that row is all zeros.
    offsets = np.array([[0, 0], [0, 2], [2, 8], [8, 12], [13, 17], [0, 0], [0, 0]])
    usable = np.array([False, True, True, True, True, False, False])
    spans = [(0, 12), (13, 17), (3, 5), (40, 44)]
    mean = pooling_matrix(spans, offsets, usable, "mean")
    total = pooling_matrix(spans, offsets, usable, "sum")
    np.testing.assert_allclose(mean[0], [0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0], rtol=1e-6)
    np.testing.assert_array_equal(total[0], [0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(total[1], [0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(total[2], [0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(mean[3], np.zeros(7))


def test_players_past_max_length_are_predicted_zero(trained):
    explainer = EmpiricalExplainer.from_pretrained(trained["out"])
    text = " ".join(["quick brown fox"] * 20)  # 60 words, far over max_length 32 tokens
    spans = [(0, 5), (len(text) - 3, len(text))]
    (values,) = explainer.predict([text], [spans])
    assert values[0] != 0 and values[1] == 0
    assert explainer.players_without_tokens == 1
    with pytest.raises(ValueError, match=r"needs a \[start, end\) text span"):
        explainer.predict([text], [[None]])


def test_an_encoder_without_padding_token_pads_with_its_eos(tmp_path, training_data, tiny_gpt2_path):
    # A GPT-2 tokenizer has no pad token and byte-level offsets: batching and pooling must still work.
    out = tmp_path / "gpt2_explainer"
    train_explainer(training_data, out, encoder=tiny_gpt2_path, device="cpu", log=io.StringIO(), epochs=1)
    explainer, values = _predict(out, training_data.held_out[:20])
    assert explainer.tokenizer.pad_token == "<|endoftext|>"
    assert explainer.players_without_tokens == 0
    assert [len(v) for v in values] == [len(e.spans) for e in training_data.held_out[:20]]


def test_without_validation_rows_the_last_epoch_is_kept(tmp_path, target_run, tiny_encoder):
    from shapsweep.empirical.training import TrainingData

    data = TrainingData.from_files(target_run["shards"], target_run["rows"], validation_fraction=0.0)
    assert data.validation == [] and len(data.train) == 91
    metrics = train_explainer(data, tmp_path / "x", encoder=tiny_encoder, device="cpu", log=io.StringIO(), epochs=2)
    assert metrics["best_epoch"] == metrics["epochs_run"] == 2
    assert metrics["val_loss"] is None and metrics["held_out_spearman_mean"] is not None
