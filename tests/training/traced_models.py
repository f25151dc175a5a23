"""Small float64 models traced with the plain-loop recorder: the path kernel's and update game's tests share them."""

import torch

from shapsweep.training.recorder import TraceRecorder
from shapsweep.training.train import batch_indices


def rows(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = torch.randn(n, generator=g)
    return [{"row_id": f"r{i}", "x": x[i], "y": y[i], "label": i % 2} for i in range(n)]


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def mlp_norm(seed=0):
    """An MLP with a LayerNorm (its per-row gradients rebuilt from the layer's own forward)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


class Scale(torch.nn.Module):
    """x ⊙ s: a trainable parameter in no layer the hooks read."""

    def __init__(self, width: int):
        super().__init__()
        self.s = torch.nn.Parameter(torch.linspace(0.5, 1.5, width))

    def forward(self, x):
        return x * self.s


def mlp_scale(seed=0):
    """An MLP with a `Scale`: per-row gradients by vmap(grad), the hooks' fallback."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), Scale(8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def linear(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 1))


def example_loss(model, rows):
    """One squared error per training row."""
    x = torch.stack([r["x"] for r in rows])
    y = torch.stack([r["y"] for r in rows])
    return (model(x).squeeze(-1) - y) ** 2


def value(model, rows):
    """The model's output for each test row."""
    return model(torch.stack([r["x"] for r in rows])).squeeze(-1)


def record(root, model, rows, options):
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=options.lr, betas=options.betas, weight_decay=options.weight_decay
    )
    recorder = TraceRecorder(root, model, optimizer, row_ids=[r["row_id"] for r in rows], total_steps=options.steps)
    for step in range(options.steps):
        batch = [rows[i] for i in batch_indices(step, len(rows), options)]
        optimizer.zero_grad()
        loss = example_loss(model, batch).mean()
        loss.backward()
        recorder.record(step, batch_row_ids=[r["row_id"] for r in batch], loss=loss.item())
        optimizer.step()
    recorder.finish(options.steps)
    return root


TESTS = [{"x": x} for x in torch.randn(3, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)]
