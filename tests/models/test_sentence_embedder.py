"""sentence_embedder games on the real all-MiniLM-L6-v2 (offline, CPU)."""

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from shapsweep.models import RowError, load_model

TEXT = "The quick brown fox, jumps over the lazy dog."


@pytest.fixture(scope="module")
def reference_encoder(minilm_path):
    return SentenceTransformer(minilm_path, device="cpu")


def kept_text(game, coalition):
    return " ".join(p for p, keep in zip(game.players, coalition) if keep)


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_word_players_keep_text_and_spans(minilm_game_factory):
    game = minilm_game_factory().game({"row_id": "r0", "text": TEXT})
    assert game.players == ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]
    assert all(TEXT[s:e] == p for p, (s, e) in zip(game.players, game.spans))
    assert game.response is None


def test_values_equal_a_direct_encoder_call_on_the_masked_text(minilm_game_factory, reference_encoder):
    # With `remove` and WordPiece, dropping a word's tokens is the same as encoding the text without it
    # (punctuation stays: it is not a player).
    game = minilm_game_factory().game({"text": "a cat sat on the mat"})
    rng = np.random.default_rng(0)
    coalitions = rng.random((6, game.n_players)) < 0.5
    coalitions[0] = True
    values = game(coalitions)
    full = reference_encoder.encode("a cat sat on the mat")
    for coalition, value in zip(coalitions, values):
        direct = cosine(reference_encoder.encode(kept_text(game, coalition)), full)
        assert value == pytest.approx(direct, abs=1e-5)
    assert values[0] == pytest.approx(1.0, abs=1e-6)


def test_batched_equals_one_by_one(minilm_game_factory):
    model = minilm_game_factory()
    rng = np.random.default_rng(1)
    coalitions = rng.random((20, 9)) < 0.5
    batched = model.game({"text": TEXT})(coalitions)
    one_game = model.game({"text": TEXT})
    single = np.array([one_game(c[None, :])[0] for c in coalitions])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_no_coalition_is_evaluated_twice(minilm_game_factory):
    game = minilm_game_factory().game({"text": TEXT})
    seen = []
    evaluate = game._evaluate

    def recording(chunk):
        seen.extend(map(tuple, chunk.tolist()))
        return evaluate(chunk)

    game._evaluate = recording
    rng = np.random.default_rng(2)
    coalitions = rng.random((30, game.n_players)) < 0.5
    first = game(np.concatenate([coalitions, coalitions[:10]]))
    again = game(coalitions[::-1])
    full = game(np.ones((1, game.n_players), dtype=bool))
    assert len(seen) == len(set(seen)) == len({tuple(c) for c in coalitions.tolist()})
    np.testing.assert_array_equal(again, first[:30][::-1])
    assert full[0] == pytest.approx(1.0)  # primed while computing the target, not re-evaluated
    assert game.stats["coalitions"] == len(seen) + (tuple([True] * game.n_players) not in seen)
    assert game.stats["forward_passes"] >= 2 and game.stats["tokens"] > 0


def test_reference_target_and_contrast(minilm_game_factory, reference_encoder):
    row = {"text": "I loved this film, it was wonderful", "reference": "a positive review"}
    game = minilm_game_factory(value={"kind": "similarity", "target": "reference"}).game(row)
    full = np.ones((1, game.n_players), dtype=bool)
    encode = reference_encoder.encode
    expected = cosine(encode(row["text"]), encode(row["reference"]))
    assert game(full)[0] == pytest.approx(expected, abs=1e-5)

    contrast = minilm_game_factory(
        value={"kind": "contrast", "positive": "a positive review", "negative": "a negative review"}
    ).game(row)
    e = encode(row["text"])
    expected = cosine(e, encode("a positive review")) - cosine(e, encode("a negative review"))
    assert contrast(full)[0] == pytest.approx(expected, abs=1e-5)


