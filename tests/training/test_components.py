"""`components: 'head'`: attention heads split out of their projection tensors (BERT-like, Llama-like with
grouped key/value heads, GPT-2's fused c_attn, one module per head), every parameter element in exactly one
component; on a trained tiny BERT the head scores and the rest of a block sum to the block's score, and the
update game with head players agrees with the path kernel on one step, with its coalitions batched in one
forward as one at a time."""

import numpy as np
import pytest
import torch
from test_trace import ROWS
from transformers import BertConfig, BertModel, GPT2Config, GPT2Model, LlamaConfig, LlamaModel

from shapsweep.estimators import estimate
from shapsweep.training.components import component_pieces
from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.train import TrainingOptions, example_losses, load_for_training, train
from shapsweep.training.update_game import UpdateGame, UpdateWindow


class PerHeadModules(torch.nn.Module):
    """The modulo-addition transformer's layout: one encoder and one decoder module per head."""

    def __init__(self):
        super().__init__()
        self.input_emb = torch.nn.Embedding(5, 8)
        for h in (1, 2):
            setattr(self, f"head{h}_encoder", torch.nn.Linear(8, 4, bias=False))
            setattr(self, f"head{h}_decoder", torch.nn.Linear(4, 8, bias=False))
        self.linear1 = torch.nn.Linear(8, 8)


def _covered_once(model: torch.nn.Module, pieces: dict) -> None:
    """Every element of every parameter is in exactly one piece."""
    count = {n: torch.zeros_like(p, dtype=torch.int64) for n, p in model.named_parameters()}
    for component in pieces.values():
        for piece in component:
            piece.of(count[piece.name]).add_(1)
    for name, c in count.items():
        assert bool((c == 1).all()), name


def _shapes(model):
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


