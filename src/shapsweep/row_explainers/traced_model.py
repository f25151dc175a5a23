"""A run's model over the set's trace: what the path_kernel and update_game kinds share.

The run's connector model builds each test row's game (players, the target class or response, fixed at the
window's end θ_{s1}); its network is the one the trace's parameters are loaded into, in float64 (a step's
change is a small difference of two values). A row's value is its game's full-input value recomputed from
token ids, so it follows θ and has a gradient in θ.
"""

from __future__ import annotations

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

        from shapsweep.training.trace import params_after, read_header

        if "trace" not in run:
            raise ConfigError(f"run {run['run_id']} reads a trace but has none: set the `training` block")
        self.run, self.trace = run, run["trace"]
        self.root = Path(self.trace["root"])
        self.options = run["explain"]["shap"]["options"]
        self.connector = load_run_model(run)
        self.net = self.connector.model.to(torch.float64)
        self.header = read_header(self.root)
        self.window = trace_window(self.root, self.options["steps"])
        self.load(params_after(self.root, self.window[1] - 1))  # the games' targets are θ_{s1}'s

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
