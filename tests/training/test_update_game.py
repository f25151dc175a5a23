"""The update game's exact Shapley values match the path kernel's component scores on one step, and
differ from them across many steps (path dependence); coalitions batched in one forward (each with its own
parameters) give the values of one forward a coalition."""

import numpy as np
import pytest
import torch
from traced_models import TESTS, example_loss, mlp, mlp_norm, mlp_scale, record, rows, value

from shapsweep.estimators import estimate
from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.train import TrainingOptions
from shapsweep.training.update_game import UpdateGame, UpdateWindow


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
        game = UpdateGame(UpdateWindow(root, mlp(), steps=(5, 6)), value, row)
        assert game.players == kernel.components
        shapley = estimate(game, game.n_players, method="exact")
        assert shapley.v_empty == pytest.approx(kernel.v_empty[i], abs=1e-12)
        assert shapley.v_full == pytest.approx(kernel.v_full[i], abs=1e-12)
        scale = np.abs(shapley.values).max()
        assert scale > 1e-6
        np.testing.assert_allclose(kernel.component_scores[i], shapley.values, rtol=0, atol=1e-5 * scale)
    # over 30 steps the straight-line game and the path's sum of steps part ways
    many = path_kernel(root, mlp(), value, TESTS[:1], example_loss, by_id, steps=(0, 30), midpoints=4)
    game = UpdateGame(UpdateWindow(root, mlp(), steps=(0, 30)), value, TESTS[0])
    shapley = estimate(game, game.n_players, method="exact")
    difference = np.abs(many.component_scores[0] - shapley.values).max()
    assert difference > 100 * np.abs(many.efficiency_gap).max()


def collate(rows):
    return torch.stack([r["x"] for r in rows])


def batch_value(model, batch):
    return model(batch).squeeze(-1)


def _every_coalition(n: int) -> np.ndarray:
    return np.array([[(k >> i) & 1 for i in range(n)] for k in range(2**n)], dtype=bool)


@pytest.mark.parametrize("make", [mlp, mlp_norm], ids=["mlp", "mlp_norm"])
def test_coalitions_in_one_forward_equal_one_forward_a_coalition(tmp_path, make):
    training = rows()
    options = TrainingOptions(lr=1e-2, betas=(0.9, 0.98), weight_decay=0.1, batch_size=5, steps=4, seed=0)
    root = record(tmp_path / "t", make(), training, options)
    model, other = make(), make()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    one_by_one = UpdateGame(UpdateWindow(root, other, steps=(1, 3)), value, TESTS[1])
    stacked = UpdateGame(UpdateWindow(root, model, steps=(1, 3)), batch_value, TESTS[1], collate=collate, batch_size=5)
    coalitions = _every_coalition(stacked.n_players)
    expected = one_by_one(coalitions)
    got = stacked(coalitions)
    assert stacked.stacked and stacked.forward_passes == -(-len(coalitions) // 5)  # 5 coalitions a forward
    assert one_by_one.forward_passes == len(coalitions)
    assert np.ptp(expected) > 1e-3  # the updates move the value
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    # both ways put the model's own parameters back as they were: the next row's game is built from them
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), before[name]), name
    for name, p in other.named_parameters():
        assert torch.equal(p.detach(), before[name]), name


def test_a_parameter_outside_the_layers_falls_back_to_one_forward_a_coalition(tmp_path):
    """mlp_scale's `Scale` multiplies by its own parameter outside any Linear: the batched forward would read
    it at one value for every coalition, so the game notices (NaN) and takes the coalitions one at a time."""
    training = rows()
    options = TrainingOptions(lr=1e-2, betas=(0.9, 0.98), weight_decay=0.1, batch_size=5, steps=3, seed=0)
    root = record(tmp_path / "t", mlp_scale(), training, options)
    one_by_one = UpdateGame(UpdateWindow(root, mlp_scale(), steps=(0, 3)), value, TESTS[0])
    fallback = UpdateGame(UpdateWindow(root, mlp_scale(), steps=(0, 3)), batch_value, TESTS[0], collate=collate)
    coalitions = _every_coalition(fallback.n_players)
    got = fallback(coalitions)
    assert not fallback.stacked and fallback.forward_passes == len(coalitions)
    np.testing.assert_array_equal(got, one_by_one(coalitions))
    assert np.isfinite(got).all()
