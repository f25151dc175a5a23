"""Whether other coalitions could lower msr's linear bound: the LMMSE error of the Banzhaf values by design.

    .venv/bin/python benchmarks/estimators_banzhaf_design_bound.py --n 128 --order 5 --mults 8
    .venv/bin/python benchmarks/estimators_banzhaf_design_bound.py --n 64 --order 5 --mults 8,16 --draws 3

msr's failing Banzhaf cells sit at the LMMSE bound of its own evaluations (estimators_lmmse_bound.py): no
estimator linear in them does better. This script asks whether a different coalition distribution at the
same budget would lower that bound. Under the unanimity prior with the SOUM generator's second moments
(benchmarks/estimators_games.SoumClosedForm: equal variance per order k <= order, spread evenly over the
C(n, k) sets of size k, plus a unit constant), the posterior covariance of the Banzhaf values depends on the
coalitions only, not on the game: for any design Z the expected squared error of the LMMSE estimate is
tr Cov(beta) - tr(R' K^-1 R), with K(S, S') = 1 + sum_k w_k / C(n, k) C(|S & S'|, k) and
R(S, i) = Cov(v(S), beta_i) = [i in S] sum_k w_k / C(n, k) 2^(1 - k) C(|S| - 1, k - 1). The script prints
its square root relative to the prior's, sqrt(E|err|^2 / E|beta|^2), for each design (averaged over
`--draws` random draws of it; each holds the empty and full coalitions): i.i.d. uniform coalitions, uniform complementary pairs, msr's Hadamard
pairs, pairs of coalitions of exactly n / 2 players, pairs drawn with inclusion probability p (p and
1 - p), i.i.d. coalitions with inclusion probability p, and mixtures of pairs and p-biased coalitions.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import comb

from shapsweep.estimators import unanimity_kernel
from shapsweep.estimators.hadamard_design import draw_blocks

RIDGE = 1e-9  # relative to the kernel's mean diagonal: the games are noiseless


class Prior:
    """The unanimity prior of order <= `order` on n players (unanimity_kernel.prior: w_k = 1 for every k, plus
    the unit constant of unanimity_kernel.value_blocks), on whole coalitions."""

    def __init__(self, n: int, order: int):
        self.n, self.weights = n, unanimity_kernel.prior(order)

    def relative_error(self, z: np.ndarray) -> float:
        # value_blocks and value_banzhaf_rows split v(S) into a pair's odd and even parts; their sums are the
        # covariances of v(S) itself: K = oo + oe + eo + ee, and R = odd rows + even rows
        x = np.where(z, 1.0, -1.0)
        k = sum(unanimity_kernel.value_blocks(x, x, self.weights))
        halves = unanimity_kernel.value_banzhaf_rows(x, self.weights)
        r = halves[: len(x)] + halves[len(x) :]
        k.flat[:: len(k) + 1] += RIDGE * np.trace(k) / len(k)
        explained = float(np.trace(r.T @ np.linalg.solve(k, r)))
        return float(np.sqrt(max(1.0 - explained / self.value_variance(), 0.0)))

    def value_variance(self) -> float:
        """E |beta|^2: each player's Banzhaf value sums c_T / 2^(|T| - 1) over the sets T that hold it."""
        per_player = sum(
            w / comb(self.n, k) * 4.0 ** (1 - k) * comb(self.n - 1, k - 1) for k, w in self.weights.items()
        )
        return self.n * float(per_player)


def designs(n: int, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each design's m coalitions (boolean rows): the empty and full coalitions (which msr and the peers
    evaluate first), then m - 2 of the design's."""
    ends = np.vstack([np.zeros(n, bool), np.ones(n, bool)])
    m -= 2

    def biased(p: float, count: int) -> np.ndarray:
        return rng.random((count, n)) < p

    def paired(first: np.ndarray) -> np.ndarray:
        return np.vstack([first, ~first])

    def half_size(count: int) -> np.ndarray:
        out = np.zeros((count, n), bool)
        for row in out:
            row[rng.choice(n, n // 2, replace=False)] = True
        return out

    def no_fallback(k, r, taken):
        raise RuntimeError("the Hadamard blocks ran out of new pairs")

    hadamard = draw_blocks(n, m // 2, rng, set(), no_fallback).rows
    out = {
        "i.i.d. uniform": biased(0.5, m),
        "uniform pairs (Kernel Banzhaf)": paired(biased(0.5, m // 2)),
        "Hadamard pairs (msr)": paired(hadamard),
        "pairs of n/2 players": paired(half_size(m // 2)),
    }
    for p in (0.35, 0.4, 0.45):
        out[f"pairs, p = {p} / {1 - p:.2f}"] = paired(biased(p, m // 2))
    for p in (0.3, 0.4, 0.6, 0.7):
        out[f"i.i.d., p = {p}"] = biased(p, m)
    out["half pairs, half i.i.d. p = 0.65"] = np.vstack([paired(biased(0.5, m // 4)), biased(0.65, m // 2)])
    return {name: np.vstack([ends, z]) for name, z in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--order", type=int, default=5)
    parser.add_argument("--mults", default="8")
    parser.add_argument("--draws", type=int, default=3)
    args = parser.parse_args(argv)
    prior = Prior(args.n, args.order)
    for mult in (int(x) for x in args.mults.split(",")):
        errors: dict[str, list[float]] = {}
        for draw in range(args.draws):
            for name, z in designs(args.n, mult * args.n, np.random.default_rng(draw)).items():
                errors.setdefault(name, []).append(prior.relative_error(z))
        print(
            f"\nSOUM order <= {args.order}, n = {args.n}, {mult}n: LMMSE relative error of the Banzhaf values "
            f"(mean of {args.draws} draws of each design)"
        )
        print("| design | LMMSE relative error |\n|---|---|")
        for name, values in errors.items():
            print(f"| {name} | {np.mean(values):.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