def test_head_grouping_splits_each_kind_of_attention_and_covers_every_element_once():
    bert = BertModel(BertConfig(vocab_size=20, hidden_size=16, num_hidden_layers=2, num_attention_heads=4))
    llama = LlamaModel(
        LlamaConfig(
            vocab_size=20,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    gpt2 = GPT2Model(GPT2Config(vocab_size=20, n_embd=16, n_layer=1, n_head=4, n_positions=8))
    per_head = PerHeadModules()
    for model in (bert, llama, gpt2, per_head):
        _covered_once(model, component_pieces(_shapes(model), "head", model))

    pieces = component_pieces(_shapes(bert), "head", bert)
    heads = [c for c in pieces if c.startswith("encoder.layer.1.head")]
    assert heads == [f"encoder.layer.1.head{h}" for h in range(4)]
    # head 2's query rows 8..12 (of 16) and its columns 8..12 of the attention output projection
    spans = {(p.name.split("layer.1.")[1], p.dim, p.start, p.stop) for p in pieces["encoder.layer.1.head2"]}
    assert ("attention.self.query.weight", 0, 8, 12) in spans and ("attention.self.query.bias", 0, 8, 12) in spans
    assert ("attention.output.dense.weight", 1, 8, 12) in spans
    assert {p.name for p in pieces["encoder.layer.1"]} >= {
        "encoder.layer.1.attention.output.dense.bias",
        "encoder.layer.1.intermediate.dense.weight",
    }

    pieces = component_pieces(_shapes(llama), "head", llama)
    assert [c for c in pieces if "head" in c] == [
        *(f"layers.0.head{h}" for h in range(4)),
        "layers.0.kv_head0",
        "layers.0.kv_head1",
    ]  # grouped-query attention: the 2 key/value heads are their own players
    pieces = component_pieces(_shapes(gpt2), "head", gpt2)
    q_k_v = [(p.start, p.stop) for p in pieces["h.0.head1"] if p.name == "h.0.attn.c_attn.weight"]
    assert q_k_v == [(4, 8), (20, 24), (36, 40)]
    assert sorted(component_pieces(_shapes(per_head), "head", per_head)) == ["head1", "head2", "input_emb", "linear1"]

    with pytest.raises(ValueError, match="no config with num_attention_heads"):
        component_pieces(_shapes(bert), "head", None)


@pytest.fixture()
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _bert_trace(tmp_path, model_path, trainable=None, steps=3, lr=3e-3):
    options = TrainingOptions(
        lr=lr, betas=(0.9, 0.98), weight_decay=0.5, batch_size=5, steps=steps, seed=1, trainable=trainable
    )
    return train(tmp_path / "trace", model_path, "hf_classifier", ROWS, options)


def _explained(root):
    model, tokenizer = load_for_training(root / "base", "hf_classifier")
    model = model.double()
    by_id = {r["row_id"]: r for r in ROWS}
    tests = [{"text": r["text"]} for r in ROWS[:3]]

    def value(m, rows):
        batch = tokenizer([r["text"] for r in rows], return_tensors="pt", padding=True)
        return m(**batch).logits[:, 0]

    def example_loss(m, rows):
        return example_losses(m, tokenizer, "hf_classifier", rows)

    return model, value, tests, example_loss, by_id


def test_head_scores_and_the_blocks_rest_sum_to_the_blocks_score(tmp_path, tiny_bert_classifier_path, float64):
    root = _bert_trace(tmp_path, tiny_bert_classifier_path)
    model, value, tests, example_loss, by_id = _explained(root)
    heads = path_kernel(root, model, value, tests, example_loss, by_id, midpoints=2, components="head")
    blocks = path_kernel(root, model, value, tests, example_loss, by_id, midpoints=2, components="block")
    for block in ("bert.encoder.layer.0", "bert.encoder.layer.1"):
        inside = [i for i, c in enumerate(heads.components) if c == block or c.startswith(block + ".head")]
        assert len(inside) == 3  # two heads and the rest
        head_scores = heads.component_scores[:, inside]
        assert np.abs(head_scores).min() > 1e-8  # every head moved the value
        np.testing.assert_allclose(
            head_scores.sum(axis=1), blocks.component_scores[:, blocks.components.index(block)], rtol=1e-9
        )
    np.testing.assert_allclose(heads.group_scores, blocks.group_scores, rtol=1e-9, atol=1e-15)


def test_update_game_with_head_players_agrees_with_the_path_kernel_on_one_step(
    tmp_path, tiny_bert_classifier_path, float64
):
    root = _bert_trace(tmp_path, tiny_bert_classifier_path, trainable=r"layer\.0\.attention", steps=4, lr=1e-3)
    model, value, tests, example_loss, by_id = _explained(root)
    kernel = path_kernel(
        root,
        model,
        value,
        tests,
        example_loss,
        by_id,
        steps=(2, 3),
        midpoints=4,
        components="head",
        quadrature_rule="gauss_legendre",
    )
    assert kernel.components == ["bert.encoder.layer.0.head0", "bert.encoder.layer.0.head1", "bert.encoder.layer.0"]
    for i, row in enumerate(tests):
        game = UpdateGame(UpdateWindow(root, model, steps=(2, 3), components="head"), value, row)
        assert game.players == kernel.components
        shapley = estimate(game, game.n_players, method="exact")
        scale = np.abs(shapley.values).max()
        assert scale > 1e-6
        # φ·Δθ per head over the recorded update: integrated gradients are the game's Aumann-Shapley values
        np.testing.assert_allclose(kernel.step_totals[i, :, 0], shapley.values, rtol=0, atol=1e-5 * scale)
        # the data + momentum + decay split rebuilds Δθ from AdamW's terms, off the float32-recorded
        # θ_{s+1} by its rounding (~1e-5 of an lr-1e-3 update)
        np.testing.assert_allclose(kernel.component_scores[i], shapley.values, rtol=0, atol=1e-4 * scale)


def test_head_players_coalitions_in_one_forward_equal_one_forward_a_coalition(
    tmp_path, tiny_bert_classifier_path, float64
):
    """The batched forward gives each coalition its heads' rows of the query/key/value projections and its
    columns of the output projection (pieces along both dimensions of a weight)."""
    root = _bert_trace(tmp_path, tiny_bert_classifier_path, steps=3)
    model, value, tests, _, _ = _explained(root)
    tokenizer = load_for_training(root / "base", "hf_classifier")[1]

    def collate(rows):
        return dict(tokenizer([r["text"] for r in rows], return_tensors="pt", padding=True))

    def batch_value(m, batch):
        return m(**batch).logits[:, 0]

    window = UpdateWindow(root, model, steps=(0, 3), components="head")  # read once, shared by both games
    one_by_one = UpdateGame(window, value, tests[0])
    stacked = UpdateGame(window, batch_value, tests[0], collate=collate, batch_size=8)
    assert sum(".head" in p for p in stacked.players) == 4  # two heads in each of the two layers
    coalitions = np.random.default_rng(0).random((20, stacked.n_players)) < 0.5
    coalitions[0], coalitions[1] = False, True
    expected = one_by_one(coalitions)
    got = stacked(coalitions)
    assert stacked.stacked and stacked.forward_passes == 3
    assert np.ptp(expected) > 1e-4
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
