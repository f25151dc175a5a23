"""Alias-avoiding Hadamard labels for msr's Banzhaf values: the oracle bound and a two-stage screen (issue 22
section 2; measured and not adopted, docs/estimators.md).

    PYTHONPATH=src .venv/bin/python benchmarks/estimators_banzhaf_alias_oracle.py --cells 5:64:16 --ks 0,64,256
    PYTHONPATH=src .venv/bin/python benchmarks/estimators_banzhaf_alias_oracle.py --cells 5:64:16 --ks 0,screen \
        --screen triples --pool 4096

In a Sylvester-Hadamard block an odd Walsh term's column is the column of its players' labels' XOR (times a
sign), so it aliases onto player i's slope exactly when that XOR is l_i; with random labels each term does
so with probability n / (M - 1) in every block. Here the blocks after the first `--from` share keep chosen
terms off every player's label (avoiding_labels: local search); the signs stay random, so each row is
still uniform and msr's fit on all pairs unbiased.
K = 0: msr as it is (random labels). K > 0 (oracle): the game's K strongest TRUE odd terms of degree >= 3
(by |Walsh coefficient|). K = screen (two-stage, what a design could do): the terms screened on the first
blocks' pairs, `--screen sets` (odd_sets' greedy, both halves, 24 sets: their odd terms of degree >= 3,
weighted by the fitted coefficient squared) or `--screen triples` (the `--pool` triples of the best
two-half score on the linear fits' residuals, odd_sets.candidate_sets' score, weighted by it squared) or
`--screen pair_triples` (the `--pool` triples of pair_triple_fit's order-3 fit of both halves with the
largest coefficients c, weighted by (c / 8)^2; n <= 64).
Prints msr's median relative L2 error (auto and linear) per K, its ratio to mllm-shap's Kernel Banzhaf
(peers' venv) on the same seeds (default: tuning seeds 0-23), on how many seeds it beats K = the first,
and the share of the game's true odd energy aliased onto a player in the chosen blocks (median).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402
import estimators_peers312 as peers312  # noqa: E402

import shapsweep.estimators.msr as msr_mod  # noqa: E402
from shapsweep.estimators import estimate  # noqa: E402
from shapsweep.estimators.hadamard_design import BlockDesign, block_size, draw_blocks  # noqa: E402
from shapsweep.estimators.odd_sets import ROUNDS, TripleScreen, _greedy, _top  # noqa: E402
from shapsweep.estimators.pair_triple_fit import fit_pairs_and_triples  # noqa: E402


def avoiding_labels(n, size, terms, weights, rng, sweeps=4) -> np.ndarray:
    """n distinct non-zero labels below `size` under which little of the weight of `terms` ((K, n) bool)
    aliases a player. Local search from a random draw: each sweep moves every player, in random order, to
    the free label that minimises the aliased weight (ties keep the current one)."""
    labels = rng.choice(np.arange(1, size), n, replace=False)
    values = np.arange(size)
    xor = np.bitwise_xor.reduce(np.where(terms, labels[None, :], 0), axis=1)
    for _ in range(sweeps):
        moved = False
        for j in rng.permutation(n):
            member = np.zeros(size, dtype=bool)
            member[labels] = True
            member[labels[j]] = False
            has = terms[:, j]
            # terms without j keep their XOR: aliased if it is another label, or the candidate itself
            rest, weight_rest = xor[~has], weights[~has]
            cost = weight_rest[member[rest]].sum() + np.bincount(rest, weight_rest, minlength=size)
            # terms with j move with the candidate label c: XOR = (XOR without j) ^ c
            shifted = (xor[has] ^ labels[j])[:, None] ^ values[None, :]
            cost = cost + weights[has] @ (member[shifted] | (shifted == values[None, :]))
            cost[0] = np.inf
            cost[member] = np.inf
            best = int(np.argmin(cost))
            if cost[best] < cost[labels[j]]:
                xor[has] ^= labels[j] ^ best
                labels[j], moved = best, True
        if not moved:
            break
    return labels


def odd_walsh_terms(game) -> tuple[np.ndarray, np.ndarray]:
    """The SOUM game's odd Walsh terms of degree >= 3: ((K, n) bool, coefficients), strongest first.
    In +-1 coding u_T = prod_{j in T} (1 + x_j) / 2 = 2^-|T| sum_{U subset T} chi_U."""
    coef: dict[tuple[int, ...], float] = {}
    for j in range(game.incidence.shape[1]):
        members = tuple(int(p) for p in np.flatnonzero(game.incidence[:, j]))
        for degree in range(3, len(members) + 1, 2):
            for sub in itertools.combinations(members, degree):
                coef[sub] = coef.get(sub, 0.0) + game.coef[j] / 2.0 ** len(members)
    keys = sorted(coef, key=lambda u: -abs(coef[u]))
    return _incidence(keys, game.n), np.array([coef[u] for u in keys])


def _incidence(keys, n) -> np.ndarray:
    terms = np.zeros((len(keys), n), dtype=bool)
    for k, u in enumerate(keys):
        terms[k, list(u)] = True
    return terms


def screened_sets(x, t, even, screen, sets=24):
    """The odd terms (degree >= 3) of the sets odd_sets' greedy picks, weighted by the coefficient squared."""
    n = x.shape[1]
    sizes = np.unique(np.geomspace(1, sets, ROUNDS).astype(int))
    _added, path = _greedy(x, t, np.ones(len(t)), screen, sizes, even)
    weight: dict[tuple[int, ...], float] = {}
    for members, c in zip(path.sets, path.solve()[n:], strict=True):
        for degree in range(3, len(members) + 1, 2):
            for sub in itertools.combinations(members, degree):
                weight[sub] = weight.get(sub, 0.0) + float(c) ** 2
    return _incidence(list(weight), n), np.fromiter(weight.values(), dtype=np.float64, count=len(weight))


