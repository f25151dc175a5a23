"""Faithfulness metrics on closed-form games, then on real MiniLM games of a shard file."""

import numpy as np
import polars as pl
import pytest

from shapsweep.evaluation import evaluate
from shapsweep.evaluation.faithfulness import ranking, top_k


class AdditiveGame:
    """v(S) = sum of the weights of S: its Shapley values are the weights themselves."""

    def __init__(self, weights):
        self.weights = np.asarray(weights, dtype=float)
        self.calls = 0

    def __call__(self, coalitions):
        self.calls += 1
        return np.asarray(coalitions, dtype=float) @ self.weights


def test_additive_game_gives_the_hand_computed_curves_and_areas():
    game = AdditiveGame([3.0, 1.0, 2.0])
    result = evaluate(game, [3.0, 1.0, 2.0], fractions=[0.5])
    assert result.deletion_curve == [6.0, 3.0, 1.0, 0.0]  # remove 0, then 2, then 1
    assert result.insertion_curve == [0.0, 3.0, 5.0, 6.0]
    assert result.deletion_auc == pytest.approx(7 / 3)
    assert result.insertion_auc == pytest.approx(11 / 3)
    assert result.aopc_comprehensiveness == pytest.approx(5.0)  # top ceil(1.5) = 2 removed: 6 - 1
    assert result.aopc_sufficiency == pytest.approx(1.0)  # only the top 2 kept: 6 - 5
    assert result.loo_spearman == pytest.approx(1.0)
    assert game.calls == 1 and result.n_coalitions == 7  # one batched call; {2} alone is never needed


def test_true_attributions_beat_random_and_reversed_ones():
    rng = np.random.default_rng(0)
    weights = rng.normal(size=12)
    game = AdditiveGame(weights)
    true = evaluate(game, weights)
    reversed_ = evaluate(game, -weights)
    random = [evaluate(game, rng.normal(size=12)) for _ in range(20)]
    assert (
        true.aopc_comprehensiveness
        > np.mean([r.aopc_comprehensiveness for r in random])
        > reversed_.aopc_comprehensiveness
    )
    assert true.aopc_sufficiency < np.mean([r.aopc_sufficiency for r in random]) < reversed_.aopc_sufficiency
    assert true.deletion_auc < reversed_.deletion_auc and true.insertion_auc > reversed_.insertion_auc
    assert true.loo_spearman == pytest.approx(1.0) and reversed_.loo_spearman == pytest.approx(-1.0)


def test_ties_constant_attributions_and_bad_input():
    assert ranking([1.0, 2.0, 2.0, 0.0]).tolist() == [1, 2, 0, 3]
    assert [top_k(q, 10) for q in (0.01, 0.1, 0.25, 1.0)] == [1, 1, 3, 10]
    flat = evaluate(AdditiveGame([1.0, 2.0]), [0.0, 0.0])
    assert flat.loo_spearman is None
    with pytest.raises(ValueError, match="no players"):
        evaluate(AdditiveGame([]), [])
    with pytest.raises(ValueError, match=r"evaluation\.fractions"):
        evaluate(AdditiveGame([1.0]), [1.0], fractions=[0.0])


def test_curves_of_different_lengths_average_on_one_grid():
    from shapsweep.plots import mean_curve

    grid = np.linspace(0, 1, 5)
    mean = mean_curve([[1.0, 0.0], [1.0, 0.5, 0.0], [3.0, 0.0, 0.0, 0.0, 0.0]], grid)
    assert mean.tolist() == pytest.approx([5 / 3, 0.5, 1 / 3, 1 / 6, 0.0])


@pytest.mark.slow
def test_shard_of_real_minilm_games(tmp_path, minilm_path):
    from shapsweep.estimators import estimate
    from shapsweep.evaluation.shard import evaluate_shard
    from shapsweep.models import load_model

    model = load_model(
        {"connector": "sentence_embedder", "path_or_id": minilm_path}, {"granularity": "word"}, {"kind": "similarity"}
    )
    rows = pl.DataFrame(
        {"row_id": ["a", "b", "c"], "text": ["the movie was wonderful and moving", "plain words here", ""]}
    )
    explained = []
    for row in rows.iter_rows(named=True):
        if not row["text"]:
            explained.append(
                {
                    "row_id": row["row_id"],
                    "run_id": "r",
                    "players": [],
                    "attribution": [],
                    "status": "empty_input",
                    "error": "no text",
                }
            )
            continue
        game = model.game(row)
        exact = estimate(game, game.n_players, method="exact", seed=0)
        explained.append(
            {
                "row_id": row["row_id"],
                "run_id": "r",
                "players": game.players,
                "attribution": exact.values.tolist(),
                "status": "ok",
                "error": None,
            }
        )
    explained[1]["players"] = ["not", "the", "same"]  # as if features changed after explain
    result = evaluate_shard(model, pl.DataFrame(explained), rows, fractions=[0.2, 0.4])
    assert result["status"].to_list() == ["ok", "players_mismatch", "not_explained:empty_input"]
    first = result.row(0, named=True)
    assert len(first["deletion_curve"]) == 6 + 1 and first["deletion_curve"][0] == pytest.approx(
        1.0, abs=1e-5
    )  # cosine of full with itself
    assert first["insertion_auc"] > first["deletion_auc"]
    assert first["loo_spearman"] > 0.5
    assert result.row(2, named=True)["deletion_auc"] is None
