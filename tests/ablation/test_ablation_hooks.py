"""Component ablation by hooks, checked against independent references on tiny models built from configs:
BERT's per-head masking of the attention probabilities (what its former `head_mask` argument did), zeroed
value projections, and a pre-LN model whose every layer is ablated down to its embeddings."""

import numpy as np
import pytest
import torch
from transformers import (
    AttentionInterface,
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from shapsweep.models.ablation import ComponentAblation

HEAD_MASKS: dict[int, torch.Tensor] = {}  # id(attention module) -> (batch, heads) multipliers of its probabilities


def _head_masked_attention(module, query, key, value, attention_mask, **kwargs):
    """BERT's eager attention with each head's probabilities scaled by HEAD_MASKS (transformers < 5's head_mask)."""
    scaling = kwargs.get("scaling") or query.size(-1) ** -0.5
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.softmax(weights, dim=-1) * HEAD_MASKS[id(module)][:, :, None, None]
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


AttentionInterface.register("test_head_masked", _head_masked_attention)


def _bert(heads=4):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=60,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=heads,
        intermediate_size=64,
        initializer_range=0.3,
    )
    return BertForSequenceClassification(config).double().eval()


def _ids(n=7, batch=1, seed=1):
    return torch.randint(5, 60, (1, n), generator=torch.Generator().manual_seed(seed)).expand(batch, -1)


COALITIONS = np.array(
    [
        [1, 1, 1, 1, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [1, 0, 1, 1, 0, 1, 1, 1],
        [0, 1, 0, 0, 1, 1, 0, 1],
        [1, 1, 1, 0, 1, 1, 1, 1],
    ],
    dtype=bool,
)


def test_zero_ablated_heads_give_berts_own_head_masking_for_several_coalitions():
    model = _bert()
    ablation = ComponentAblation(model, "head")
    assert ablation.players == [f"bert.encoder.layer.{i}.head{h}" for i in range(2) for h in range(4)]
    ids = _ids(batch=len(COALITIONS))
    with torch.no_grad(), ablation.hooked(), ablation.keeping(COALITIONS):
        hooked = model(input_ids=ids).logits  # every coalition in one batch
    model.set_attn_implementation("test_head_masked")
    for i, layer in enumerate(model.bert.encoder.layer):
        HEAD_MASKS[id(layer.attention.self)] = torch.from_numpy(COALITIONS[:, 4 * i : 4 * i + 4]).double()
    with torch.no_grad():
        masked = model(input_ids=ids).logits
    np.testing.assert_allclose(hooked.numpy(), masked.numpy(), rtol=0, atol=1e-10)
    # the coalitions give different logits: the comparison is not of a constant
    assert np.ptp(hooked[:, 0].numpy()) > 1e-2


def _distilbert():
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=60, dim=32, n_layers=2, n_heads=4, hidden_dim=64, initializer_range=0.3)
    return DistilBertForSequenceClassification(config).double().eval(), "distilbert.transformer.layer"


def _llama():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=60,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        initializer_range=0.3,
    )
    return LlamaForCausalLM(config).double().eval(), "model.layers"


def _gpt2():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=60, n_positions=32, n_embd=32, n_layer=2, n_head=4, initializer_range=0.3)
    return GPT2LMHeadModel(config).double().eval(), "transformer.h"


def _zero_value_rows(model, layer: int, head: int) -> None:
    """Zero head `head`'s value projection (weight rows or GPT-2's c_attn columns, and bias): its context is 0."""
    if isinstance(model, DistilBertForSequenceClassification):
        proj, dim = model.distilbert.transformer.layer[layer].attention.v_lin, 0
        offset = 0
    elif isinstance(model, LlamaForCausalLM):
        proj, dim, offset = model.model.layers[layer].self_attn.v_proj, 0, 0
    else:
        proj, dim, offset = model.transformer.h[layer].attn.c_attn, 1, 2 * 32  # c_attn's columns are [q | k | v]
    with torch.no_grad():
        proj.weight.narrow(dim, offset + head * 8, 8).zero_()
        if proj.bias is not None:
            proj.bias.narrow(0, offset + head * 8, 8).zero_()


@pytest.mark.parametrize("build", [_distilbert, _llama, _gpt2], ids=["distilbert", "llama", "gpt2"])
def test_a_zero_ablated_head_gives_the_model_with_that_heads_value_projection_zeroed(build):
    model, layers = build()
    ablation = ComponentAblation(model, "head")
    assert ablation.players == [f"{layers}.{i}.head{h}" for i in range(2) for h in range(4)]
    ids = _ids()
    for layer, head in [(0, 1), (1, 3)]:
        keep = np.ones((1, 8), dtype=bool)
        keep[0, 4 * layer + head] = False
        with torch.no_grad(), ablation.hooked(), ablation.keeping(keep):
            hooked = model(input_ids=ids).logits
        surgery, _ = build()
        _zero_value_rows(surgery, layer, head)
        with torch.no_grad():
            reference = surgery(input_ids=ids).logits
            intact = model(input_ids=ids).logits
        np.testing.assert_allclose(hooked.numpy(), reference.numpy(), rtol=0, atol=1e-10)
        assert np.abs(hooked.numpy() - intact.numpy()).max() > 1e-6


