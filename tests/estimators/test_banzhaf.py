"""Banzhaf values (`index='banzhaf'`): exact and MSR against closed forms, and the index contract."""

from __future__ import annotations

import numpy as np
import pytest
from estimator_games import AdditiveGame, CountingGame, SoumGame, brute_force_shapley

from shapsweep.estimators import METHODS, estimate, methods_for

# the dense part of the order-3 games that test msr's fits: without it msr peels them exactly
DENSE = 1e-3


def _without_cascade(monkeypatch):
    """Switch set_cascade.py off, for tests of the greedy fits it would take over from 12n at n >= 32
    (tests/estimators/test_set_cascade.py tests the cascade)."""
    from shapsweep.estimators import set_cascade

    monkeypatch.setattr(set_cascade, "MIN_ROWS_PER_PLAYER", 10**9)


def brute_force_banzhaf(game, n):
    """beta_i = 2^-(n-1) sum_{S not ni i} v(S u i) - v(S), from the definition."""
    beta = np.zeros(n)
    for code in range(2**n):
        s = np.array([(code >> j) & 1 for j in range(n)], bool)
        for i in np.flatnonzero(~s):
            with_i = s.copy()
            with_i[i] = True
            beta[i] += (game(with_i[None])[0] - game(s[None])[0]) / 2 ** (n - 1)
    return beta


def test_exact_banzhaf_matches_soum_closed_form_and_definition():
    game = SoumGame(7, 12, np.random.default_rng(3), max_order=4, offset=0.5)
    result = estimate(game, 7, method="exact", index="banzhaf")
    np.testing.assert_allclose(result.values, game.banzhaf(), atol=1e-12)
    np.testing.assert_allclose(result.values, brute_force_banzhaf(game, 7), atol=1e-12)
    assert result.index == "banzhaf"
    # a pure interaction splits differently: Shapley halves a pair's term, Banzhaf halves it too, but a
    # triple's term is c/3 under Shapley and c/4 under Banzhaf, so the two indices must differ here.
    assert np.abs(result.values - brute_force_shapley(game, 7)).max() > 1e-3


def test_unanimity_game_banzhaf_is_power_of_two():
    n, coalition = 6, [0, 2, 5]

    def game(z):
        return np.asarray(z, bool)[:, coalition].all(axis=1).astype(float)

    result = estimate(game, n, method="exact", index="banzhaf")
    expected = np.zeros(n)
    expected[coalition] = 1 / 4
    np.testing.assert_allclose(result.values, expected, atol=1e-12)


@pytest.mark.parametrize("adjust", ["linear", "none"])
def test_msr_converges_to_banzhaf_and_linear_is_exact_on_additive(adjust):
    n = 10
    additive = AdditiveGame(np.random.default_rng(1).normal(size=n), offset=2.0)
    result = estimate(additive, n, method="msr", budget=200, seed=4, adjust=adjust)
    error = np.abs(result.values - additive.shapley()).max()
    if adjust == "linear":
        assert error < 1e-9  # the linear fit recovers an additive game exactly
    else:
        assert 1e-6 < error < 1.0  # plain MSR carries the other players' effects as noise
    game = SoumGame(n, 20, np.random.default_rng(2), max_order=3)
    truth = game.banzhaf()
    big = estimate(game, n, method="msr", budget=1024, seed=0, adjust=adjust)  # every coalition
    np.testing.assert_allclose(big.values, truth, atol=1e-9)
    small = estimate(game, n, method="msr", budget=300, seed=0, adjust=adjust)
    assert small.index == "banzhaf" and small.n_evals == 300
    assert np.linalg.norm(small.values - truth) < 0.5 * np.linalg.norm(truth)
    assert small.stderr is not None and (small.stderr > 0).all()


def test_linear_adjustment_beats_plain_msr_on_soum():
    n, errors = 16, {"linear": [], "none": []}
    for seed in range(6):
        game = SoumGame(n, 40, np.random.default_rng(100 + seed), max_order=3)
        truth = game.banzhaf()
        for adjust in errors:
            phi = estimate(game, n, method="msr", budget=8 * n, seed=seed, adjust=adjust).values
            errors[adjust].append(np.linalg.norm(phi - truth) / np.linalg.norm(truth))
    assert np.median(errors["linear"]) < np.median(errors["none"])