def test_a_fixed_reference_text_is_embedded_once_per_job_not_per_row(minilm_game_factory, reference_encoder):
    model = minilm_game_factory(value={"kind": "similarity", "target": "reference", "reference": "a positive review"})
    from_column = minilm_game_factory(value={"kind": "similarity", "target": "reference"})
    row = {"text": "I loved this film, it was wonderful", "reference": "a positive review"}
    fixed, per_row = model.game(row), from_column.game(row)
    full = np.ones((1, fixed.n_players), dtype=bool)
    expected = cosine(reference_encoder.encode(row["text"]), reference_encoder.encode("a positive review"))
    assert fixed(full)[0] == pytest.approx(expected, abs=1e-5) == per_row(full)[0]
    assert fixed.stats["forward_passes"] == per_row.stats["forward_passes"] - 1  # no reference pass per row


def test_euclidean_similarity_is_one_at_full(minilm_game_factory):
    game = minilm_game_factory(value={"similarity": "euclidean"}).game({"text": TEXT})
    values = game(np.array([[True] * 9, [False] * 9]))
    assert values[0] == pytest.approx(1.0)
    assert 0 < values[1] < 1


@pytest.mark.parametrize(
    "row, kind",
    [
        ({"text": "   "}, "empty_input"),
        ({"text": "?!, ..."}, "empty_input"),
        ({"row_id": "x"}, "missing_column"),
        ({"text": " ".join(["word"] * 70)}, "too_many_players"),
    ],
)
def test_bad_rows_raise_row_errors(minilm_game_factory, row, kind):
    with pytest.raises(RowError) as error:
        minilm_game_factory().game(row)
    assert error.value.kind == kind
    assert error.value.message


def test_reference_target_without_reference_is_a_row_error(minilm_game_factory):
    with pytest.raises(RowError, match="reference") as error:
        minilm_game_factory(value={"target": "reference"}).game({"text": TEXT})
    assert error.value.kind == "missing_column"


@pytest.mark.parametrize(
    "model, features, value, field",
    [
        ({"connector": "nope"}, {}, {}, "model.connector"),
        ({"dtype": "float64"}, {}, {}, "model.dtype"),
        ({"batch_size": 0}, {}, {}, "model.batch_size"),
        ({}, {"granularity": "paragraph"}, {}, "features.granularity"),
        ({}, {"masking": "blur"}, {}, "features.masking"),
        ({}, {"colour": 1}, {}, "features.colour"),
        ({}, {}, {"kind": "foo"}, "value.kind: 'foo' is not one of"),
        ({}, {}, {"kind": "logprob"}, "value.kind"),
        ({}, {}, {"target": "nowhere"}, "value.target"),
        ({}, {}, {"kind": "contrast", "positive": "yes"}, "value.negative"),
        ({"path_or_id": "package:no_such_module_here"}, {}, {}, "model.path_or_id"),
        ({"path_or_id": "./no/such/folder"}, {}, {}, "model.path_or_id"),
    ],
)
def test_bad_config_names_the_field(model, features, value, field):
    with pytest.raises(ValueError) as error:
        load_model(model, features, value)
    assert field in str(error.value)


def test_exact_shapley_on_a_real_game_matches_brute_force(minilm_game_factory):
    """The estimator layer's `exact` on a MiniLM game: each of the 2^n coalitions is evaluated once,
    and the values equal a brute-force Shapley sum written out here."""
    from itertools import combinations
    from math import factorial

    from shapsweep.estimators import estimate

    game = minilm_game_factory().game({"text": "a small cat sat on warm mats"})
    n = game.n_players
    result = estimate(game, n, method="exact", seed=0)
    assert game.stats["coalitions"] == 2**n
    everything = np.array([[(mask >> i) & 1 for i in range(n)] for mask in range(2**n)], dtype=bool)
    value = dict(zip(map(tuple, everything.tolist()), game(everything)))
    brute = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for subset in combinations(others, size):
                without = tuple(j in subset for j in range(n))
                with_i = tuple(j in subset or j == i for j in range(n))
                brute[i] += weight * (value[with_i] - value[without])
    np.testing.assert_allclose(result.values, brute, atol=1e-9)
    assert result.values.sum() == pytest.approx(value[(True,) * n] - value[(False,) * n], abs=1e-9)
