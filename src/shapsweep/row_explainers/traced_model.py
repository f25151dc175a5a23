"""A run's model over the set's trace: what the path_kernel and update_game kinds share.

The run's connector model builds each test row's game (players, the target class or response, fixed at the
window's end θ_{s1}); its network is the one the trace's parameters are loaded into, in float64 (a step's
change is a small difference of two values). A row's value is its game's full-input value recomputed from
token ids, so it follows θ and has a gradient in θ.

`collate` and `batch_value` give the path kernel whole batches (rows padded on the right, the model's own
default position ids): its per-row gradients then come from layer hooks, every quadrature node of a step
in one pass per layer, instead of one vector-Jacobian product per row and node; `value` is the
one-row-at-a-time reference.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from shapsweep.errors import ConfigError
from shapsweep.row_explainers.model_rows import load_run_model
from shapsweep.run_spec import RunSpec


def trace_window(root, steps) -> tuple[int, int]:
    """options.steps 'all' -> every recorded update whose end state is recorded too; else [s0, s1]."""
    from shapsweep.training.trace import is_complete, read_header, recorded_steps

    if steps != "all":
        return int(steps[0]), int(steps[1])
    done = recorded_steps(root)
    if not done:
        raise ConfigError(f"shap.options.steps: the trace {root} has no recorded step")
    total = read_header(root)["total_steps"]
    last = total if is_complete(root) and done[-1] == total - 1 else done[-1]
    return done[0], last


class TracedModel:
    def __init__(self, run: RunSpec):
        import torch

        from shapsweep.training.trace import read_header

        if "trace" not in run:
            raise ConfigError(f"run {run['run_id']} reads a trace but has none: set the `training` block")
        self.run, self.trace = run, run["trace"]
        self.root = Path(self.trace["root"])
        self.options = run["explain"]["shap"]["options"]
        self.connector = load_run_model(run)
        self.net = self.connector.model.to(torch.float64)
        self.header = read_header(self.root)
        self.window = trace_window(self.root, self.options["steps"])
        self.at_window_end()

    def at_window_end(self) -> None:
        """θ_{s1} into the network: the rows' games (a classifier's target class, a causal LM's response)
        are built from it, so a method that moves the parameters puts these back before the next rows."""
        from shapsweep.training.trace import params_after

        self.load(params_after(self.root, self.window[1] - 1))

    def load(self, values: dict) -> None:
        import torch

        named = dict(self.net.named_parameters())
        with torch.no_grad():
            for name, value in values.items():
                named[name].copy_(value)

    def value(self, model, games):
        """Each game's full-input value, differentiable in the model's parameters (one per game)."""
        import torch

        from shapsweep.models.full_input_value import full_input_values

        return torch.stack([full_input_values(self.connector, model, game)[0] for game in games])

    @property
    def kind(self) -> str:
        """The traced model's connector kind (hf_classifier or hf_causal_lm)."""
        return self.header.get("kind", self.run["explain"]["model"]["connector"])

    @cached_property
    def tokenizer(self):
        """The trace's own tokenizer (saved with its base model) where it has one, else the connector's."""
        from transformers import AutoTokenizer

        base = self.root / "base"
        tokenizer = AutoTokenizer.from_pretrained(str(base)) if base.is_dir() else self.connector.tokenizer
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def collate(self, rows: list) -> dict:
        """Test rows (games) or training rows (dicts) as one padded batch with a leading row axis."""
        from shapsweep.models.full_input_value import collate_games
        from shapsweep.training.train import training_batch

        if isinstance(rows[0], dict):
            return training_batch(self.net, self.tokenizer, self.kind, rows)
        return collate_games(self.connector, rows, self.tokenizer.pad_token_id)

    def batch_value(self, model, batch: dict):
        """`value` of a collated batch of games: one forward for all rows, then each row's value read as
        `value` reads it (the same functions, so the same numbers)."""
        from shapsweep.models.full_input_value import batch_values

        return batch_values(self.connector, model, batch)