def test_index_contract():
    assert methods_for("banzhaf") == ["exact", "mc", "msr"]
    assert "regression_adjusted" in methods_for("shapley") and "mc" not in methods_for("shapley")
    assert METHODS["mc"].indices == ("banzhaf",)
    game = AdditiveGame(np.ones(4))
    assert estimate(game, 4, method="mc", budget=10).index == "banzhaf"  # a method's own estimand by default
    assert estimate(game, 4, method="exact").index == "shapley"
    with pytest.raises(ValueError, match=r"method .kernel. estimates shapley values, not banzhaf.*exact, mc, msr"):
        estimate(game, 4, method="kernel", budget=10, index="banzhaf")
    with pytest.raises(ValueError, match="unknown index 'owen'"):
        estimate(game, 4, method="exact", index="owen")
    with pytest.raises(ValueError, match="option adjust='quadratic'"):
        estimate(game, 4, method="msr", budget=10, adjust="quadratic")


def test_a_shard_row_states_its_estimand(tiny_bert_classifier_path):
    """The explain job's row on a real (tiny) model: the `index` column, and msr's values near exact Banzhaf."""
    from shapsweep.explain import explain_row
    from shapsweep.file_schemas import SHARD_SCHEMA
    from shapsweep.models import load_model

    model = load_model(
        {"connector": "hf_classifier", "path_or_id": tiny_bert_classifier_path, "device": "cpu"},
        None,
        {"kind": "logit"},
    )
    row = {"row_id": "0", "text": "the film was long but the ending was lovely"}

    def shard_row(**shap):
        shap = {"batch_size": 64, "seed": 0, "normalizer": "identity", "options": {}, **shap}
        return explain_row(model, row, {"run_id": "r", "explain": {"shap": shap, "selection": {}}})

    exact = shard_row(method="exact", index="banzhaf")
    shapley = shard_row(method="exact")
    sampled = shard_row(method="msr", budget=400)
    assert "index" in SHARD_SCHEMA
    assert (exact["status"], exact["index"], shapley["index"], sampled["index"]) == (
        "ok",
        "banzhaf",
        "shapley",
        "banzhaf",
    )
    truth, phi = np.array(exact["attribution"]), np.array(sampled["attribution"])
    assert np.abs(truth - np.array(shapley["attribution"])).max() > 1e-6  # a model game has interactions
    assert np.linalg.norm(phi - truth) < 0.5 * np.linalg.norm(truth)
    mismatch = shard_row(method="kernel", budget=64, index="banzhaf")
    assert mismatch["status"] == "estimator_error" and "not banzhaf" in mismatch["error"]


def _auto_against_linear(n: int, seeds, first_game: int, pairs_per_player: int, adjusts: tuple):
    """msr's default (`adjust='auto'`) and its linear fit on order-3 SOUM games (game seed first_game + seed)
    with a small dense part (exactly sparse games are peeled, test_walsh_peeling.py): their relative errors,
    and (result, truth) of each default run, which must have chosen one of `adjusts`."""
    auto, linear, results = [], [], []
    for seed in seeds:
        game = SoumGame(n, 2 * n, np.random.default_rng(first_game + seed), max_order=3, dense=DENSE)
        truth = game.banzhaf()
        result = estimate(game, n, method="msr", budget=pairs_per_player * n, seed=seed)
        assert result.details["adjust"] in adjusts, result.details
        plain = estimate(game, n, method="msr", budget=pairs_per_player * n, seed=seed, adjust="linear")
        assert plain.details["adjust"] == "linear"
        auto.append(np.linalg.norm(result.values - truth) / np.linalg.norm(truth))
        linear.append(np.linalg.norm(plain.values - truth) / np.linalg.norm(truth))
        results.append((result, truth))
    return auto, linear, results


def test_auto_takes_a_higher_order_fit_where_it_predicts_better(monkeypatch):
    _without_cascade(monkeypatch)
    # a sum of unanimity games with 3-player terms: the sparse surrogate, the order-3 Walsh terms or the sets
    # find the terms, a linear fit cannot
    auto, linear, results = _auto_against_linear(14, range(4), 200, 16, ("sparse_moebius", "odd_triples", "odd_sets"))
    assert all("held-out error" in result.details["adjust_reason"] for result, _ in results)
    assert np.median(auto) < 0.5 * np.median(linear)
    # above MOEBIUS_MAX_PLAYERS the surrogate is not tried; the triples are, from 12n
    big = SoumGame(40, 80, np.random.default_rng(9), max_order=3, dense=DENSE)
    details = estimate(big, 40, method="msr", budget=16 * 40, seed=0).details
    assert details["adjust"] == "odd_triples" and "sparse_moebius" not in details["adjust_reason"]
    assert details["odd_triples"] > 0 and "5-fold" in details["odd_triples_cv"]
    # below 12n (6 pairs per player) the triples are not tried, the pair-and-triple fit of both halves is
    # (n = 32-64), on the Hadamard design
    small = estimate(big, 40, method="msr", budget=8 * 40, seed=0).details
    assert "odd_triples" not in small and "Hadamard blocks of 64" in small["design"], small
    assert small["adjust"] == "odd_pair_triples" and "5-fold" in small["odd_pair_triples_cv"], small


