"""Runs shapiq 1.8 and mllm-shap 0.8 estimators on games given as data; the 3.12 side of estimators_peers312.py.

Standalone on purpose: it runs in its own Python 3.12 venv (numpy, shapiq, mllm-shap; no torch, no
shapsweep), so games cross as data in one npz: a value table over all 2^n coalitions (bit i = player
i), or a sum of unanimity games (incidence matrix, term sizes, coefficients). Jobs arrive as JSON on
stdin, one object per line of stdout comes back: the estimate, the distinct coalitions the peer asked
for, its total evaluations, and the process CPU seconds the peer spent outside the game.

Usage: python estimators_peers312_worker.py GAMES.npz < jobs.jsonl > results.jsonl
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np


def load_games(path):
    data = np.load(path)
    games = {}
    for key in data.files:
        if key.startswith("table:"):
            table = data[key]
            n = int(np.log2(len(table)))
            powers = 1 << np.arange(n, dtype=np.int64)
            games[key[6:]] = (n, lambda z, t=table, p=powers: t[np.asarray(z, dtype=bool) @ p])
        elif key.startswith("incidence:"):
            name = key[10:]
            inc, coef = data[key], data["coef:" + name]
            sizes = inc.sum(axis=0)
            games[name] = (
                inc.shape[0],
                lambda z, a=inc, c=coef, s=sizes: ((np.asarray(z, dtype=np.float64) @ a) == s).astype(np.float64) @ c,
            )
    return games


class Counted:
    """Counts distinct and total coalitions asked for, and the seconds spent inside the game."""

    def __init__(self, game, n):
        self.game, self.n, self.seen, self.total, self.game_cpu = game, n, set(), 0, 0.0

    def __call__(self, z):
        t0 = time.process_time()
        z = np.asarray(z).reshape(-1, self.n) > 0.5
        self.total += len(z)
        self.seen.update(row.tobytes() for row in np.packbits(z, axis=1))
        out = np.asarray(self.game(z), dtype=np.float64)
        self.game_cpu += time.process_time() - t0
        return out


def shapiq_method(name):
    import shapiq

    made = {
        "shapiq KernelSHAP paired": lambda n, s: shapiq.KernelSHAP(n=n, pairing_trick=True, random_state=s),
        "shapiq LeverageSHAP": lambda n, s: shapiq.LeverageSHAP(n=n, random_state=s),
        "shapiq OddSHAP": lambda n, s: shapiq.OddSHAP(n=n, random_state=s),
        "shapiq RegressionMSR": lambda n, s: shapiq.RegressionMSR(n=n, index="SV", random_state=s),
        "shapiq ProxySHAP": lambda n, s: shapiq.ProxySHAP(n=n, index="SV", max_order=1, random_state=s),
        "shapiq PolySHAP": lambda n, s: shapiq.PolySHAP(n=n, max_order=2, pairing_trick=True, random_state=s),
        "shapiq kADDSHAP": lambda n, s: shapiq.kADDSHAP(n=n, max_order=2, pairing_trick=True, random_state=s),
        "shapiq SVARM": lambda n, s: shapiq.SVARM(n=n, pairing_trick=True, random_state=s),
        "shapiq PermutationSV": lambda n, s: shapiq.PermutationSamplingSV(n=n, random_state=s),
    }[name]

    def run(game, n, budget, seed):
        values = made(n, seed).approximate(budget, game)
        return np.array([values[(i,)] for i in range(n)])

    return run


INTERACTION_PEERS = {  # name -> (class, index); pairs come back as the upper triangle, row by row
    "shapiq SHAP-IQ": ("SHAPIQ", "k-SII"),
    "shapiq SVARM-IQ": ("SVARMIQ", "k-SII"),
    "shapiq KernelSHAP-IQ": ("KernelSHAPIQ", "k-SII"),
    "shapiq PermutationSamplingSII": ("PermutationSamplingSII", "k-SII"),
    "shapiq RegressionFSII": ("RegressionFSII", "FSII"),
}


def interaction_method(name):
    import shapiq

    cls, index = INTERACTION_PEERS[name]

    def run(game, n, budget, seed):
        kwargs = {} if cls == "RegressionFSII" else {"index": index}
        values = getattr(shapiq, cls)(n=n, max_order=2, random_state=seed, **kwargs).approximate(budget, game)
        return np.array([values[(i, j)] for i in range(n) for j in range(i + 1, n)])

    return run


def mllm_method(name):
    from mllm_shap.domain.players import PlayerSet
    from mllm_shap.estimation import (
        ComplementaryEstimator,
        LeverageEstimator,
        ShapleyAggregator,
    )
    from mllm_shap.estimation._shared import budget_fraction
    from mllm_shap.estimation.estimands.banzhaf import BanzhafAggregator
    from mllm_shap.estimation.kernel_banzhaf import KernelBanzhafEstimator
    from mllm_shap.estimation.monte_carlo import MonteCarloEstimator

    cls = {
        "mllm-shap Leverage": LeverageEstimator,
        "mllm-shap complementary": ComplementaryEstimator,
        "mllm-shap Kernel Banzhaf": KernelBanzhafEstimator,
        "mllm-shap MC Banzhaf": MonteCarloEstimator,
    }[name]
    aggregator = BanzhafAggregator if "Banzhaf" in name else ShapleyAggregator

    def run(game, n, budget, seed):
        estimator = cls()
        players = PlayerSet(player_ids=tuple(f"p{i}" for i in range(n)))
        masks = list(estimator.sample_masks(players, budget_fraction(n, None, budget), False, seed))
        payoffs = game(np.array([m.present for m in masks], dtype=bool))
        return np.asarray(estimator.estimate_attributions(masks, list(payoffs), aggregator()), dtype=float)

    return run


def method(name):
    if name in INTERACTION_PEERS:
        return interaction_method(name)
    return mllm_method(name) if name.startswith("mllm-shap") else shapiq_method(name)


def main():
    warnings.simplefilter("ignore")
    import mllm_shap.estimation  # noqa: F401  imported before the clock runs: CPU time is the method's
    import shapiq  # noqa: F401

    games = load_games(sys.argv[1])
    for line in sys.stdin:
        job = json.loads(line)
        n, game = games[job["game"]]
        counted = Counted(game, n)
        t0 = time.process_time()
        try:
            phi = method(job["method"])(counted, n, job["budget"], job["seed"])
            error = None
        except Exception as exc:  # a peer that refuses a budget is reported, not fatal
            phi, error = np.full(n, np.nan), f"{type(exc).__name__}: {exc}"
        cpu = time.process_time() - t0 - counted.game_cpu
        out = {**job, "phi": phi.tolist(), "distinct": len(counted.seen), "total": counted.total, "cpu": cpu}
        print(json.dumps(out | ({"error": error} if error else {})), flush=True)


if __name__ == "__main__":
    main()