def screened_triples(x, t, even, screen, pool):
    """The `pool` triples of the best two-half score on the linear fits' residuals, weighted by it squared."""
    residual = t - x @ np.linalg.lstsq(x, t, rcond=None)[0]
    even_residual = even - even.mean()
    wo, we = 1.0 / np.mean(residual**2), 1.0 / np.mean(even_residual**2)
    every, odd = screen.every_triple(screen.binned(residual))
    pair = screen.pairs(screen.binned(even_residual))
    a, b, c = every
    score = np.abs(wo * odd + we * (pair[a, b] + pair[a, c] + pair[b, c])) / np.sqrt(wo + 3 * we)
    top = _top(score, pool)
    terms = np.zeros((len(top), x.shape[1]), dtype=bool)
    terms[np.arange(len(top))[:, None], every[:, top].T] = True
    return terms, score[top] ** 2


def screened_pair_triples(x, t, even, pool):
    """The `pool` triples of pair_triple_fit's order-3 unanimity fit of both halves with the largest
    coefficients, weighted by their odd Walsh coefficient (c / 8) squared."""
    members, beta = fit_pairs_and_triples(x > 0, even, t)
    triple = members.sum(axis=1) == 3
    members, beta = members[triple], beta[triple]
    top = _top(np.abs(beta), pool)
    return members[top], (beta[top] / 8) ** 2