def test_the_moebius_fit_stops_only_where_its_held_out_error_passes_the_bound():
    """msr fits the sparse Moebius surrogate last, bounded by the best other candidate's error: the bound
    at its own error leaves the fit as it was, a bound just under it stops it, and msr says so."""
    from shapsweep.estimators.msr import _with_complements
    from shapsweep.estimators.paired_design import PairedSample
    from shapsweep.estimators.sparse_moebius import fit_on_pairs

    n = 10
    game = SoumGame(n, 2 * n, np.random.default_rng(3), max_order=3, dense=DENSE)
    rng = np.random.default_rng(0)
    pairs = _with_complements(rng.random((8 * n, n)) < 0.5)
    y = np.array([game(row[None])[0] for row in pairs])
    sample = PairedSample(pairs, np.ones(len(pairs)), np.arange(len(pairs)) ^ 1, False)
    first = np.arange(len(pairs)) % 2 == 0
    v_empty, v_full = game(np.zeros((1, n), bool))[0], game(np.ones((1, n), bool))[0]

    def fit(bound):
        return fit_on_pairs(sample, y, v_empty, v_full, first, None, np.flatnonzero(first), bound)

    free = fit(np.inf)
    error = free[0]
    assert error > 0
    at_bound = fit(error)
    assert at_bound[0] == error and np.array_equal(at_bound[1][1], free[1][1])
    assert fit(error * (1 - 1e-9)) is None and fit(0.0) is None
    # where another candidate wins at 32n, the Moebius fit stops and the reason names the bound
    runs = [estimate(game, n, method="msr", budget=32 * n, seed=s).details for s in range(6)]
    stopped = [d for d in runs if "(stopped)" in d["adjust_reason"]]
    assert stopped and all("sparse_moebius >" in d["adjust_reason"] for d in stopped)
    assert all(d["adjust"] != "sparse_moebius" for d in stopped)


def test_pair_triple_fit_finds_the_triples_at_8n_and_leaves_order_5_games_linear():
    # order <= 3 at n = 32, 8n (4 pairs a player): the odd triples are invisible to a screen of the odd half
    # alone; the order-3 unanimity fit of both halves finds them (seeds 0-5 of the benchmark: 0.095 -> 0.049)
    n = 32
    auto, linear, results = _auto_against_linear(n, range(3), 300, 8, ("odd_pair_triples",))
    for result, truth in results:
        assert np.mean(np.abs(result.values - truth) <= 1.96 * result.stderr) >= 0.9
    assert np.median(auto) < 0.7 * np.median(linear), (auto, linear)
    # a game of 4- and 5-player unanimity sets only: the order-3 model misreads it and is not offered
    game = SoumGame(n, 4 * n, np.random.default_rng(7), max_order=5)
    keep = [k for k, t in enumerate(game.terms) if len(t) >= 4]
    game.terms, game.coef = [game.terms[k] for k in keep], game.coef[keep]
    details = estimate(game, n, method="msr", budget=8 * n, seed=0).details
    assert details["adjust"] != "odd_pair_triples" and "pairs and triples" in details["odd_pair_triples_cv"]


