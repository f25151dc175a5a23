"""Coverage of the pairwise interactions' 95% intervals (k-SII, FSII, STII) on closed-form games.

    .venv/bin/python benchmarks/estimators_interaction_stderr.py
    .venv/bin/python benchmarks/estimators_interaction_stderr.py --ns 14,16 --mults 16,32 --games 12
    .venv/bin/python benchmarks/estimators_interaction_stderr.py --index STII
    .venv/bin/python benchmarks/estimators_interaction_stderr.py --ns 32,64 --mults 8 --games 6

Above n = 16 the noisy game's exact indices are not tabulated: only the SOUM's closed form is scored.
The last column says where the standard errors came from (`details.interactions_stderr_from`: the
refit's HC3 sandwich, or the jackknife of interaction_jackknife.py).

Games: sums of unanimity games of order <= 3 (2n terms, N(0, 1) coefficients) plus a fixed pseudo-random
term per coalition (noise 0.05, what a degree-2 fit cannot explain), n <= 16 so the exact indices of the
noisy game are computed from its whole table. Per cell: the share of the pairs with a standard error whose
exact index lies in value +- 1.96 stderr, over all of them and over each row's top 5 (what a shard keeps),
and the median interval half-width. Tuning games are seeds 0-11 (tests/estimators/test_interaction_stderr.py);
these are seeds 200+.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from shapsweep.estimators import estimate, top_pairs  # noqa: E402
from shapsweep.estimators.exact import all_coalitions  # noqa: E402
from shapsweep.estimators.interactions import exact_pairwise, from_moebius  # noqa: E402


class NoisySoum:
    """sum_T c_T [T subset S] (orders <= 3) + noise * a fixed uniform pseudo-random number per coalition."""

    def __init__(self, n: int, seed: int, noise: float):
        rng = np.random.default_rng(seed)
        self.terms = [rng.choice(n, int(rng.integers(1, 4)), replace=False) for _ in range(2 * n)]
        self.coef = rng.normal(size=2 * n)
        self.n, self.noise, self.salt = n, noise, seed + 1

    def soum(self, z):
        v = np.zeros(len(z))
        for t, c in zip(self.terms, self.coef, strict=True):
            v += c * z[:, t].all(axis=1)
        return v

    def __call__(self, z):
        z = np.asarray(z, bool)
        v = self.soum(z)
        codes = z.astype(np.uint64) @ (np.uint64(1) << np.arange(self.n, dtype=np.uint64))
        mixed = (codes + np.uint64(self.salt)) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)
        return v + self.noise * np.sqrt(12) * (mixed.astype(np.float64) / 2**24 - 0.5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ns", default="12,16")
    parser.add_argument("--mults", default="8,16,32")
    parser.add_argument("--games", type=int, default=12)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--index", default="k-SII", choices=("k-SII", "FSII", "STII"))
    args = parser.parse_args(argv)
    print(
        "| n | budget | pairs with stderr | coverage of the SOUM's closed form (all) | (top 5) "
        "| coverage of the noisy game's exact (all) | (top 5) | median half-width | stderr from |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.ns.split(",")):
        for mult in (int(x) for x in args.mults.split(",")):
            covered, top, widths, sources = {"soum": [], "noisy": []}, {"soum": [], "noisy": []}, [], set()
            for seed in range(200, 200 + args.games):
                game = NoisySoum(n, seed, args.noise)
                members = np.zeros((len(game.terms), n), bool)
                for row, term in zip(members, game.terms, strict=True):
                    row[term] = True
                truths = {"soum": from_moebius(members, game.coef, n, args.index)}
                if n <= 16:
                    truths["noisy"] = exact_pairwise(game(all_coalitions(n)), n, args.index)
                r = estimate(game, n, budget=mult * n, seed=seed, interactions=args.index)
                if r.interaction_stderr is None:
                    continue
                sources.add(r.details.get("interactions_stderr_from", "HC3 refit").split(" over")[0])
                se = r.interaction_stderr
                known = np.isfinite(se) & ~np.eye(n, dtype=bool)
                widths += list(1.96 * se[np.triu(known, 1)])
                for name, truth in truths.items():
                    inside = np.abs(r.interactions - truth) <= 1.96 * se
                    covered[name] += list(inside[np.triu(known, 1)])
                    kept = top_pairs(r.interactions, 5)
                    top[name] += [bool(inside[i, j]) for i, j, _ in kept if np.isfinite(se[i, j])]
            if widths:
                print(
                    f"| {n} | {mult}n | {len(widths)} | "
                    + " | ".join(
                        f"{np.mean(covered[k]):.3f} | {np.mean(top[k]):.3f}" if covered[k] else "- | -"
                        for k in ("soum", "noisy")
                    )
                    + f" | {np.median(widths):.4f} | {', '.join(sorted(sources))} |"
                )
            else:
                print(f"| {n} | {mult}n | 0 | - | - | - | - | - | - |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
