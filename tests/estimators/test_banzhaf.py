"""Banzhaf values (`index='banzhaf'`): exact and MSR against closed forms, and the index contract."""

from __future__ import annotations

import numpy as np
import pytest
from estimator_games import AdditiveGame, SoumGame, brute_force_shapley

from shapsweep.estimators import METHODS, estimate, methods_for


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


def test_auto_takes_the_moebius_surrogate_where_it_predicts_better():
    # a sum of unanimity games with 3-player terms: the sparse surrogate finds the terms, a linear fit cannot
    n, auto, linear = 14, [], []
    for seed in range(4):
        game = SoumGame(n, 2 * n, np.random.default_rng(200 + seed), max_order=3)
        truth = game.banzhaf()
        result = estimate(game, n, method="msr", budget=16 * n, seed=seed)
        assert result.details["adjust"] == "sparse_moebius" and "held-out error" in result.details["adjust_reason"]
        plain = estimate(game, n, method="msr", budget=16 * n, seed=seed, adjust="linear")
        assert plain.details["adjust"] == "linear"
        auto.append(np.linalg.norm(result.values - truth))
        linear.append(np.linalg.norm(plain.values - truth))
    assert np.median(auto) < 0.5 * np.median(linear)
    # above MOEBIUS_MAX_PLAYERS the linear fit is used without trying the surrogate
    big = SoumGame(40, 80, np.random.default_rng(9), max_order=3)
    assert estimate(big, 40, method="msr", budget=320, seed=0).details["adjust"] == "linear"


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
