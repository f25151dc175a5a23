"""`response_logprob_tensor` with one response per row, padded: each row reads its own tokens and no padding,
as the row would read alone (the batched value of the path kernel's causal games relies on it)."""

import pytest
import torch

from shapsweep.values.logprob import response_logprob_tensor


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_padded_rows_equal_each_row_alone(reduce):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 7, generator=g, requires_grad=True)
    responses = [[1, 2, 3, 4], [5, 6], [0, 3, 2]]
    padded = torch.tensor([r + [0] * (4 - len(r)) for r in responses])
    lengths = torch.tensor([len(r) for r in responses])
    together = response_logprob_tensor(logits, padded, reduce, lengths)
    alone = torch.cat(
        [response_logprob_tensor(logits[i : i + 1, : len(r)], torch.tensor(r), reduce) for i, r in enumerate(responses)]
    )
    torch.testing.assert_close(together, alone, rtol=1e-6, atol=1e-7)
    # the padding positions get no gradient
    (grad,) = torch.autograd.grad(together.sum(), logits)
    assert grad[1, 2:].abs().max() == 0 and grad[2, 3:].abs().max() == 0 and grad[1, :2].abs().max() > 0
