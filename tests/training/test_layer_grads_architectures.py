"""Per-row gradients by layer hooks on the transformers architectures users trace, against per-row autograd:
the models run with their own default position ids (BERT, DistilBERT and GPT-2 look their position
embeddings up once for all rows; RoBERTa offsets them past its padding index), GPT-2's layers are
`Conv1D`, and one row is padded on the right (pad tokens look up an embedding's padding row)."""

import pytest
import torch
import transformers

from shapsweep.training import layer_grads

SMALL = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "hidden_size": 16}


def _model(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "llama":  # RMSNorm, rotary positions, gated MLP
        config = transformers.LlamaConfig(
            vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=32,
        )  # fmt: skip
        return transformers.LlamaForCausalLM(config)
    if kind == "bert":
        return transformers.BertForSequenceClassification(transformers.BertConfig(vocab_size=50, num_labels=2, **SMALL))
    if kind == "roberta":
        config = transformers.RobertaConfig(vocab_size=50, num_labels=2, **SMALL)
        return transformers.RobertaForSequenceClassification(config)
    if kind == "distilbert":
        config = transformers.DistilBertConfig(
            vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=2
        )
        return transformers.DistilBertForSequenceClassification(config)
    config = transformers.GPT2Config(
        vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config)


@pytest.mark.parametrize("kind", ["bert", "roberta", "distilbert", "gpt2"])
def test_hooked_per_row_gradients_equal_autograd_row_by_row(kind):
    model = _model(kind).double().eval()
    params = dict(model.named_parameters())
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 50, (3, 6), generator=g)
    mask = torch.ones(3, 6, dtype=torch.long)
    ids[2, 4:], mask[2, 4:] = model.config.pad_token_id or 1, 0  # the last row padded on the right

    def pick(output):  # a classifier's first logit; the LM's log-prob of token 5 after the 4th position
        return output.logits[:, 0] if kind != "gpt2" else output.logits[:, 3].log_softmax(-1)[:, 5]

    hooked = layer_grads.weighted_row_grads(
        model, params, lambda: pick(model(input_ids=ids, attention_mask=mask)), lambda k: None, [1.0], rows=3
    )
    reached = 0
    for r in range(3):
        value = pick(model(input_ids=ids[r : r + 1], attention_mask=mask[r : r + 1]))[0]
        grads = torch.autograd.grad(value, list(params.values()), allow_unused=True)
        for (name, p), grad in zip(params.items(), grads, strict=True):
            grad = torch.zeros_like(p) if grad is None else grad
            reached += bool(grad.abs().max() > 0)
            torch.testing.assert_close(hooked[name][r], grad, rtol=1e-10, atol=1e-13, msg=f"{kind} {name} row {r}")
    assert reached > len(params)  # the comparison covered real gradients, not zeros


def test_a_position_embedding_shared_by_the_rows_is_refused_without_the_row_count():
    model = _model("bert").double().eval()
    ids = torch.randint(3, 50, (2, 5), generator=torch.Generator().manual_seed(2))
    with pytest.raises(layer_grads.Unsupported, match="no row axis"):
        layer_grads.weighted_row_grads(
            model, dict(model.named_parameters()), lambda: model(input_ids=ids).logits[:, 0], lambda k: None, [1.0]
        )


def test_a_norm_over_two_trailing_axes_gives_per_row_gradients_equal_to_autograd():
    torch.manual_seed(3)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.Unflatten(1, (2, 3)),
        torch.nn.LayerNorm((2, 3)),
        torch.nn.Flatten(),
        torch.nn.Linear(6, 1),
    ).double()
    with torch.no_grad():  # weight and bias away from their initial 1 and 0
        model[2].weight.normal_()
        model[2].bias.normal_()
    params = dict(model.named_parameters())
    x = torch.randn(4, 4, dtype=torch.float64)
    hooked = layer_grads.weighted_row_grads(model, params, lambda: model(x)[:, 0], lambda k: None, [1.0], rows=4)
    for r in range(4):
        grads = torch.autograd.grad(model(x[r : r + 1])[0, 0], list(params.values()))
        for (name, _), grad in zip(params.items(), grads, strict=True):
            torch.testing.assert_close(hooked[name][r], grad, rtol=1e-10, atol=1e-13, msg=f"{name} row {r}")


