import numpy as np
import pytest

from shapsweep.estimators import normalize, resolve_budget


def test_resolve_budget_knobs():
    assert resolve_budget(10, budget=300) == 300
    assert resolve_budget(10, num_samples=99) == 100  # MLLM-SHAP masks exclude the full one
    assert resolve_budget(10, fraction=0.5) == 511 + 1
    assert resolve_budget(10, fraction=1.0) == 1024
    assert resolve_budget(5, linear=0.3) == 8 + 1  # ceil(7.5) = 8, already even
    assert resolve_budget(5, linear=0.25) == 8 + 1  # ceil(6.25) = 7 -> 8
    assert resolve_budget(4, budget=10_000) == 16  # never more than 2^n


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(), "exactly one of budget, num_samples, fraction, linear"),
        (dict(budget=10, fraction=0.1), "exactly one"),
        (dict(fraction=1.5), "fraction must be in"),
        (dict(num_samples=0), "num_samples must be a positive integer"),
        (dict(linear=-1), "linear must be positive"),
    ],
)
def test_resolve_budget_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resolve_budget(6, **kwargs)


def test_normalizers():
    phi = np.array([1.0, -3.0, 2.0])
    np.testing.assert_allclose(normalize(phi, "identity"), phi)
    np.testing.assert_allclose(normalize(phi, "abs_sum"), phi / 6.0)
    shifted = np.array([4.0, 0.0, 5.0])
    np.testing.assert_allclose(normalize(phi, "power_shift"), shifted**2 / (shifted**2).sum())
    np.testing.assert_allclose(normalize(phi, "power_shift", power=1), shifted / 9.0)
    np.testing.assert_allclose(normalize(phi, "min_max"), (shifted / 5.0) / (shifted / 5.0).sum())
    assert normalize(phi, "min_max").sum() == pytest.approx(1.0)


def test_normalizers_degenerate_inputs():
    np.testing.assert_allclose(normalize(np.zeros(4), "abs_sum"), np.zeros(4))
    np.testing.assert_allclose(normalize(np.full(4, 2.0), "min_max"), np.full(4, 0.25))
    np.testing.assert_allclose(normalize(np.full(4, 2.0), "power_shift"), np.full(4, 0.25))
    with pytest.raises(ValueError, match="unknown normalizer 'softmax'; valid: identity, abs_sum"):
        normalize(np.ones(3), "softmax")
