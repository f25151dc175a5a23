"""The tools a user would otherwise pick, driven on the same game and the same budget.

Each peer gets a game wrapper that counts the distinct coalitions it asked for. Peers whose knob is
not a distinct-coalition count (permutations, samples drawn with replacement) get the largest
setting whose *total* evaluations stay within the budget; the benchmark reports the distinct
evaluations each actually used.
"""

from __future__ import annotations

import warnings

import numpy as np


class DistinctCounter:
    def __init__(self, game, n):
        self.game, self.n, self.seen = game, n, set()

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z).reshape(-1, self.n) > 0.5
        self.seen.update(row.tobytes() for row in np.packbits(z, axis=1))
        return np.asarray(self.game(z), dtype=np.float64)


def shap_kernel(game, n, budget, seed):
    import shap

    f = DistinctCounter(game, n)
    np.random.seed(seed)  # shap's KernelExplainer samples from numpy's global generator
    explainer = shap.KernelExplainer(f, np.zeros((1, n)), silent=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phi = explainer.shap_values(np.ones((1, n)), nsamples=budget - 2, silent=True)
    return np.asarray(phi).reshape(-1), len(f.seen)


def shap_permutation(game, n, budget, seed):
    import shap

    f = DistinctCounter(game, n)
    masker = shap.maskers.Independent(np.zeros((1, n)), max_samples=1)
    explainer = shap.PermutationExplainer(f, masker, seed=seed)
    # One antithetic pair costs 2n + 1 evaluations; shap refuses fewer than that.
    max_evals = max(budget, 2 * n + 1)
    phi = explainer(np.ones((1, n)), max_evals=max_evals, silent=True).values
    return np.asarray(phi).reshape(-1), len(f.seen)


def _captum_forward(f):
    import torch

    def forward(x):
        return torch.as_tensor(f(x.detach().cpu().numpy()), dtype=torch.float64)

    return forward


def captum_shapley_value_sampling(game, n, budget, seed):
    import torch
    from captum.attr import ShapleyValueSampling

    torch.manual_seed(seed)
    f = DistinctCounter(game, n)
    # Each permutation walks from the baseline through n coalitions; the baseline is shared.
    n_perm = max(1, (budget - 1) // n)
    x = torch.ones(1, n, dtype=torch.float64)
    phi = ShapleyValueSampling(_captum_forward(f)).attribute(
        x, baselines=torch.zeros_like(x), n_samples=n_perm, perturbations_per_eval=n
    )
    return phi.numpy().reshape(-1), len(f.seen)


def captum_kernel_shap(game, n, budget, seed):
    import torch
    from captum.attr import KernelShap

    torch.manual_seed(seed)
    f = DistinctCounter(game, n)
    x = torch.ones(1, n, dtype=torch.float64)
    phi = KernelShap(_captum_forward(f)).attribute(
        x, baselines=torch.zeros_like(x), n_samples=budget, perturbations_per_eval=64
    )
    return phi.numpy().reshape(-1), len(f.seen)


def _shapiq(approximator_cls, **kwargs):
    def run(game, n, budget, seed):
        f = DistinctCounter(game, n)
        approximator = approximator_cls(n=n, random_state=seed, **kwargs)
        values = approximator.approximate(budget, lambda z: f(z))
        return np.array([values[(i,)] for i in range(n)]), len(f.seen)

    return run


def shapiq_peers():
    import shapiq

    return {
        "shapiq KernelSHAP": _shapiq(shapiq.KernelSHAP, pairing_trick=True),
        "shapiq SVARM": _shapiq(shapiq.SVARM, pairing_trick=True),
        "shapiq PermutationSV": _shapiq(shapiq.PermutationSamplingSV),
    }


def all_peers():
    return {
        "shap KernelExplainer": shap_kernel,
        "shap PermutationExplainer": shap_permutation,
        "Captum ShapleyValueSampling": captum_shapley_value_sampling,
        "Captum KernelShap": captum_kernel_shap,
        **shapiq_peers(),
    }