def test_unanimity_kernel_fits_order_5_games_at_8n_better_than_the_linear_fit():
    # n = 128, 8n (4 pairs a player): no screen finds an order-5 game's odd terms; the unanimity prior's
    # kernel fit of both halves shrinks toward them (tuning seeds 0-23 of the benchmark: 0.157 -> 0.152)
    n, auto, linear, hits, chosen = 128, [], [], [], []
    for seed in range(6):
        game = SoumGame(n, 2 * n, np.random.default_rng(500 + seed), max_order=5)
        truth = game.banzhaf()
        result = estimate(game, n, method="msr", budget=8 * n, seed=seed)
        assert result.details["adjust"] in ("unanimity_kernel", "linear"), result.details
        assert "unanimity_kernel" in result.details["adjust_reason"]
        chosen.append(result.details["adjust"] == "unanimity_kernel")
        assert "5-fold" in result.details["unanimity_kernel_cv"]
        plain = estimate(game, n, method="msr", budget=8 * n, seed=seed, adjust="linear")
        auto.append(np.linalg.norm(result.values - truth) / np.linalg.norm(truth))
        linear.append(np.linalg.norm(plain.values - truth) / np.linalg.norm(truth))
        hits.append(np.abs(result.values - truth) <= 1.96 * result.stderr)
    # a few per cent (2-4% on these games where chosen): the gain is small but on every game that takes it
    assert sum(chosen) >= 4 and all(a < b for a, b, c in zip(auto, linear, chosen, strict=True) if c), (auto, linear)
    assert np.median(auto) < 0.99 * np.median(linear), (auto, linear)
    assert np.mean(hits) >= 0.9
    # outside n = 64-128 or 4-6 pairs a player it is not tried
    for m, mult in ((32, 8), (128, 16)):
        small = SoumGame(m, 2 * m, np.random.default_rng(7), max_order=5)
        details = estimate(small, m, method="msr", budget=mult * m, seed=0).details
        assert "unanimity_kernel" not in details["adjust_reason"] and "unanimity_kernel_cv" not in details


def test_pair_triple_folds_run_fewer_rounds_and_leave_the_estimate_as_with_full_folds(monkeypatch):
    """The cross-validation's fold fits run odd_pair_triples.FOLD_ROUNDS (8) reweighting rounds, the final fit
    pair_triple_fit.ROUNDS (24): the folds only decide whether the fit is offered and give the jackknife's
    spread, so the estimate is the one with 24-round folds; the intervals still cover."""
    import shapsweep.estimators.odd_pair_triples as opt
    import shapsweep.estimators.pair_triple_fit as ptf

    n = 32
    game = SoumGame(n, 2 * n, np.random.default_rng(301), max_order=3, dense=DENSE)
    rounds, fit = [], ptf.fit_pairs_and_triples
    monkeypatch.setattr(opt, "fit_pairs_and_triples", lambda *a: rounds.append(a[3]) or fit(*a))
    fast = estimate(game, n, method="msr", budget=8 * n, seed=1)
    assert fast.details["adjust"] == "odd_pair_triples" and "5-fold" in fast.details["odd_pair_triples_cv"]
    assert opt.FOLD_ROUNDS < ptf.ROUNDS and rounds == [opt.FOLD_ROUNDS] * opt.FOLDS + [None]
    monkeypatch.setattr(opt, "FOLD_ROUNDS", None)
    full = estimate(game, n, method="msr", budget=8 * n, seed=1)
    assert full.details["adjust"] == "odd_pair_triples"
    np.testing.assert_allclose(fast.values, full.values, atol=1e-12)
    assert fast.details["odd_pair_triples_cv"] != full.details["odd_pair_triples_cv"]  # the folds did change
    assert np.mean(np.abs(fast.values - game.banzhaf()) <= 1.96 * fast.stderr) >= 0.9


def test_odd_triples_recover_a_game_of_main_effects_and_triples_exactly():
    # odd part = main effects + 3-player Walsh terms: once the CV picks the triples, the fit is exact
    n = 48
    rng = np.random.default_rng(5)
    triples = [rng.choice(n, 3, replace=False) for _ in range(12)]
    slopes = rng.normal(size=n)
    weights = rng.choice([-1.0, 1.0], len(triples)) * rng.uniform(0.5, 1.5, len(triples))  # none negligible

    def game(z):
        x = np.where(np.asarray(z, bool), 1.0, -1.0)
        return x @ slopes + sum(w * x[:, t].prod(axis=1) for w, t in zip(weights, triples)) + (x[:, 0] * x[:, 1])

    result = estimate(game, n, method="msr", budget=16 * n, seed=1)
    assert result.details["adjust"] == "odd_triples"
    np.testing.assert_allclose(result.values, 2 * slopes, atol=1e-6)  # the pair term x0 x1 cancels in pairs
    linear = estimate(game, n, method="msr", budget=16 * n, seed=1, adjust="linear").values
    assert np.abs(linear - 2 * slopes).max() > 1e-3


