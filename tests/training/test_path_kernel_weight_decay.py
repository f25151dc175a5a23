"""The path kernel's weight-decay part against its definition (explaind 0.1.0 reports it times an extra
factor of the learning rate: benchmarks/explaind_checks.py). For a value linear in θ, AdamW's decoupled
decay -lr_s λ θ_s moves f by -lr_s λ ∇f · θ_s, and ∇f · θ = f(θ) for a linear layer with its bias: the
part must be -λ Σ_s lr_s f(x; θ_s), per test row, whatever the quadrature."""

import numpy as np
import pytest
import torch
from traced_models import TESTS, example_loss, linear, record, rows, value

from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.trace import read_step
from shapsweep.training.train import TrainingOptions


@pytest.fixture(autouse=True)
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_the_weight_decay_part_is_minus_lr_lambda_times_the_value_at_each_step(tmp_path):
    decay, steps = 0.3, 6
    options = TrainingOptions(lr=0.05, betas=(0.9, 0.98), weight_decay=decay, batch_size=4, steps=steps, seed=1)
    training = rows()
    root = record(tmp_path / "t", linear(), training, options)
    by_id = {r["row_id"]: r for r in training}
    result = path_kernel(root, linear(), value, TESTS, example_loss, by_id, midpoints=1)

    model, expected = linear(), np.zeros(len(TESTS))
    named = dict(model.named_parameters())
    for s in range(steps):
        state = read_step(root, s)
        with torch.no_grad():
            for name, tensor in state.params.items():
                named[name].copy_(tensor)
            expected -= state.lr * decay * value(model, TESTS).numpy()
    assert np.abs(expected).min() > 1e-3
    np.testing.assert_allclose(result.weight_decay.sum(axis=1), expected, rtol=1e-10, atol=1e-14)
