"""Adaptive design of regression_adjusted's pairs: the greedy choice, its bookkeeping, and what it buys."""

import itertools
import json

import numpy as np
import pytest
from estimator_games import CountingGame, SoumGame

from shapsweep.estimators import estimate, unanimity_kernel
from shapsweep.estimators.adaptive_design import (
    UNANIMITY_DESIGN_JITTER,
    candidate_pool,
    choose_pairs,
    choose_pairs_banzhaf,
    choose_pairs_unanimity,
)
from shapsweep.estimators.fourier_kernel import fit_fourier_surrogate, kernel_matrix, shapley_rows
from shapsweep.estimators.paired_design import PairedSampler


class DenseFourierGame:
    """Every degree-1 and degree-3 Fourier character with random weights."""

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng(seed)
        self.n = n
        self.triples = np.array(list(itertools.combinations(range(n), 3)))
        self.w1 = rng.normal(size=n) * np.linspace(2.0, 0.2, n)
        self.w3 = 0.03 * rng.normal(size=len(self.triples))  # a few per cent of the energy, as in model games

    def __call__(self, z):
        s = np.where(np.asarray(z, bool), 1.0, -1.0)
        return s @ self.w1 + s[:, self.triples].prod(axis=2) @ self.w3


def _explained_variance(surrogate, x, chosen_rows):
    """tr(G^T (K + noise I)^-1 G) over data x plus chosen rows: how much of tr Cov(phi) the data remove."""
    data = np.vstack([x, chosen_rows])
    k = kernel_matrix(data, data, surrogate.weights, surrogate.scale) + surrogate.ridge * np.eye(len(data))
    g = shapley_rows(data, surrogate.weights, surrogate.scale)
    return float(np.trace(g.T @ np.linalg.solve(k, g)))


def _fitted(n=9, pairs=20, seed=0):
    game = DenseFourierGame(n, seed)
    rng = np.random.default_rng(seed)
    sampler = PairedSampler(n, rng, "kernel")
    sampler.grow(2 * pairs)
    sample = sampler.sample()
    first = np.arange(len(sample.coalitions)) < sample.complement
    s = sample.coalitions[first]
    x = np.vstack([np.ones((1, n)), np.where(s, 1.0, -1.0)])
    t = np.concatenate([[(game(np.ones((1, n)))[0] - game(np.zeros((1, n)))[0]) / 2], (game(s) - game(~s)) / 2])
    return sampler, fit_fourier_surrogate(x, t, rng), x


def test_pool_holds_new_distinct_pairs_spread_like_the_sampler():
    sampler, _, _ = _fitted()
    pool = candidate_pool(sampler, 60)
    keys = {row.tobytes() for row in np.packbits(pool, axis=1)}
    taken = set().union(*sampler.taken)
    assert len(pool) == len(keys) == 60 and not keys & taken
    assert set(pool.sum(axis=1)) <= {1, 2, 3, 4}  # first halves: sizes up to n/2 (n = 9)


def test_greedy_choice_removes_more_posterior_variance_than_random_choices():
    sampler, surrogate, x = _fitted()
    pool = candidate_pool(sampler, 80)
    chosen = choose_pairs(surrogate, x, pool, 15)
    assert len(set(chosen.tolist())) == 15
    signs = np.where(pool, 1.0, -1.0)
    greedy = _explained_variance(surrogate, x, signs[chosen])
    rng = np.random.default_rng(1)
    randoms = [_explained_variance(surrogate, x, signs[rng.choice(len(pool), 15, replace=False)]) for _ in range(20)]
    assert greedy > max(randoms)


def test_each_greedy_step_takes_the_best_candidate_given_the_earlier_ones():
    # The rank-one bookkeeping against a direct recomputation of every candidate's gain.
    sampler, surrogate, x = _fitted(seed=3)
    pool = candidate_pool(sampler, 30)
    signs = np.where(pool, 1.0, -1.0)
    chosen = choose_pairs(surrogate, x, pool, 4)
    for step in range(4):
        before = signs[chosen[:step]]
        gains = [
            _explained_variance(surrogate, x, np.vstack([before, signs[j : j + 1]])) if j not in chosen[:step] else -1
            for j in range(len(pool))
        ]
        assert chosen[step] == int(np.argmax(gains))