def test_set_columns_are_the_odd_walsh_terms_of_degree_3_and_up():
    import itertools

    from shapsweep.estimators.odd_sets import set_columns

    x = np.where(np.random.default_rng(0).random((64, 9)) < 0.5, 1.0, -1.0)
    sets = [(0, 1, 2), (1, 3, 5, 7), (0, 2, 4, 6, 8)]
    for column, members in zip(set_columns(x, sets).T, sets, strict=True):
        odd = [u for k in range(3, len(members) + 1, 2) for u in itertools.combinations(members, k)]
        np.testing.assert_array_equal(column, sum(x[:, list(u)].prod(axis=1) for u in odd))


def test_odd_sets_recover_main_effects_and_unanimity_sets_of_4_and_5_exactly(monkeypatch):
    _without_cascade(monkeypatch)
    # a 4- or 5-player unanimity game spreads over 4 or 11 odd Walsh terms: one set column each finds
    # them, where the triples cannot (their CV error stays far above)
    n = 40
    rng = np.random.default_rng(3)
    sets = [rng.choice(n, size, replace=False) for size in (4, 4, 4, 5, 5, 5)]
    weights = rng.choice([-1.0, 1.0], len(sets)) * rng.uniform(2, 3, len(sets))
    slopes = rng.normal(size=n)

    def game(z):
        z = np.asarray(z, bool)
        return np.where(z, 1.0, -1.0) @ slopes + sum(w * z[:, q].all(axis=1) for w, q in zip(weights, sets))

    truth = 2 * slopes
    for w, q in zip(weights, sets, strict=True):
        truth[q] += w / 2 ** (len(q) - 1)  # a unanimity game's Banzhaf value
    result = estimate(game, n, method="msr", budget=16 * n, seed=1)
    assert result.details["adjust"] == "odd_sets" and result.details["odd_sets"] > 0, result.details
    assert "odd_triples" in result.details["adjust_reason"] and "5-fold" in result.details["odd_sets_cv"]
    np.testing.assert_allclose(result.values, truth, atol=1e-5)
    linear = estimate(game, n, method="msr", budget=16 * n, seed=1, adjust="linear").values
    assert np.abs(linear - truth).max() > 1e-2


def test_garrote_keeps_a_strong_term_and_shrinks_a_marginal_one():
    from shapsweep.estimators.odd_triples import _Path, garrote_solve

    rng = np.random.default_rng(0)
    m, n = 256, 8
    x = np.where(rng.random((m, n)) < 0.5, 1.0, -1.0)
    strong, noise = x[:, 0] * x[:, 1] * x[:, 2], rng.choice([-1.0, 1.0], m)
    t = x @ rng.normal(size=n) + strong + 0.3 * rng.normal(size=m)
    path = _Path(x, t, np.ones(m), 2)
    path.add(np.column_stack([strong, noise]))
    ols = path.solve()
    np.testing.assert_array_equal(garrote_solve(path, n, n + 2, 0.0), ols)  # off: least squares
    shrunk = garrote_solve(path, n, n + 2, 3.0)
    z = np.abs(ols[n:]) / (0.3 / np.sqrt(m))
    assert z[0] > 30 and z[1] < 3  # the strong term's t-statistic, and a noise column's
    assert shrunk[n] == pytest.approx(ols[n], rel=0.02) and shrunk[n + 1] == 0.0
    # the main effects are refitted on what the shrunk terms leave
    np.testing.assert_allclose(shrunk[:n], np.linalg.lstsq(x, t - strong * shrunk[n], rcond=None)[0], atol=1e-9)


def test_garrote_on_the_sets_lowers_the_error_at_16n_on_order_5_games(monkeypatch):
    # below 24n the greedy keeps false sets for their large scores; shrinking the marginal ones by the
    # garrote (odd_sets.GARROTE) took order 5 at 16n from 0.82x to 0.78x Kernel Banzhaf (n = 64, seeds 0-23)
    from shapsweep.estimators import odd_sets

    _without_cascade(monkeypatch)
    n, errors = 32, {3.0: [], 0.0: []}
    for seed in range(8):
        game = SoumGame(n, 2 * n, np.random.default_rng(600 + seed), max_order=5)
        truth = game.banzhaf()
        for garrote in errors:
            monkeypatch.setattr(odd_sets, "GARROTE", garrote)
            result = estimate(game, n, method="msr", budget=16 * n, seed=seed)
            errors[garrote].append(np.linalg.norm(result.values - truth) / np.linalg.norm(truth))
            if garrote and result.details["adjust"] == "odd_sets":
                assert result.details["odd_sets_garrote"] == garrote
    assert np.median(errors[3.0]) < 0.95 * np.median(errors[0.0]), errors