@pytest.mark.parametrize("kind", ["bert", "roberta", "distilbert", "gpt2", "llama"])
def test_every_node_in_one_stacked_pass_equals_the_nodes_one_by_one(kind):
    """`node_stacked_row_grads` (the batch repeated per quadrature node, each layer with its node's
    parameters) gives the weighted per-row gradients of the per-node loop, with every parameter moving."""
    model = _model(kind).double().eval()
    params = dict(model.named_parameters())
    g = torch.Generator().manual_seed(4)
    theta = {n: p.detach().clone() for n, p in params.items()}
    delta = {n: 0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype) for n, p in params.items()}
    nodes, weights = [0.1, 0.5, 0.9], [0.2, 0.5, 0.3]
    ids = torch.randint(3, 50, (3, 6), generator=g)
    mask = torch.ones(3, 6, dtype=torch.long)
    ids[2, 4:], mask[2, 4:] = model.config.pad_token_id or 1, 0
    batch = {"input_ids": ids, "attention_mask": mask}

    def pick(b):
        logits = model(**b).logits
        return logits[:, 0] if kind in ("bert", "roberta", "distilbert") else logits[:, 3].log_softmax(-1)[:, 5]

    def load(k):
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(theta[n] + nodes[k] * delta[n])

    one_by_one = layer_grads.weighted_row_grads(model, params, lambda: pick(batch), load, weights, rows=3)
    load(0)  # the stacked pass reads no loaded parameters: any will do
    out = {n: torch.full((3, *p.shape), float("nan"), dtype=p.dtype) for n, p in params.items()}
    stacked = layer_grads.node_stacked_row_grads(model, params, pick, batch, theta, delta, nodes, weights, out, rows=3)
    assert stacked is out
    moved = 0
    # Llama's RMSNorm computes in float32 whatever the model's dtype: the two orders of work round apart
    # there, by float32's rounding of the gradients' scale
    for name in params:
        scale = float(one_by_one[name].abs().max())
        rtol, atol = (1e-6, 1e-6 * scale) if kind == "llama" else (1e-9, 1e-12)
        torch.testing.assert_close(stacked[name], one_by_one[name], rtol=rtol, atol=atol, msg=f"{kind} {name}")
        moved += bool(stacked[name].abs().max() > 0)
    assert moved > len(params) // 2
    assert all("forward" not in m.__dict__ for m in model.modules())  # the layers' own forwards are back


def test_a_parameter_read_outside_its_layer_is_refused_by_the_stacked_pass():
    """A weight read directly (here a tied projection by F.linear) would be read at one node only."""
    torch.manual_seed(5)
    embed = torch.nn.Embedding(10, 4).double()

    def value(b):
        return torch.nn.functional.linear(embed(b["ids"]).sum(1), embed.weight)[:, 0]

    params = dict(embed.named_parameters())
    theta = {n: p.detach().clone() for n, p in params.items()}
    delta = {n: torch.ones_like(p) for n, p in params.items()}
    out = {n: torch.empty((2, *p.shape), dtype=p.dtype) for n, p in params.items()}
    ids = {"ids": torch.tensor([[1, 2], [3, 4]])}
    with pytest.raises(layer_grads.Unsupported, match="read outside"):
        layer_grads.node_stacked_row_grads(embed, params, value, ids, theta, delta, [0.5], [1.0], out, rows=2)
    assert "forward" not in embed.__dict__


class _ScaledEmbedding(torch.nn.Embedding):
    """An embedding whose forward rescales its lookup (as Gemma's does): not the layer the hooks read."""

    def forward(self, ids):
        return super().forward(ids) * 3.0


def test_a_layer_with_its_own_forward_is_not_read_as_the_plain_layer():
    torch.manual_seed(6)
    embed = _ScaledEmbedding(10, 4).double()
    params = dict(embed.named_parameters())
    ids = {"ids": torch.tensor([[1, 2], [3, 4]])}

    def value(b):
        return embed(b["ids"]).sum((1, 2))

    with pytest.raises(layer_grads.Unsupported, match="outside"):
        layer_grads.weighted_row_grads(embed, params, lambda: value(ids), lambda k: None, [1.0], rows=2)
    theta = {n: p.detach().clone() for n, p in params.items()}
    out = {n: torch.empty((2, *p.shape), dtype=p.dtype) for n, p in params.items()}
    with pytest.raises(layer_grads.Unsupported, match="read outside"):
        layer_grads.node_stacked_row_grads(embed, params, value, ids, theta, theta, [0.5], [1.0], out, rows=2)