def test_grouped_query_heads_are_players_and_a_kv_heads_value_zeroed_is_its_query_heads_ablated():
    """Llama with 4 query heads over 2 key/value heads: the players are the 4 query heads; zeroing kv head 1's
    value projection is ablating query heads 2 and 3 (the ones that read it), not one of them."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=60,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        initializer_range=0.3,
    )
    model = LlamaForCausalLM(config).double().eval()
    ablation = ComponentAblation(model, "head")
    assert ablation.players == [f"model.layers.0.head{h}" for h in range(4)]
    ids = _ids()
    with torch.no_grad(), ablation.hooked(), ablation.keeping(np.array([[1, 1, 0, 0], [1, 1, 0, 1]], dtype=bool)):
        both, one = model(input_ids=ids.expand(2, -1)).logits
    with torch.no_grad():
        model.model.layers[0].self_attn.v_proj.weight[8:16].zero_()  # kv head 1 (head_dim 8)
        reference = model(input_ids=ids).logits[0]
    np.testing.assert_allclose(both.numpy(), reference.numpy(), rtol=0, atol=1e-10)
    assert np.abs(one.numpy() - reference.numpy()).max() > 1e-6


def test_every_layer_of_a_pre_ln_model_ablated_leaves_the_embeddings_alone():
    """Llama adds each attention and MLP output to the residual stream: with every block zeroed the logits
    are the head over the normed token embeddings, and with only the MLPs zeroed they are not."""
    model, _ = _llama()
    ids = _ids()
    blocks = ComponentAblation(model, "block")
    assert blocks.players == ["model.layers.0", "model.layers.1"]
    with torch.no_grad(), blocks.hooked(), blocks.keeping(np.zeros((1, 2), dtype=bool)):
        ablated = model(input_ids=ids).logits
    with torch.no_grad():
        embeddings_only = model.lm_head(model.model.norm(model.model.embed_tokens(ids)))
    np.testing.assert_allclose(ablated.numpy(), embeddings_only.numpy(), rtol=0, atol=1e-12)
    mlps = ComponentAblation(model, "mlp")
    assert mlps.players == ["model.layers.0.mlp", "model.layers.1.mlp"]
    with torch.no_grad(), mlps.hooked(), mlps.keeping(np.zeros((1, 2), dtype=bool)):
        without_mlps = model(input_ids=ids).logits
    assert np.abs(without_mlps.numpy() - embeddings_only.numpy()).max() > 1e-6
    # heads and MLPs in one game: every head and every MLP off is every block off
    both = ComponentAblation(model, "head_and_mlp")
    assert both.players == [
        f"model.layers.{i}.{c}" for i in (0, 1) for c in ("head0", "head1", "head2", "head3", "mlp")
    ]
    with torch.no_grad(), both.hooked(), both.keeping(np.zeros((1, 10), dtype=bool)):
        nothing = model(input_ids=ids).logits
    np.testing.assert_allclose(nothing.numpy(), embeddings_only.numpy(), rtol=0, atol=1e-12)


def test_nothing_ablated_is_the_unhooked_model_bit_for_bit_and_hooks_go_with_the_block():
    model = _bert()
    ablation = ComponentAblation(model, "block")
    ids = _ids()
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        with ablation.hooked():
            with ablation.keeping(np.ones((1, 2), dtype=bool)):
                kept = model(input_ids=ids).logits
            outside_keeping = model(input_ids=ids).logits
        after = model(input_ids=ids).logits
    assert torch.equal(plain, kept) and torch.equal(plain, outside_keeping) and torch.equal(plain, after)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_mean_ablation_over_the_row_itself_changes_nothing_and_over_another_row_does():
    model = _bert()
    ids, other = _ids(seed=1), _ids(seed=2)
    nobody = np.zeros((1, 8), dtype=bool)
    with torch.no_grad():
        plain = model(input_ids=ids).logits
    itself = ComponentAblation(model, "head", "mean")
    with itself.hooked():
        itself.record_means(lambda: model(input_ids=ids))
        with torch.no_grad(), itself.keeping(nobody):
            same = model(input_ids=ids).logits
    np.testing.assert_allclose(same.numpy(), plain.numpy(), rtol=0, atol=1e-12)
    elsewhere = ComponentAblation(model, "head", "mean")
    with elsewhere.hooked():
        elsewhere.record_means(lambda: model(input_ids=other))
        with torch.no_grad(), elsewhere.keeping(nobody):
            moved = model(input_ids=ids).logits
    assert np.abs(moved.numpy() - plain.numpy()).max() > 1e-6


def test_reference_means_are_per_position_over_the_rows_that_reach_it():
    from shapsweep.models.ablation import ReferenceMeans, Site

    means, site = ReferenceMeans(), Site("m")
    means.add(site, torch.tensor([[[1.0], [3.0]]]))  # one row of two positions
    means.add(site, torch.tensor([[[3.0], [5.0], [7.0]]]))  # one row of three
    got = means.of(site, torch.zeros(1, 4, 1))
    # positions 0, 1: both rows; 2: the longer row; 3 (past every row): all five values' mean
    assert got[:, 0].tolist() == pytest.approx([2.0, 4.0, 7.0, 19.0 / 5])


def test_an_unknown_kind_or_architecture_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"shap\.options\.components: 'heads' is not one of head, attention"):
        ComponentAblation(_bert(), "heads")
    with pytest.raises(ValueError, match=r"shap\.options\.components: Sequential has no transformer layers"):
        ComponentAblation(torch.nn.Sequential(torch.nn.Linear(2, 2)), "mlp")
    with pytest.raises(ValueError, match=r"shap\.options\.ablation: 'mode' is not one of zero, mean"):
        ComponentAblation(_bert(), "head", "mode")
