"""Our exact values agree with shapiq's exact computer on an arbitrary game."""

import numpy as np
import pytest
from estimator_games import random_table_game

from shapsweep.estimators import estimate


@pytest.mark.parametrize("n", [5, 10])
def test_exact_agrees_with_shapiq_exact_computer(n):
    shapiq = pytest.importorskip("shapiq")
    game = random_table_game(n, np.random.default_rng(n))
    theirs = shapiq.ExactComputer(game, n_players=n)("SV", order=1)
    theirs_phi = np.array([theirs[(i,)] for i in range(n)])
    ours = estimate(game, n, "exact").values
    np.testing.assert_allclose(ours, theirs_phi, atol=1e-9)