def test_banzhaf_greedy_choice_removes_more_posterior_variance_of_the_banzhaf_values_than_random_choices():
    # msr's second stage (additive_design.py): a fixed degree-1 and degree-3 prior, Cov(beta, f(s)) = 2 w_1 s
    n, count = 10, 12
    rng = np.random.default_rng(2)
    x = np.vstack([np.ones((1, n)), np.where(rng.random((16, n)) < 0.5, 1.0, -1.0)])
    pool = rng.random((120, n)) < 0.5
    weights, noise = {1: 1.0 / n, 3: 0.01 / 120}, 1e-3

    def explained(rows):
        data = np.vstack([x, rows])
        k = kernel_matrix(data, data, weights, None) + noise * np.eye(len(data))
        g = 2 * weights[1] * data
        return float(np.trace(g.T @ np.linalg.solve(k, g)))

    chosen = choose_pairs_banzhaf(x, pool, count, weights, noise)
    assert len(set(chosen.tolist())) == count
    signs = np.where(pool, 1.0, -1.0)
    greedy = explained(signs[chosen])
    randoms = [explained(signs[rng.choice(len(pool), count, replace=False)]) for _ in range(20)]
    assert greedy > max(randoms)
    # each step took the best candidate given the earlier ones
    for step in range(3):
        gains = [explained(np.vstack([signs[chosen[:step]], signs[j : j + 1]])) for j in range(len(pool))]
        gains = [g if j not in chosen[:step] else -1 for j, g in enumerate(gains)]
        assert chosen[step] == int(np.argmax(gains))


def test_adaptive_design_is_used_below_32n_spends_the_budget_and_repeats():
    n = 12
    counting = CountingGame(DenseFourierGame(n, 0))
    r = estimate(counting, n, "regression_adjusted", budget=8 * n, seed=4, surrogate="fourier")
    design = r.details["design"]
    assert design["kind"] == "adaptive" and design["random_pairs"] == 24 and design["designed_pairs"] == 23
    assert r.n_evals == len(set(counting.rows)) == 8 * n
    assert abs(r.efficiency_gap) < 1e-9 and r.stderr is not None and np.all(r.stderr > 0)
    assert r.details["correction"]["pairs"] == "the 24 random pairs"
    json.dumps(r.details)
    again = estimate(counting.game, n, "regression_adjusted", budget=8 * n, seed=4, surrogate="fourier")
    assert again.values.tobytes() == r.values.tobytes()


@pytest.mark.parametrize(
    "budget,options,reason",
    [
        (32 * 12, {}, "budget 384 >= 32n"),
        (8 * 12, {"design": "random"}, "asked for"),
        (8 * 12, {"surrogate": "none"}, "surrogate 'none' has no Gaussian prior"),
        (8 * 12, {"target_stderr": 1e-9}, "target_stderr samples in rounds"),
    ],
)
def test_random_pairs_where_the_design_does_not_apply_and_why(budget, options, reason):
    r = estimate(DenseFourierGame(12, 0), 12, "regression_adjusted", budget=budget, seed=0, **options)
    assert r.details["design"]["kind"] == "random" and reason in r.details["design"]["reason"]


def test_a_budget_that_holds_every_coalition_stays_exact():
    game = DenseFourierGame(5, 0)
    r = estimate(game, 5, "regression_adjusted", budget=8 * 5, seed=0)
    assert r.details["design"]["reason"] == "random pairs: every coalition fits the budget"
    np.testing.assert_allclose(r.values, estimate(game, 5, "exact").values, atol=1e-12)


def test_95_percent_intervals_cover_the_exact_values_under_the_design_at_4n():
    # Only the random pairs give standard errors; at 4n with one random pair per player this fell to 89.5%.
    n = 48
    game = SoumGame(n, 2 * n, np.random.default_rng(n), max_order=4)
    truth = game.shapley()
    hits = []
    for seed in range(30):
        r = estimate(game, n, "regression_adjusted", budget=4 * n, seed=seed)
        assert r.details["design"]["kind"] == "adaptive"
        hits.append(np.abs(r.values - truth) <= 1.96 * r.stderr)
    assert np.mean(hits) >= 0.9


def test_bad_design_option():
    with pytest.raises(ValueError, match=r"design='sequential' is not valid.*auto, random"):
        estimate(DenseFourierGame(6, 0), 6, "regression_adjusted", budget=40, design="sequential")