def _merge(first: BlockDesign, second: BlockDesign) -> BlockDesign:
    shift = np.where(second.block >= 0, second.block + len(first.labels), -1)
    return BlockDesign(
        np.vstack([first.rows, second.rows]),
        np.concatenate([first.block, shift]),
        np.concatenate([first.index, second.index]),
        np.vstack([first.labels, second.labels]),
        np.vstack([first.flips, second.flips]),
        first.size,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="5:64:16", help="order:n:multiple, comma-separated")
    parser.add_argument("--seeds", default="0-23")
    parser.add_argument("--ks", default="0,16,64,256", help="numbers of true terms avoided, or `screen`")
    parser.add_argument("--from", dest="start", type=float, default=0.5, help="share of blocks with random labels")
    parser.add_argument("--adjust", default="auto,linear")
    parser.add_argument("--screen", default="sets", help="K = screen: sets | triples | pair_triples")
    parser.add_argument("--pool", type=int, default=1024, help="triples screened (--screen triples)")
    parser.add_argument("--venv", default=str(games_mod.OUT / "peers312"))
    args = parser.parse_args(argv)
    low, _, high = args.seeds.partition("-")
    seeds = range(int(low), int(high or low) + 1)
    ks = [k if k == "screen" else int(k) for k in args.ks.split(",")]
    python = peers312.ensure_venv(Path(args.venv))
    state: dict = {}

    def designed(n, p, rng, taken, draw_uniform):
        """msr's draw_blocks with the later blocks' labels chosen (state: the game, K or `screen`)."""
        size = block_size(n)
        split = int(np.floor(args.start * -(-p // size))) * size
        if state["k"] == 0 or split == 0:
            design = draw_blocks(n, p, rng, taken, draw_uniform)
            state["late"] = design.labels[:0]
            return design
        early = draw_blocks(n, split, rng, taken, draw_uniform)
        if state["k"] == "screen":  # the first blocks' pairs, as msr evaluates them, screened
            game, rows = state["game"], early.rows
            both = game(np.vstack([rows, ~rows]))
            ends = game(np.vstack([np.zeros(n, bool), np.ones(n, bool)]))
            x = np.vstack([np.ones((1, n)), np.where(rows, 1.0, -1.0)])
            t = np.concatenate([[(ends[1] - ends[0]) / 2], (both[: len(rows)] - both[len(rows) :]) / 2])
            even = np.concatenate([[ends.mean()], (both[: len(rows)] + both[len(rows) :]) / 2])
            block, index = np.concatenate([[-1], early.block]), np.concatenate([[0], early.index])
            screen = TripleScreen(early, block, index)
            if args.screen == "sets":
                terms, weights = screened_sets(x, t, even, screen)
            elif args.screen == "pair_triples":
                terms, weights = screened_pair_triples(x, t, even, args.pool)
            else:
                terms, weights = screened_triples(x, t, even, screen, args.pool)
        else:
            terms, weights = state["terms"][: state["k"]], state["coef"][: state["k"]] ** 2

        def labels_for(_b, r):
            return avoiding_labels(n, size, terms, weights, r) if len(terms) else None

        late = draw_blocks(n, p - len(early.rows), rng, taken, draw_uniform, labels_for)
        state["late"] = late.labels
        return _merge(early, late)

    msr_mod.draw_blocks = designed
    for cell in args.cells.split(","):
        order, n, mult = (int(v) for v in cell.split(":"))
        games = [games_mod.SoumClosedForm(n, 1000 * order + s, max_order=order) for s in seeds]
        listed = [(f"SOUM order <= {order}, n = {n}", s, g) for s, g in zip(seeds, games, strict=True)]
        rows = peers312.run_peers(python, listed, (mult,), ("mllm-shap Kernel Banzhaf",), log=lambda *a: None)
        kb = float(np.median([peers312.rel_error(r["phi"], _banzhaf(games[r["index"]])) for r in rows]))
        print(
            f"cell order {order}, n = {n}, {mult}n, seeds {args.seeds}, blocks with random labels "
            f"{args.start}: Kernel Banzhaf {kb:.4f}"
        )
        first_errs: dict[str, list[float]] = {}
        for k in ks:
            row, aliased = [], []
            for adjust in args.adjust.split(","):
                errs = []
                for seed, game in zip(seeds, games, strict=True):
                    terms, coef = odd_walsh_terms(game)
                    state |= {"game": game, "k": k, "terms": terms, "coef": coef}
                    phi = estimate(game, n, "msr", budget=mult * n, seed=seed, batch_size=1024, adjust=adjust).values
                    errs.append(peers312.rel_error(phi, _banzhaf(game)))
                    for labels in state["late"]:
                        xor = np.bitwise_xor.reduce(np.where(terms, labels[None, :], 0), axis=1)
                        aliased.append(float(np.sum(coef[np.isin(xor, labels)] ** 2) / np.sum(coef**2)))
                med = float(np.median(errs))
                base = first_errs.setdefault(adjust, errs)  # paired with the first K's errors, seed by seed
                wins = sum(e < b for e, b in zip(errs, base, strict=True))
                row.append(f"{adjust} {med:.4f} ({med / kb:.2f}x; better on {wins}/{len(errs)} seeds)")
            share = f"{np.median(aliased):.2f}" if aliased else "random"
            print(
                f"  K = {k}: " + ", ".join(row) + f"; true odd energy aliased in the chosen blocks {share}", flush=True
            )
    return 0


def _banzhaf(game) -> np.ndarray:
    return game.incidence @ (game.coef / 2.0 ** (game.sizes - 1))


if __name__ == "__main__":
    raise SystemExit(main())
