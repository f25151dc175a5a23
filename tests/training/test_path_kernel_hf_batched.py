"""The path_kernel kind's batched path on transformers models: per-row gradients by layer hooks (Linear,
Embedding, LayerNorm / RMSNorm layers, every quadrature node of a step in one stacked pass) give the same
numbers as one vector-Jacobian product per row and node, on a tiny BERT classifier and a tiny Llama."""

import json

import numpy as np
import pytest
import torch
from test_path_kernel_runs import TEXTS, _trace
from tiny_models import CORPUS

from shapsweep.config.experiment_set import from_config
from shapsweep.row_explainers.path_kernel import PathKernelRows
from shapsweep.training import layer_grads
from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.trace import params_after
from shapsweep.training.train import example_losses


def _config(tmp_path, kind, model_path):
    data = tmp_path / "train.jsonl"
    lines = [{"text": t[:24], "label": i % 3, "target": t[24:40] or "ok"} for i, t in enumerate(dict.fromkeys(CORPUS))]
    data.write_text("".join(json.dumps(r) + "\n" for r in lines))
    tests = tmp_path / "test.jsonl"
    tests.write_text("".join(json.dumps({"text": t[:30]}) + "\n" for t in TEXTS[:3]))
    causal = kind == "hf_causal_lm"
    model = {"connector": kind, "path_or_id": model_path, "batch_size": 8, **({"max_new_tokens": 3} if causal else {})}
    return {
        "experiment_set_id": "pkb",
        "output_root": str(tmp_path / "results"),
        "dataset": {"source": "json", "data_files": str(tests)},
        "model": model,
        "value": {"kind": "logprob"} if causal else {"kind": "logit"},
        "features": {"max_players": 64},
        "training": {
            "model": {"connector": kind, "path_or_id": model_path},
            "dataset": {"source": "json", "data_files": str(data)},
            "selection": {"max_samples": 6},
            **({"target": "target"} if causal else {}),
            "lr": 3e-3,
            "betas": [0.9, 0.98],
            "weight_decay": 0.1,
            "batch_size": 3,
            "steps": 3,
            "seed": 1,
        },
        "experiments": [
            {"name": "pk", "shap": {"method": "path_kernel", "options": {"midpoints": 3, "components": "block"}}}
        ],
    }