def test_adaptive_design_beats_random_pairs_on_real_sentence_embedding_games(minilm_path):
    # The games the design is for: all-MiniLM-L6-v2 word games (as in benchmarks/estimators.py), exact
    # over all 2^n coalitions of two 10-11-word sentences.
    from shapsweep.estimators.exact import all_coalitions, shapley_from_all_values
    from shapsweep.models import load_model

    model = load_model(
        {"connector": "sentence_embedder", "path_or_id": minilm_path, "device": "cpu", "batch_size": 256},
        {"granularity": "word", "exclude_punctuation": True, "masking": "remove"},
        {"kind": "similarity", "target": "full", "similarity": "cosine"},
    )
    errors = {"auto": [], "random": []}
    for k, text in enumerate(
        [
            "The old fisherman mended his nets while gulls circled above.",
            "Heavy rain flooded the streets, so the market closed early today.",
        ]
    ):
        game = model.game({"row_id": f"s{k}", "text": text})
        n = game.n_players
        table = game(all_coalitions(n))
        truth = shapley_from_all_values(table, n)
        powers = 1 << np.arange(n)

        def tabulated(z, table=table, powers=powers):
            return table[np.asarray(z, bool) @ powers]

        for seed in range(6):
            for design in errors:
                r = estimate(tabulated, n, "regression_adjusted", budget=16 * n, seed=seed, design=design)
                errors[design].append(np.linalg.norm(r.values - truth) / np.linalg.norm(truth))
    assert np.median(errors["auto"]) < 0.9 * np.median(errors["random"])


def _unanimity_explained_variance(x, rows, weights):
    """tr(G^T K^-1 G) under the unanimity prior over data x plus rows (jitter as the greedy's)."""
    data = np.vstack([x, rows])
    k = unanimity_kernel.kernel_matrix(data, data, weights)
    k += UNANIMITY_DESIGN_JITTER * np.mean(np.diag(k)) * np.eye(len(data))
    g = unanimity_kernel.shapley_rows(data, weights)
    return float(np.trace(g.T @ np.linalg.solve(k, g)))


@pytest.mark.parametrize("block", [1, 4])
def test_unanimity_greedy_removes_more_posterior_variance_than_random_choices(block):
    sampler, _, x = _fitted(n=10, pairs=15, seed=5)
    pool = candidate_pool(sampler, 80)
    weights = unanimity_kernel.prior(3)
    chosen = choose_pairs_unanimity(x, pool, 16, weights, block)
    assert len(set(chosen.tolist())) == 16
    signs = np.where(pool, 1.0, -1.0)
    greedy = _unanimity_explained_variance(x, signs[chosen], weights)
    rng = np.random.default_rng(1)
    randoms = [
        _unanimity_explained_variance(x, signs[rng.choice(len(pool), 16, replace=False)], weights) for _ in range(20)
    ]
    assert greedy > max(randoms)


def test_unanimity_greedy_one_a_step_takes_the_best_candidate_given_the_earlier_ones():
    # The block updates (here blocks of one) against a direct recomputation of every candidate's gain.
    sampler, _, x = _fitted(n=9, pairs=12, seed=2)
    pool = candidate_pool(sampler, 25)
    signs, weights = np.where(pool, 1.0, -1.0), unanimity_kernel.prior(3)
    chosen = choose_pairs_unanimity(x, pool, 4, weights, 1)
    for step in range(4):
        before = signs[chosen[:step]]
        gains = [
            _unanimity_explained_variance(x, np.vstack([before, signs[j : j + 1]]), weights)
            if j not in chosen[:step]
            else -1
            for j in range(len(pool))
        ]
        assert chosen[step] == int(np.argmax(gains))


def test_past_512_pairs_at_n_256_the_design_runs_under_the_unanimity_prior_and_beats_random_pairs():
    n, budget = 256, 8 * 256
    ratios = []
    for seed in range(3):
        game = SoumGame(n, 3 * n, np.random.default_rng(seed), max_order=3)
        truth = game.shapley()
        counting = CountingGame(game)
        r = estimate(counting, n, "regression_adjusted", budget=budget, seed=seed)
        design = r.details["design"]
        assert design["kind"] == "adaptive" and design["prior"].startswith("unanimity, orders <= 3")
        assert design["random_pairs"] == 512 and design["designed_pairs"] == 511
        assert r.n_evals == len(set(counting.rows)) == budget
        assert abs(r.efficiency_gap) < 1e-9 and np.all(r.stderr > 0)
        verdict = r.details["fit"]["all_rows_loo"]  # both priors fitted to every row, the lower error kept
        kept = "unanimity" if "unanimity" in r.details["fit"]["prior"] else "fourier"
        assert verdict[kept] == min(verdict["unanimity"], verdict["fourier"])
        plain = estimate(game, n, "regression_adjusted", budget=budget, seed=seed, design="random")
        assert plain.details["design"]["kind"] == "random"
        ratios.append(np.linalg.norm(r.values - truth) / np.linalg.norm(plain.values - truth))
        if seed == 0:
            again = estimate(game, n, "regression_adjusted", budget=budget, seed=seed)
            assert again.values.tobytes() == r.values.tobytes()
    assert np.mean(ratios) < 0.95, ratios
