"""Models shared by the tests of tests/models (loaded once per session: loading dominates)."""

import pytest

from shapsweep.models import load_model


@pytest.fixture(scope="session")
def minilm_game_factory(minilm_path):
    """load_model for MiniLM with feature/value overrides; models are cached per configuration."""
    cache = {}

    def make(features=None, value=None):
        key = (repr(sorted((features or {}).items())), repr(sorted((value or {}).items())))
        if key not in cache:
            cache[key] = load_model(
                {"connector": "sentence_embedder", "path_or_id": minilm_path, "device": "cpu"}, features, value
            )
        return cache[key]

    return make
