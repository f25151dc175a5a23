"""Traces: each recorded update follows from the recorded state and the batch's gradient, and a killed
training run resumes to the same θ_T bit for bit."""

import shutil

import pytest
import torch
from tiny_models import CORPUS

from shapsweep.training.recorder import TraceRecorder
from shapsweep.training.trace import read_final, read_header, read_step, recorded_steps, step_dir
from shapsweep.training.train import (
    TrainingOptions,
    batch_indices,
    example_losses,
    load_for_training,
    train,
)

ROWS = [{"row_id": f"r{i}", "text": text, "label": i % 3} for i, text in enumerate(dict.fromkeys(CORPUS))]
LM_ROWS = [
    {"row_id": f"q{i}", "text": text[:20], "target": text[20:40]} for i, text in enumerate(dict.fromkeys(CORPUS))
]
OPTIONS = TrainingOptions(lr=3e-3, betas=(0.9, 0.98), weight_decay=0.5, batch_size=5, steps=5, seed=3)


def _adamw_update(theta, m, v, grad, lr, adam_step, hyper):
    """torch.optim.AdamW's update written out: decoupled decay, moments, bias correction."""
    beta1, beta2 = hyper["betas"]
    t = adam_step + 1
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    denom = (v.sqrt() / (1 - beta2**t) ** 0.5) + hyper["eps"]
    return theta * (1 - lr * hyper["weight_decay"]) - lr / (1 - beta1**t) * m / denom


@pytest.mark.parametrize("kind", ["hf_classifier", "hf_causal_lm"])
def test_each_update_follows_from_the_recorded_state_and_the_batch_gradient(
    kind, tiny_bert_classifier_path, tiny_gpt2_path, tmp_path
):
    model_path, rows = (tiny_bert_classifier_path, ROWS) if kind == "hf_classifier" else (tiny_gpt2_path, LM_ROWS)
    root = train(tmp_path / "trace", model_path, kind, rows, OPTIONS)
    header = read_header(root)
    assert recorded_steps(root) == list(range(5)) and header["total_steps"] == 5
    assert header["row_ids"] == [r["row_id"] for r in rows]
    model, tokenizer = load_for_training(root / "base", kind)
    by_id = {r["row_id"]: r for r in rows}
    states = [read_step(root, s) for s in range(5)]
    assert states[0].adam_step == 0 and all(float(m.abs().max()) == 0 for m in states[0].exp_avg.values())
    for s, state in enumerate(states):
        expected_ids = [rows[i]["row_id"] for i in batch_indices(s, len(rows), OPTIONS)]
        assert state.batch_row_ids == expected_ids and state.adam_step == s
        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state.params.items():
                params[name].copy_(value)
        model.zero_grad(set_to_none=True)
        loss = example_losses(model, tokenizer, kind, [by_id[i] for i in state.batch_row_ids]).mean()
        loss.backward()
        assert loss.item() == pytest.approx(state.loss, rel=1e-5)
        after = read_step(root, s + 1).params if s + 1 < 5 else read_final(root)
        for name, theta in state.params.items():
            predicted = _adamw_update(
                theta, state.exp_avg[name], state.exp_avg_sq[name], params[name].grad, state.lr, s, header["optimizer"]
            )
            torch.testing.assert_close(predicted, after[name], rtol=1e-5, atol=1e-6, msg=f"step {s}, {name}")
        # the moves are real: a test that compared θ_s with itself would pass too
        assert any(not torch.equal(theta, after[n]) for n, theta in state.params.items())


def test_a_killed_run_resumes_from_its_last_complete_step_to_the_same_final_weights(
    tiny_bert_classifier_path, tmp_path
):
    whole = train(tmp_path / "whole", tiny_bert_classifier_path, "hf_classifier", ROWS, OPTIONS)
    killed = train(tmp_path / "killed", tiny_bert_classifier_path, "hf_classifier", ROWS, OPTIONS)
    # What a kill during update 3 leaves: steps 0-2 whole, step 3 a half-written temp folder, no final/.
    shutil.rmtree(killed / "final")
    shutil.rmtree(step_dir(killed, 4))
    step_dir(killed, 3).rename(step_dir(killed, 3).with_name(".000003.partial.tmp"))
    assert recorded_steps(killed) == [0, 1, 2]
    train(killed, tiny_bert_classifier_path, "hf_classifier", ROWS, OPTIONS)
    assert recorded_steps(killed) == list(range(5))
    final, expected = read_final(killed), read_final(whole)
    assert final.keys() == expected.keys()
    assert all(torch.equal(final[n], expected[n]) for n in expected)


def test_shuffling_draws_every_row_once_per_epoch_and_the_seed_changes_the_order():
    options = TrainingOptions(batch_size=5, steps=9, seed=1)
    epoch = [i for s in range(3) for i in batch_indices(s, 12, options)]
    assert sorted(epoch) == list(range(12))
    other = TrainingOptions(batch_size=5, steps=9, seed=2)
    assert epoch != [i for s in range(3) for i in batch_indices(s, 12, other)]


def test_only_the_named_parameters_train_and_a_filter_matching_none_says_so(tiny_bert_classifier_path, tmp_path):
    options = TrainingOptions(batch_size=6, steps=2, trainable=r"^classifier\.")
    root = train(tmp_path / "head", tiny_bert_classifier_path, "hf_classifier", ROWS, options)
    assert [p["name"] for p in read_header(root)["params"]] == ["classifier.weight", "classifier.bias"]
    bad = TrainingOptions(batch_size=6, steps=2, trainable="no_such_layer")
    with pytest.raises(ValueError, match=r"training\.trainable 'no_such_layer' matches no parameter"):
        train(tmp_path / "bad", tiny_bert_classifier_path, "hf_classifier", ROWS, bad)


def test_a_plain_loop_records_the_optimizers_real_state(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    recorder = TraceRecorder(tmp_path / "t", model, optimizer, row_ids=["a", "b"], total_steps=3)
    x = torch.randn(2, 3)
    for step in range(3):
        optimizer.zero_grad()
        loss = model(x).pow(2).sum()
        loss.backward()
        recorder.record(step, batch_row_ids=["a", "b"], loss=loss.item())
        optimizer.step()
    recorder.finish(3)
    last = read_step(tmp_path / "t", 2)
    assert last.adam_step == 2
    # m_2 is what the optimizer held before update 2, so one more update from it lands on θ_T.
    assert not torch.equal(last.exp_avg["weight"], optimizer.state[model.weight]["exp_avg"])
    assert torch.equal(read_final(tmp_path / "t")["weight"], model.weight.detach())
    with pytest.raises(TypeError, match=r"records torch\.optim\.AdamW"):
        TraceRecorder(tmp_path / "sgd", model, torch.optim.SGD(model.parameters(), lr=0.1))
