"""Row explainers are kinds: a method picks its module from one registry, every other method is a game,
and the columns a kind adds are declared once in the shard schema."""

import importlib

import pytest

from shapsweep.explain import shard_frame
from shapsweep.file_schemas import KIND_COLUMNS, SHARD_SCHEMA
from shapsweep.row_explainers import KINDS, kind_of


def test_every_estimator_method_is_a_game_and_the_kinds_are_their_own():
    for method in ("exact", "kernel", "permutation"):
        assert kind_of(method) == "game"
    assert kind_of("integrated_gradients") == "integrated_gradients"
    assert kind_of("empirical") == "empirical"


def test_the_kind_columns_of_the_schema_are_exactly_those_the_kinds_declare():
    declared = {}
    for kind, module_name in KINDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.load), kind
        assert not set(module.COLUMNS) & set(declared), f"{kind} declares a column another kind declares"
        declared.update(module.COLUMNS)
    assert declared == KIND_COLUMNS
    assert all(SHARD_SCHEMA[name] == dtype for name, dtype in declared.items())


def test_a_record_with_an_undeclared_column_is_refused_when_the_shard_is_written():
    with pytest.raises(ValueError, match=r"\['made_up'\].*SHARD_SCHEMA"):
        shard_frame([{"row_id": "a", "run_id": "r", "status": "ok", "made_up": 1.0}])
