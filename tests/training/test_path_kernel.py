"""The path kernel on models small enough to know the answer: a value linear in θ is explained exactly at
one midpoint, training row order changes no example's score, and the gap falls ~4× per doubling of the
midpoints (the midpoint rule's h² error)."""

import numpy as np
import pytest
import torch
from traced_models import TESTS, example_loss, linear, mlp, mlp_norm, mlp_scale, record, rows, value

from shapsweep.training.path_kernel import path_kernel
from shapsweep.training.train import TrainingOptions


@pytest.fixture(autouse=True)
def float64():
    """The quadrature error, not float32 rounding, is what these tests see (put back for the other tests)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def test_a_value_linear_in_theta_is_explained_exactly_at_one_midpoint(tmp_path):
    training = rows()
    options = TrainingOptions(lr=0.05, betas=(0.9, 0.98), weight_decay=0.3, batch_size=4, steps=6, seed=1)
    model = linear()
    root = record(tmp_path / "t", model, training, options)
    by_id = {r["row_id"]: r for r in training}
    for window in [(0, 6), (2, 6)]:
        result = path_kernel(root, linear(), value, TESTS, example_loss, by_id, steps=window, midpoints=1)
        change = result.v_full - result.v_empty
        assert np.abs(change).min() > 1e-2  # the values move, so an exact split is not a trivial 0 = 0
        np.testing.assert_allclose(result.efficiency_gap, 0, atol=1e-10)
        assert np.abs(result.weight_decay).max() > 1e-4
        # per-step totals are the value's change over each recorded update
        np.testing.assert_allclose(result.step_totals.sum(axis=(1, 2)), change, atol=1e-10)
    # a window starting after step 0 carries Adam's first moment in; one starting at 0 carries none
    assert np.abs(result.momentum).max() > 1e-4
    from_zero = path_kernel(root, linear(), value, TESTS, example_loss, by_id, steps=(0, 6), midpoints=1)
    assert np.abs(from_zero.momentum).max() == 0


def test_permuting_the_training_rows_changes_no_examples_score(tmp_path):
    training = rows()
    options = TrainingOptions(lr=0.05, betas=(0.9, 0.98), weight_decay=0.3, batch_size=10, steps=5, shuffle=False)
    results = []
    for name, order in [("a", training), ("b", training[::-1][3:] + training[::-1][:3])]:
        root = record(tmp_path / name, mlp(), order, options)
        by_id = {r["row_id"]: r for r in order}
        results.append(path_kernel(root, mlp(), value, TESTS, example_loss, by_id, midpoints=4))
    a, b = results
    order_b = [b.groups.index(g) for g in a.groups]
    np.testing.assert_allclose(b.group_scores[:, order_b], a.group_scores, rtol=1e-9, atol=1e-12)
    assert np.abs(a.group_scores).max() > 1e-3


def test_the_gap_falls_about_four_times_when_the_midpoints_double(tmp_path):
    training = rows()
    options = TrainingOptions(lr=0.1, betas=(0.9, 0.98), weight_decay=0.1, batch_size=5, steps=4, seed=2)
    root = record(tmp_path / "t", mlp(), training, options)
    by_id = {r["row_id"]: r for r in training}
    gaps = [
        np.abs(path_kernel(root, mlp(), value, TESTS, example_loss, by_id, midpoints=k).efficiency_gap).max()
        for k in (2, 4, 8)
    ]
    assert gaps[0] > 1e-6
    assert 3.0 < gaps[0] / gaps[1] < 5.0 and 3.0 < gaps[1] / gaps[2] < 5.0, gaps


def test_data_groups_and_components_are_sums_of_the_finer_scores(tmp_path):
    training = rows()
    options = TrainingOptions(lr=0.05, betas=(0.9, 0.98), weight_decay=0.3, batch_size=4, steps=3, seed=0)
    root = record(tmp_path / "t", mlp(), training, options)
    by_id = {r["row_id"]: r for r in training}
    fine = path_kernel(root, mlp(), value, TESTS, example_loss, by_id, midpoints=2, components="tensor")
    coarse = path_kernel(
        root,
        mlp(),
        value,
        TESTS,
        example_loss,
        by_id,
        midpoints=2,
        components="layer",
        data_group=lambda r: r["label"],
    )
    assert fine.components == ["0.weight", "0.bias", "2.weight", "2.bias"] and coarse.components == ["0", "2"]
    assert coarse.groups == [0, 1]
    labels = np.array([by_id[g]["label"] for g in fine.groups])
    for label in (0, 1):
        np.testing.assert_allclose(coarse.group_scores[:, label], fine.group_scores[:, labels == label].sum(axis=1))
    np.testing.assert_allclose(coarse.component_scores[:, 0], fine.component_scores[:, :2].sum(axis=1))
    # gradients taken three rows at a time reduce into the same scores
    chunked = path_kernel(root, mlp(), value, TESTS, example_loss, by_id, midpoints=2, chunk_size=3)
    np.testing.assert_allclose(chunked.data, fine.data, rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match=r"options\.steps \[2, 9\]"):
        path_kernel(root, mlp(), value, TESTS, example_loss, by_id, steps=(2, 9))


@pytest.mark.parametrize("build", [mlp, mlp_norm, mlp_scale], ids=["linear layers", "a norm layer", "vmap"])
def test_per_sample_gradients_with_collate_give_the_same_scores_as_batched_vjps(tmp_path, build):
    """With `collate`: per-row gradients by layer hooks, every quadrature node in one stacked pass (a norm
    layer's output rebuilt from its own forward), or by vmap(grad) for a parameter in no such layer;
    against batched VJPs one node at a time."""
    training = rows()
    options = TrainingOptions(lr=0.05, betas=(0.9, 0.98), weight_decay=0.3, batch_size=4, steps=4, seed=2)
    root = record(tmp_path / "t", build(), training, options)
    by_id = {r["row_id"]: r for r in training}

    def collate(batch):
        out = {"x": torch.stack([r["x"] for r in batch])}
        if "y" in batch[0]:
            out["y"] = torch.stack([r["y"] for r in batch])
        return out

    def value_batch(model, batch):
        return model(batch["x"]).squeeze(-1)

    def loss_batch(model, batch):
        return (model(batch["x"]).squeeze(-1) - batch["y"]) ** 2

    batched = path_kernel(root, build(), value, TESTS, example_loss, by_id, midpoints=3, chunk_size=2)
    vmapped = path_kernel(
        root, build(), value_batch, TESTS, loss_batch, by_id, midpoints=3, chunk_size=2, collate=collate
    )
    assert np.abs(batched.data).max() > 1e-4
    for field in ("data", "momentum", "weight_decay", "step_totals", "v_empty", "v_full"):
        np.testing.assert_allclose(getattr(vmapped, field), getattr(batched, field), rtol=1e-10, atol=1e-13)


def test_gauss_legendre_nodes_close_the_gap_faster_than_midpoints_on_a_smooth_model(tmp_path):
    training = rows()
    options = TrainingOptions(lr=0.1, betas=(0.9, 0.98), weight_decay=0.1, batch_size=5, steps=4, seed=2)
    root = record(tmp_path / "t", mlp(), training, options)
    by_id = {r["row_id"]: r for r in training}

    def gap(k, rule):
        result = path_kernel(root, mlp(), value, TESTS, example_loss, by_id, midpoints=k, quadrature_rule=rule)
        return np.abs(result.efficiency_gap).max()

    midpoint, gauss = [gap(k, "midpoint") for k in (2, 4)], [gap(k, "gauss_legendre") for k in (2, 4)]
    assert midpoint[1] > 1e-7
    assert gauss[0] < midpoint[0] / 10 and gauss[1] < midpoint[1] / 100, (midpoint, gauss)
    with pytest.raises(ValueError, match=r"options\.quadrature 'simpson'"):
        path_kernel(root, mlp(), value, TESTS, example_loss, by_id, quadrature_rule="simpson")
