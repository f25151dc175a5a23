"""The update game's exact Shapley values match the path kernel's component scores on one step, and
differ from them across many steps (path dependence)."""

import numpy as np
import pytest
import torch
from traced_models import TESTS, example_loss, mlp, record, rows, value

from shapsweep.estimators import estimate
from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.train import TrainingOptions
from shapsweep.training.update_game import UpdateGame


@pytest.fixture(autouse=True)
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_exact_update_game_matches_path_kernel_components_on_one_step_and_not_over_many(tmp_path):
    training = rows()
    options = TrainingOptions(lr=1e-3, betas=(0.9, 0.98), weight_decay=1.0, batch_size=5, steps=30, seed=0)
    root = record(tmp_path / "t", mlp(), training, options)
    by_id = {r["row_id"]: r for r in training}
    kernel = path_kernel(root, mlp(), value, TESTS, example_loss, by_id, steps=(5, 6), midpoints=10)
    for i, row in enumerate(TESTS):
        game = UpdateGame(root, mlp(), value, row, steps=(5, 6))
        assert game.players == kernel.components
        shapley = estimate(game, game.n_players, method="exact")
        assert shapley.v_empty == pytest.approx(kernel.v_empty[i], abs=1e-12)
        assert shapley.v_full == pytest.approx(kernel.v_full[i], abs=1e-12)
        scale = np.abs(shapley.values).max()
        assert scale > 1e-6
        np.testing.assert_allclose(kernel.component_scores[i], shapley.values, rtol=0, atol=1e-5 * scale)
    # over 30 steps the straight-line game and the path's sum of steps part ways
    many = path_kernel(root, mlp(), value, TESTS[:1], example_loss, by_id, steps=(0, 30), midpoints=4)
    game = UpdateGame(root, mlp(), value, TESTS[0], steps=(0, 30))
    shapley = estimate(game, game.n_players, method="exact")
    difference = np.abs(many.component_scores[0] - shapley.values).max()
    assert difference > 100 * np.abs(many.efficiency_gap).max()