def test_hadamard_blocks_are_orthogonal_balanced_and_new():
    from shapsweep.estimators.hadamard_design import draw_blocks

    n, rng = 20, np.random.default_rng(0)
    taken = {np.packbits(np.zeros(n, bool)).tobytes(), np.packbits(np.ones(n, bool)).tobytes()}
    design = draw_blocks(n, 80, rng, taken, lambda k, r, tk: pytest.fail("no uniform pairs needed"))
    assert design.size == 32 and len(design.rows) == 80 and len(taken) == 2 + 160
    x = np.where(design.rows, 1.0, -1.0)
    for b in range(2):  # two full blocks: each column balanced, the columns exactly orthogonal
        block = x[design.block == b]
        np.testing.assert_array_equal(block.T @ block, 32 * np.eye(n))
        np.testing.assert_array_equal(block.sum(axis=0), np.zeros(n))
    keys = {np.packbits(row).tobytes() for row in np.vstack([design.rows, ~design.rows])}
    assert len(keys) == 160  # every pair's two coalitions distinct from every other's


def test_msr_intervals_cover_the_exact_banzhaf_values():
    # the last cell fits odd_sets, whose cross-validated path costs ~1 s a seed: 10 seeds (240 intervals)
    for n, order, mult, seeds in ((10, 4, 8, 20), (16, 3, 16, 20), (40, 3, 16, 20), (24, 5, 32, 10)):
        game = SoumGame(n, 2 * n, np.random.default_rng(n), max_order=order)
        truth = game.banzhaf()
        hits = []
        for seed in range(seeds):
            r = estimate(game, n, method="msr", budget=mult * n, seed=seed)
            hits.append(np.abs(r.values - truth) <= 1.96 * r.stderr)
        assert np.mean(hits) >= 0.9, (n, order, mult)


