"""msr's exact peeling of pair and triple unanimity terms from the Hadamard blocks (walsh_peeling.py)."""

from __future__ import annotations

import numpy as np
from estimator_games import SoumGame

from shapsweep.estimators import estimate
from shapsweep.estimators.hadamard_design import block_size, draw_blocks
from shapsweep.estimators.walsh_peeling import block_readings, peel


def _truth(game: SoumGame) -> dict[tuple[int, ...], float]:
    terms: dict[tuple[int, ...], float] = {}
    for t, c in zip(game.terms, game.coef, strict=True):
        key = tuple(sorted(int(i) for i in t))
        terms[key] = terms.get(key, 0.0) + float(c)
    return terms


def _blocks(n: int, pairs: int, seed: int):
    """A Hadamard design of `pairs` pairs (no uniform pairs needed at these n)."""
    design = draw_blocks(n, pairs, np.random.default_rng(seed), set(), lambda k, r, t: np.zeros((0, n), bool))
    assert (design.block >= 0).all()
    return design


def _halves(game, design):
    first, second = game(design.rows), game(~design.rows)
    return (first - second) / 2, (first + second) / 2


def test_peel_recovers_every_pair_and_triple_term_and_nothing_else():
    n = 32
    game = SoumGame(n, 2 * n, np.random.default_rng(11), max_order=3)
    design = _blocks(n, 4 * block_size(n), seed=0)  # four full blocks
    found = peel(design, *_halves(game, design))
    truth = {t: c for t, c in _truth(game).items() if len(t) >= 2}
    assert found.blocks == 4 and found.zero_share == 1.0
    assert {t for t, _c in found.terms} == set(truth)
    for t, c in found.terms:
        assert abs(c - truth[t]) < 1e-9 * max(1.0, abs(truth[t]))
    assert "recovered exactly" in found.summary()


def test_a_block_missing_one_row_is_filled_in_exactly():
    n = 32
    game = SoumGame(n, 2 * n, np.random.default_rng(12), max_order=3)
    full = _blocks(n, block_size(n), seed=1)
    odd, even = _halves(game, full)
    blocks, want_odd, want_even = block_readings(full, odd, even)
    keep = np.arange(len(full.rows)) != 17  # drop one row: the block is partial
    partial = type(full)(full.rows[keep], full.block[keep], full.index[keep], full.labels, full.flips, full.size)
    got_blocks, got_odd, got_even = block_readings(partial, odd[keep], even[keep])
    assert list(blocks) == list(got_blocks) == [0]
    np.testing.assert_allclose(got_odd, want_odd, atol=1e-12)
    np.testing.assert_allclose(got_even, want_even, atol=1e-12)


def test_msr_gives_exact_banzhaf_values_of_a_sparse_order_3_game_at_8n():
    # 8n is 4 pairs a player: the linear fit's error is the odd triples aliased on the main effects; peeled,
    # the rest is additive and its fit is exact (benchmark games at n = 128, 8n: 0.10 -> 1e-15)
    n = 64
    game = SoumGame(n, 2 * n, np.random.default_rng(13), max_order=3)
    truth = game.banzhaf()
    result = estimate(game, n, method="msr", budget=8 * n, seed=0)
    assert "recovered exactly" in result.details["walsh_peeling"], result.details
    assert result.details["adjust"] == "linear" and "additive" in result.details["adjust_reason"]
    assert np.abs(result.values - truth).max() < 1e-9 * np.abs(truth).max()
    assert np.all(np.abs(result.values - truth) <= 1.96 * result.stderr)  # intervals keep a floor
    linear = estimate(game, n, method="msr", budget=8 * n, seed=0, adjust="linear")
    assert "walsh_peeling" not in linear.details  # the plain fit is Kernel Banzhaf's, not peeled
    assert np.linalg.norm(linear.values - truth) > 1e-2 * np.linalg.norm(truth)
    again = estimate(game, n, method="msr", budget=8 * n, seed=0)
    np.testing.assert_array_equal(again.values, result.values)


def test_a_float32_game_is_peeled_to_its_precision():
    n = 64
    game = SoumGame(n, 2 * n, np.random.default_rng(15), max_order=3)
    truth = game.banzhaf()
    result = estimate(lambda z: game(z).astype(np.float32).astype(np.float64), n, method="msr", budget=8 * n, seed=1)
    assert "recovered exactly" in result.details["walsh_peeling"]
    assert np.linalg.norm(result.values - truth) < 1e-6 * np.linalg.norm(truth)


def test_games_that_are_not_sparse_sums_of_pairs_and_triples_are_left_to_the_fits():
    n = 32
    # order <= 5: the sets of 4 and 5 crowd every bucket, so peeling is not tried
    order_5 = SoumGame(n, 2 * n, np.random.default_rng(15), max_order=5)
    assert "walsh_peeling" not in estimate(order_5, n, method="msr", budget=16 * n, seed=0).details
    # nearly sparse: a small dense part leaves no reading exactly single
    dense = SoumGame(n, 2 * n, np.random.default_rng(16), max_order=3, dense=1e-3)
    assert "walsh_peeling" not in estimate(dense, n, method="msr", budget=8 * n, seed=0).details
    # 4n, one Hadamard block: a few triples are found, but each pair is read once and stays, so under half
    # the readings end at zero and the terms are not used
    one_block = SoumGame(128, 256, np.random.default_rng(17), max_order=3)
    details = estimate(one_block, 128, method="msr", budget=4 * 128, seed=0).details
    assert "of 1 Hadamard block " in details["walsh_peeling"] and "not used" in details["walsh_peeling"], details
    # a weighted majority vote: its many equal Walsh coefficients give readings of equal magnitude; whatever
    # they let the peeling find, the readings stay mostly non-zero, so no term is used
    weights = np.random.default_rng(0).integers(1, 4, n)
    for budget in (8 * n, 32 * n):
        result = estimate(
            lambda z: (np.asarray(z, bool) @ weights > weights.sum() / 2).astype(float),
            n,
            method="msr",
            budget=budget,
            seed=0,
        )
        assert "not used" in result.details.get("walsh_peeling", "not used"), result.details
