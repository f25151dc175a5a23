"""The train / validation / held-out split: a stable hash of the row id, the same in every process, no leaks."""

import hashlib
import subprocess
import sys

import pytest

from shapsweep.empirical.split import SPLIT_ROLES, split_role, split_unit

IDS = [f"imdb-{i:05d}" for i in range(1000)]


def test_the_unit_is_the_row_ids_sha256():
    digest = hashlib.sha256(b"imdb-00042").digest()
    assert split_unit("imdb-00042") == (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    assert all(0 <= split_unit(i) < 1 for i in IDS)


def test_roles_are_the_same_in_another_process():
    here = [split_role(i) for i in IDS[:200]]
    code = (
        "import sys; from shapsweep.empirical.split import split_role; "
        "print(','.join(split_role(f'imdb-{i:05d}') for i in range(200)))"
    )
    # A fresh interpreter has another PYTHONHASHSEED: the role must not depend on Python's hash().
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip().split(",") == here


def test_fractions_are_roughly_right_over_1000_ids():
    roles = [split_role(i, 0.8, 0.1) for i in IDS]
    share = {r: roles.count(r) / len(roles) for r in SPLIT_ROLES}
    assert share["train"] == pytest.approx(0.72, abs=0.05)
    assert share["validation"] == pytest.approx(0.08, abs=0.03)
    assert share["held_out"] == pytest.approx(0.20, abs=0.04)


def test_raising_the_train_fraction_only_takes_rows_from_held_out():
    for row_id in IDS:
        if split_role(row_id, 0.5, 0.1) != "held_out":
            assert split_role(row_id, 0.8, 0.1) != "held_out"


def test_no_held_out_row_reaches_the_training_data(training_data, target_run):
    trained_ids = {e.row_id for e in training_data.train + training_data.validation}
    held_out = set(training_data.held_out_ids)
    assert trained_ids and held_out
    assert not trained_ids & held_out
    assert {e.row_id for e in training_data.held_out} <= held_out
    for e in training_data.train:
        assert split_role(e.row_id) == "train"
    for e in training_data.validation:
        assert split_role(e.row_id) == "validation"
    for row_id in held_out:
        assert split_role(row_id) == "held_out"
    # Every row of the run is in exactly one role (the failed row 3 is no example, but keeps its role).
    all_ids = {r["row_id"] for r in target_run["rows_list"]}
    examples = trained_ids | {e.row_id for e in training_data.held_out}
    assert examples | {"row-0003"} == all_ids