@pytest.mark.parametrize("kind", ["hf_classifier", "hf_causal_lm"])
def test_batched_hooks_give_the_per_row_vjp_numbers(kind, tmp_path, tiny_bert_classifier_path, tiny_llama_path):
    path = tiny_bert_classifier_path if kind == "hf_classifier" else tiny_llama_path
    cfg = _config(tmp_path, kind, path)
    config_path = tmp_path / "set.json"
    config_path.write_text(json.dumps(cfg))
    exp = from_config(cfg)
    _trace(exp, config_path)
    run = next(iter(exp.runs.values()))
    explainer = PathKernelRows(run)
    rows = [{"row_id": str(i), "text": t[:30]} for i, t in enumerate(TEXTS[:3])]
    games = [explainer.connector.game(r) for r in rows]
    # the layer-hook path must be the one taken, every node of a step in one stacked pass (the games list
    # repeated with the batch): a model or batch it cannot read would fall back silently
    taken, stacked = [], []
    real, real_joined = layer_grads._accumulate, layer_grads._nodes_joined
    layer_grads._accumulate = lambda *a, **k: (taken.append(type(a[1]).__name__), real(*a, **k))[1]
    layer_grads._nodes_joined = lambda *a, **k: (stacked.append(type(a[0]).__name__), real_joined(*a, **k))[1]
    try:
        records = list(explainer.explain(rows))
    finally:
        layer_grads._accumulate, layer_grads._nodes_joined = real, real_joined
    assert {"Linear", "Embedding"} <= set(taken) and {"Linear", "Embedding"} <= set(stacked)
    assert {"LayerNorm"} <= set(taken) if kind == "hf_classifier" else {"LlamaRMSNorm"} <= set(taken)
    traced = explainer.traced
    reference = path_kernel(
        traced.root,
        traced.net,
        traced.value,
        games,
        lambda model, batch: example_losses(model, traced.tokenizer, traced.kind, batch),
        explainer.training_rows,
        steps=explainer.window,
        midpoints=3,
        components="block",
        chunk_size=2,
    )
    assert np.abs(reference.group_scores).max() > 1e-6  # training moved the values
    for k, record in enumerate(records):
        assert record["status"] == "ok"
        np.testing.assert_allclose(record["attribution"], reference.group_scores[k], rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(record["component_scores"], reference.component_scores[k], rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(record["step_totals"], reference.step_totals[k].sum(axis=0), rtol=1e-5, atol=1e-12)
        assert record["v_full"] == pytest.approx(reference.v_full[k], rel=1e-9)
        assert record["efficiency_gap"] == pytest.approx(reference.efficiency_gap[k], rel=1e-4, abs=1e-10)
    # a block job explains its next shard with the same explainer: the network must hold θ_{s1} again (the
    # games' target classes and responses are built from it), not the θ_{s0} the path kernel ends at
    explainer.explain(rows[:1])
    end = params_after(traced.root, explainer.window[1] - 1)
    for name, p in traced.net.named_parameters():
        if name in end:
            assert torch.equal(p.detach(), end[name].to(p)), name


def test_a_norm_layer_of_another_form_is_refused_not_given_wrong_gradients():
    class ScaledRMSNorm(torch.nn.Module):  # weight squared: not elementwise affine in the weight
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.full((4,), 0.5))

        def forward(self, x):
            return self.weight**2 * x / x.norm(dim=-1, keepdim=True)

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), ScaledRMSNorm(), torch.nn.Linear(4, 1))
    params = dict(model.named_parameters())
    x = torch.randn(5, 3)
    with pytest.raises(layer_grads.Unsupported, match="ScaledRMSNorm is not elementwise affine"):
        layer_grads.weighted_row_grads(model, params, lambda: model(x)[:, 0], lambda k: None, [1.0])
    theta = {n: p.detach().clone() for n, p in params.items()}
    out = {n: torch.empty((5, *p.shape)) for n, p in params.items()}
    with pytest.raises(layer_grads.Unsupported, match="ScaledRMSNorm is not elementwise affine"):
        layer_grads.node_stacked_row_grads(
            model, params, lambda b: model(b)[:, 0], x, theta, theta, [0.25, 0.75], [0.5, 0.5], out, rows=5
        )


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_update_game_coalitions_in_one_forward_equal_one_forward_a_coalition(
    arch, tmp_path, tiny_llama_path, tiny_gpt2_path
):
    """The update game's batched coalitions on causal LMs: Llama's RMSNorm, gated MLP and grouped key/value
    heads; GPT-2's Conv1D layers, whose fused q/k/v columns are split by heads."""
    from shapsweep.training.update_game import UpdateGame, UpdateWindow

    cfg = _config(tmp_path, "hf_causal_lm", tiny_llama_path if arch == "llama" else tiny_gpt2_path)
    config_path = tmp_path / "set.json"
    config_path.write_text(json.dumps(cfg))
    exp = from_config(cfg)
    _trace(exp, config_path)
    explainer = PathKernelRows(next(iter(exp.runs.values())))
    traced = explainer.traced
    game = explainer.connector.game({"row_id": "0", "text": TEXTS[0][:30]})

    window = UpdateWindow(traced.root, traced.net, steps=(0, 3), components="head")
    stacked = UpdateGame(window, traced.batch_value, game, collate=traced.collate, batch_size=16)
    one_by_one = UpdateGame(window, traced.value, game)
    assert sum(".head" in p or ".kv_head" in p for p in stacked.players) >= 2
    coalitions = np.random.default_rng(1).random((40, stacked.n_players)) < 0.5
    got, expected = stacked(coalitions), one_by_one(coalitions)
    assert stacked.stacked and stacked.forward_passes == 3
    assert np.ptp(expected) > 1e-3
    # the log-prob is read in float32 (values.logprob), so the two orders of work may part by its rounding
    np.testing.assert_allclose(got, expected, rtol=1e-6)