def test_a_shard_row_keeps_the_top_interaction_pairs(tiny_bert_classifier_path):
    from shapsweep.estimators import estimate
    from shapsweep.estimators.exact import all_coalitions
    from shapsweep.estimators.interactions import exact_pairwise
    from shapsweep.explain import explain_row, shard_frame
    from shapsweep.models import load_model

    model = load_model(
        {"connector": "hf_classifier", "path_or_id": tiny_bert_classifier_path, "device": "cpu"},
        None,
        {"kind": "logit"},
    )
    row = {"row_id": "0", "text": "a slow start and a lovely end"}
    shap = {"method": "exact", "batch_size": 64, "seed": 0, "normalizer": "identity", "options": {}}
    shap["interactions"] = {"index": "STII", "order": 2, "top_k": 3}
    record = explain_row(model, row, {"run_id": "r", "explain": {"shap": shap, "selection": {}}})
    game = model.game(row)
    n = game.n_players
    table = estimate(game, n, "exact", interactions="STII").interactions
    assert np.allclose(
        table,
        exact_pairwise(game(all_coalitions(n)), n, "STII"),
    )
    order = sorted(((abs(table[i, j]), i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)[:3]
    assert record["interaction_index"] == "STII"
    assert sorted(zip(record["interaction_i"], record["interaction_j"])) == sorted((i, j) for _, i, j in order)
    assert record["interaction_value"][0] == pytest.approx(
        table[record["interaction_i"][0], record["interaction_j"][0]], abs=1e-6
    )
    frame = shard_frame([record])
    assert frame["interaction_value"].to_list()[0] == record["interaction_value"]


def test_hadamard_blocks_with_chosen_labels_stay_orthogonal_and_balanced():
    from shapsweep.estimators.hadamard_design import draw_blocks, parity

    n, rng = 20, np.random.default_rng(1)
    taken = {np.packbits(np.zeros(n, bool)).tobytes(), np.packbits(np.ones(n, bool)).tobytes()}
    chosen = np.arange(11, 31)  # block 1's labels, given; block 0's random

    def fail(k, r, tk):
        pytest.fail("no uniform pairs needed")

    design = draw_blocks(n, 64, rng, taken, fail, lambda b, r: chosen if b == 1 else None)
    np.testing.assert_array_equal(design.labels[1], chosen)
    assert len(set(design.labels[0])) == n and not np.array_equal(design.labels[0], chosen)
    x = np.where(design.rows, 1.0, -1.0)
    for b in range(2):  # random signs: each full block's columns orthogonal and balanced whatever the labels
        block = x[design.block == b]
        np.testing.assert_array_equal(block.T @ block, 32 * np.eye(n))
        np.testing.assert_array_equal(block.sum(axis=0), np.zeros(n))
        rows = design.index[design.block == b]  # the Hadamard columns of the labels, times the signs
        signs = np.where(design.flips[b], -1.0, 1.0)
        expected = (1 - 2 * parity(rows[:, None] & design.labels[b][None, :])) * signs
        np.testing.assert_array_equal(block, expected)


def test_msr_linear_fit_intervals_at_4n_are_widened_for_heavy_tails():
    # At 4n the linear fit's errors are heavy-tailed (an aliased interaction lands whole on one player):
    # with the OLS stderr +-1.96 covered 91.5% here (1.02x the RMS error); scaled by msr.LINEAR_TAIL_SCALE,
    # 94.5% (1.33x).
    errors, stderrs = [], []
    for n in (32, 64):
        for g in range(4):
            game = SoumGame(n, 2 * n, np.random.default_rng(200 + g), max_order=3)
            truth = game.banzhaf()
            for seed in range(6):
                r = estimate(game, n, "msr", budget=4 * n, seed=seed, adjust="linear")
                assert "stderr_scale" in r.details
                errors.append(np.abs(r.values - truth))
                stderrs.append(r.stderr)
    err, se = np.concatenate(errors), np.concatenate(stderrs)
    assert np.mean(err <= 1.96 * se) >= 0.93
    assert np.mean(se) / np.sqrt(np.mean(err**2)) <= 1.6


def test_fourier_surrogate_banzhaf_values_are_those_of_its_predictions():
    # beta_i of an odd game f is 2 E[s_i f(s)] over all +-1 rows: the closed form must match it
    from shapsweep.estimators.fourier_kernel import fit_fourier_surrogate

    n, rng = 9, np.random.default_rng(0)
    game = SoumGame(n, 2 * n, rng, max_order=3, dense=0.05)
    x = np.where(rng.random((60, n)) < 0.5, 1.0, -1.0)
    t = (game(x > 0) - game(x < 0)) / 2
    surrogate = fit_fourier_surrogate(x, t, rng)
    assert surrogate.weights.get(3, 0.0) > 0  # a prior with interactions, not the additive one
    every = np.where((np.arange(2**n)[:, None] >> np.arange(n)) & 1 == 1, 1.0, -1.0)
    np.testing.assert_allclose(surrogate.banzhaf(), 2 * every.T @ surrogate.predict(every) / 2**n, atol=1e-12)


def test_single_index_refit_recovers_a_saturating_game_and_keeps_the_closed_form():
    # f(s) = tanh(a . s / 4): its degree-3 characters are a_i a_j a_k times one constant, which the cubic
    # column models; the plain posterior mean spreads them as noise over the main effects
    from shapsweep.estimators.fourier_kernel import fit_fourier_surrogate
    from shapsweep.estimators.single_index import fit_single_index

    n = 12
    every = np.where((np.arange(2**n)[:, None] >> np.arange(n)) & 1 == 1, 1.0, -1.0)
    ratios = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        a = rng.normal(size=n)

        def f(s, a=a):
            return np.tanh(s @ a / 4.0)

        truth = 2 * every.T @ f(every) / 2**n
        x = np.where(rng.random((4 * n, n)) < 0.5, 1.0, -1.0)
        t = (f(x) - f(-x)) / 2
        surrogate = fit_fourier_surrogate(x, t, rng)
        refit = fit_single_index(surrogate, x, t)
        assert refit.tau > 0, refit.choice
        ratios.append(np.linalg.norm(refit.banzhaf() - truth) / np.linalg.norm(surrogate.banzhaf() - truth))
        # the cubic column has no degree-1 part: the values are those of the refit's own predictions
        np.testing.assert_allclose(refit.banzhaf(), 2 * every.T @ refit.predict(every) / 2**n, atol=1e-12)
    assert np.median(ratios) < 0.7, ratios


def test_msr_takes_the_fourier_surrogate_on_a_real_sentence_embedding_game(minilm_path):
    # all-MiniLM-L6-v2's word game (dense, low-order): the Fourier prior's posterior mean beats every
    # least-squares fit, as on the benchmark's tables (docs/estimators.md); the game is nearly additive, so
    # half the pairs are chosen for the Banzhaf values (additive_design.py), which beats the blocks alone
    from shapsweep.estimators.exact import all_coalitions, banzhaf_from_all_values
    from shapsweep.models import load_model

    model = load_model(
        {"connector": "sentence_embedder", "path_or_id": minilm_path, "device": "cpu", "batch_size": 256},
        {"granularity": "word", "exclude_punctuation": True, "masking": "remove"},
        {"kind": "similarity", "target": "full", "similarity": "cosine"},
    )
    game = model.game({"row_id": "s0", "text": "Heavy rain flooded the streets, so the market closed early today."})
    n = game.n_players
    table = game(all_coalitions(n))
    truth = banzhaf_from_all_values(table, n)

    def tabulated(z):
        return table[np.asarray(z, bool) @ (1 << np.arange(n))]

    options = {"auto": {}, "linear": {"adjust": "linear"}, "blocks": {"design": "blocks"}}
    errors, chosen, designs, covered = {k: [] for k in options}, [], [], []
    for seed in range(6):
        for name, option in options.items():
            r = estimate(tabulated, n, "msr", budget=16 * n, seed=seed, **option)
            errors[name].append(np.linalg.norm(r.values - truth) / np.linalg.norm(truth))
            if name == "auto":
                chosen.append(r.details["adjust"])
                designs.append(r.details["design"])
                covered.append(np.abs(r.values - truth) <= 1.96 * r.stderr)
    assert chosen.count("fourier_kernel") >= 4, chosen
    assert sum("chosen for the Banzhaf values" in d for d in designs) >= 4, designs
    assert np.median(errors["auto"]) < 0.9 * np.median(errors["linear"]), errors
    assert np.median(errors["auto"]) < np.median(errors["blocks"]), errors
    assert np.mean(covered) >= 0.9


def test_msr_keeps_the_blocks_where_the_first_ones_are_not_nearly_additive_and_then_changes_nothing():
    # order-5 sums of unanimity games: the first blocks' linear fit leaves far over 5% of the odd variance;
    # order-3 ones are sparse there (terms peeled, or many Walsh readings zero). Either way the blocks drawn
    # for the rest are evaluated, so every value, interval and choice is that of design='blocks' (one stage)
    reasons = []
    for seed, order, n in [(0, 5, 16), (1, 5, 24), (2, 3, 16), (3, 3, 20)]:
        game = SoumGame(n, 2 * n, np.random.default_rng(seed), max_order=order)
        two = estimate(game, n, "msr", budget=16 * n, seed=seed)
        one = estimate(game, n, "msr", budget=16 * n, seed=seed, design="blocks")
        reasons.append(two.details["design_stage"])
        assert two.details["design_stage"].startswith("blocks kept"), two.details
        np.testing.assert_array_equal(two.values, one.values)
        np.testing.assert_array_equal(two.stderr, one.stderr)
        assert two.details["adjust"] == one.details["adjust"] and two.n_evals == one.n_evals == 16 * n
    assert any("not nearly additive" in r for r in reasons) and any("sparse" in r for r in reasons), reasons


def test_msr_second_stage_spends_the_budget_on_new_pairs_and_repeats():
    # a dense, nearly additive game (main effects and a small smooth interaction): the second stage is chosen
    from shapsweep.estimators.exact import all_coalitions, banzhaf_from_all_values

    n = 12
    rng = np.random.default_rng(0)
    weights, phase = rng.normal(size=n), rng.normal(size=n)

    def game(z):
        z = np.asarray(z, float)
        return z @ weights + 0.1 * np.sin(z @ phase)

    truth = banzhaf_from_all_values(game(all_coalitions(n)), n)
    counting = CountingGame(game)
    r = estimate(counting, n, "msr", budget=8 * n + 1, seed=5)
    assert "chosen for the Banzhaf values" in r.details["design"], r.details
    assert len(counting.calls) >= 2  # the first blocks are evaluated before the rest is chosen
    assert r.n_evals == len(counting.rows) == len(set(counting.rows)) == 8 * n + 1
    assert np.linalg.norm(r.values - truth) / np.linalg.norm(truth) < 0.02
    again = estimate(game, n, "msr", budget=8 * n + 1, seed=5)
    np.testing.assert_array_equal(r.values, again.values)
    with pytest.raises(ValueError, match="option design='pairs' is not valid for method 'msr'"):
        estimate(game, n, "msr", budget=8 * n, seed=5, design="pairs")
