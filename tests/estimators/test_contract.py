"""The `estimate` contract: budget cap, dedup, batching, determinism, and a message for each bad argument."""

import numpy as np
import pytest
from estimator_games import AdditiveGame, CountingGame, SoumGame

from shapsweep.estimators import METHODS, estimate

SAMPLED = [m for m in METHODS if m not in ("exact", "random")]


@pytest.mark.parametrize("method", SAMPLED)
@pytest.mark.parametrize("budget", [24, 57, 200])
def test_budget_is_a_hard_cap_and_each_coalition_is_evaluated_once(method, budget):
    n = 10
    counting = CountingGame(SoumGame(n, 20, np.random.default_rng(1)))
    r = estimate(counting, n, method, budget=budget, seed=2, batch_size=16)
    assert len(counting.rows) == len(set(counting.rows)), "a coalition was sent to the game twice"
    assert r.n_evals == len(counting.rows) <= budget
    assert max(counting.calls) <= 16
    if method != "hierarchical":  # hierarchical opens groups only as far as its levels need
        assert r.n_evals >= budget - 2 * n  # the budget is used, not left idle (permutation may leave < one pair)


def test_exact_counts_every_coalition_once_with_empty_and_full():
    n = 7
    counting = CountingGame(AdditiveGame(np.ones(n)))
    r = estimate(counting, n, "exact", batch_size=50)
    assert r.n_evals == 2**n == len(set(counting.rows)) == len(counting.rows)
    assert max(counting.calls) <= 50


def test_random_baseline_evaluates_only_empty_and_full_and_is_seeded():
    counting = CountingGame(AdditiveGame([1.0, 2.0, 3.0, 4.0]))
    a = estimate(counting, 4, "random", budget=100, seed=7)
    b = estimate(AdditiveGame([1.0, 2.0, 3.0, 4.0]), 4, "random", seed=7)
    assert a.n_evals == 2 and len(counting.rows) == 2 and a.stderr is None
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, estimate(counting, 4, "random", seed=8).values)


@pytest.mark.parametrize("method", list(METHODS))
def test_same_seed_gives_bit_identical_results(method):
    n = 9
    game = SoumGame(n, 15, np.random.default_rng(3))
    budget = None if method == "exact" else 90
    a = estimate(game, n, method, budget=budget, seed=11)
    b = estimate(game, n, method, budget=budget, seed=11)
    assert a.values.tobytes() == b.values.tobytes()
    if method in ("kernel", "leverage", "permutation"):
        c = estimate(game, n, method, budget=budget, seed=12)
        assert c.values.tobytes() != a.values.tobytes()


def test_one_player_takes_the_whole_difference():
    r = estimate(AdditiveGame([2.5], offset=1.0), 1, "kernel", budget=10)
    assert r.values.tolist() == [2.5] and r.n_evals == 2


def test_permutation_reports_standard_errors_that_shrink_with_budget():
    n = 10
    game = SoumGame(n, 30, np.random.default_rng(4))
    small = estimate(game, n, "permutation", budget=100, seed=0).stderr
    large = estimate(game, n, "permutation", budget=1000, seed=0).stderr
    assert small.shape == (n,) and np.all(small >= 0)
    assert np.median(large) < np.median(small)


def _game(z):
    return np.asarray(z, float).sum(axis=1)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(method="magic", budget=10), "unknown method 'magic'; valid methods: .*exact.*kernel"),
        (dict(method="kernel", budget=10, pairs=True), "unknown option.*pairs.*valid options"),
        (dict(method="exact", budget=10, max_players=2), "over max_players=2"),
        (dict(method="exact", budget=10), "below the minimum of method 'exact'.*32"),
        (dict(method="kernel", budget=3), "below the minimum of method 'kernel'.*4"),
        (dict(method="permutation", budget=5), "below the minimum of method 'permutation'.*10"),
        (dict(method="kernel"), "budget is required"),
        (dict(method="kernel", budget=2.5), "budget must be an integer"),
        (dict(method="kernel", budget=10, batch_size=0), "batch_size must be a positive integer"),
        (dict(method="kernel", budget=10, seed=-1), "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        estimate(_game, 5, **kwargs)


def test_exact_refuses_too_many_players_before_any_evaluation():
    counting = CountingGame(_game)
    with pytest.raises(ValueError, match="max_players=20"):
        estimate(counting, 21, "exact")
    assert counting.rows == []


def test_bad_n_players_and_bad_game_output():
    with pytest.raises(ValueError, match="n_players must be a positive integer"):
        estimate(_game, 0, "exact")
    with pytest.raises(ValueError, match="game returned 1 values for 2 coalitions"):
        estimate(lambda z: np.zeros(1), 3, "exact")
    with pytest.raises(ValueError, match="non-finite"):
        estimate(lambda z: np.full(len(z), np.nan), 3, "exact")


def test_budget_knobs_and_game_protocol_are_exported_once():
    from shapsweep.estimators import BUDGET_KNOBS, Game, resolve_budget

    assert BUDGET_KNOBS == ("budget", "num_samples", "fraction", "linear")
    with pytest.raises(ValueError, match="exactly one of " + ", ".join(BUDGET_KNOBS)):
        resolve_budget(5)
    assert isinstance(_game, Game) and isinstance(AdditiveGame([1.0]), Game)
    assert not isinstance(3, Game)


def test_each_method_declares_its_options_once_with_defaults():
    import inspect

    for name, spec in METHODS.items():
        assert spec.name == name
        run = getattr(spec.run, "func", spec.run)  # hierarchical is bound to the method table
        keyword_only = [
            p.name
            for p in inspect.signature(run).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("target_stderr", "methods", "index")
        ]
        assert spec.options == keyword_only == list(spec.defaults)
    assert METHODS["regression_adjusted"].defaults["surrogate"] == "auto"
    assert METHODS["hierarchical"].options == ["groups", "inner"]


def test_no_estimator_module_imports_the_registry():
    import ast
    from pathlib import Path

    import shapsweep.estimators as package

    for path in Path(package.__file__).parent.glob("*.py"):
        if path.name in ("__init__.py", "registry.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("registry", "shapsweep.estimators.registry"), path.name
                assert not (node.level == 1 and node.module is None), path.name  # `from . import x`
