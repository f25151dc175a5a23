"""How far any screen of unanimity sets could take msr on order-5 SOUM games (issue 22 section 2): a ceiling.

    PYTHONPATH=src .venv/bin/python benchmarks/estimators_banzhaf_detection.py --cells 5:128:8,5:128:16,5:64:16

Why: msr's failing cells (order 5, n = 32-128, 8n-16n) sat at the LMMSE bound of linear estimators
(estimators_lmmse_bound.py), so what was left was a non-linear fit of the game's unanimity sets of 3-5
players. This measures what such a fit could at best get from the same pairs: at 16n far more than the
greedy sets (odd_sets.py) got, which led to set_cascade.py; at n = 128, 8n nothing (the verdict's one
FAIL). The `msr` column is msr's default on the same games.
How: on msr's design (Hadamard blocks, budget / 2 pairs), each true set Q of 2-5 players is scored
by the matched filter of both halves, z_Q = (w_o <r_o, u_Q> + w_e <r_e, v_Q>) / sqrt(w_o |u_Q|^2 +
w_e |v_Q|^2) (u, v: Q's odd Walsh terms of degree >= 3 and even ones of degree >= 2; r the residuals of
the fit so far; w the halves' inverse residual variances), the score odd_sets.py screens by, and ~N(0, 1)
for a set that is not in the game (checked: the null's standard deviation on 4,000 random sets a size is
printed). A screen over all C(n, k) sets of k players meets about one false set above
tau_k = Phi^-1(1 - 1 / (2 C(n, k))) x that deviation, so the ORACLE adds a true set only above tau_k (it is
told which sets are true, so it pays for no false set), refits, rescores and repeats until no set is
added. Columns then: the linear fit on the design, msr (its default), the oracle, an oracle with the bar
at |z| > 2 (far below any real screen's), all true sets (exact), and mllm-shap's Kernel Banzhaf (the
peers' venv) on the same games and budget; median relative L2 error over the seeds, ratio to Kernel
Banzhaf, and the median count of true sets found / present. Seeds: the held-out 100-105 by default.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import norm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import estimators_games as games_mod  # noqa: E402
import estimators_peers312 as peers312  # noqa: E402

from shapsweep.estimators import estimate  # noqa: E402
from shapsweep.estimators.hadamard_design import draw_blocks  # noqa: E402
from shapsweep.estimators.odd_sets import even_columns, set_columns  # noqa: E402

NULL_SETS = 4000  # random sets a size for the null's deviation
LOW_BAR = 2.0


def _uniform_pairs(n):
    def draw(k, rng, taken):
        out = []
        while len(out) < k:
            row = rng.random(n) < 0.5
            key, other = np.packbits(row).tobytes(), np.packbits(~row).tobytes()
            if key not in taken and other not in taken:
                taken.update((key, other))
                out.append(row)
        return out

    return draw


def _fit(x, t, e, sets):
    """Odd half on main effects + the 3-5 sets' odd columns, even half on a constant + every set's even
    columns (a 2-set has no odd term of degree >= 3): (Banzhaf values, odd residual, even residual)."""
    big = [q for q in sets if len(q) >= 3]
    odd = np.hstack([x, set_columns(x, big)]) if big else x
    coef = np.linalg.lstsq(odd, t, rcond=None)[0]
    even = np.hstack([np.ones((len(e), 1)), even_columns(x, sets)]) if sets else np.ones((len(e), 1))
    even_coef = np.linalg.lstsq(even, e, rcond=None)[0]
    return 2.0 * coef[: x.shape[1]], t - odd @ coef, e - even @ even_coef


def _scores(x, r_o, r_e, sets):
    w_o, w_e = len(r_o) / (r_o @ r_o), len(r_e) / (r_e @ r_e)
    u, v = set_columns(x, sets), even_columns(x, sets)
    top = w_o * (r_o @ u) + w_e * (r_e @ v)
    return top / np.sqrt(w_o * (u**2).sum(axis=0) + w_e * (v**2).sum(axis=0))


def _oracle(x, t, e, true_sets, bars):
    found: list[tuple[int, ...]] = []
    while True:
        beta, r_o, r_e = _fit(x, t, e, found)
        left = [q for q in true_sets if q not in found]
        if not left:
            return beta, found
        z = np.abs(_scores(x, r_o, r_e, left))
        new = [q for q, s in zip(left, z) if s > bars[len(q)]]
        if not new:
            return beta, found
        found += new


def run_cell(order, n, mult, seeds, python):
    games = [
        (f"SOUM order <= {order}, n = {n}", s, games_mod.SoumClosedForm(n, 1000 * order + s, max_order=order))
        for s in seeds
    ]
    peer = {}
    for row in peers312.run_peers(python, games, (mult,), ("mllm-shap Kernel Banzhaf",)):
        _f, seed, game = games[row["index"]]
        peer[seed] = peers312.rel_error(row["phi"], _banzhaf(game))
    cols = {"linear": [], "msr": [], "oracle": [], f"oracle |z|>{LOW_BAR:g}": [], "all sets": []}
    found_counts, null_sd = [], {k: [] for k in (2, 3, 4, 5)}
    for _family, seed, game in games:
        rng = np.random.default_rng(seed)
        design = draw_blocks(n, mult * n // 2, rng, set(), _uniform_pairs(n))
        rows = design.rows
        x = 2.0 * rows - 1.0
        f_in, f_out = game(rows), game(~rows)
        t, e = (f_in - f_out) / 2, (f_in + f_out) / 2
        truth = _banzhaf(game)
        true_sets = [tuple(np.flatnonzero(game.incidence[:, j])) for j in range(game.incidence.shape[1])]
        true_sets = sorted({q for q in true_sets if len(q) >= 2})
        _b, r_o, r_e = _fit(x, t, e, [])
        bars, low = {}, {}
        for k in (2, 3, 4, 5):
            null = [tuple(sorted(rng.choice(n, k, replace=False))) for _ in range(NULL_SETS)]
            null = [q for q in null if q not in set(true_sets)]
            sd = float(np.std(_scores(x, r_o, r_e, null)))
            null_sd[k].append(sd)
            bars[k] = sd * norm.isf(1 / (2 * math.comb(n, k)))
            low[k] = LOW_BAR * sd

        def err(b, truth=truth):
            return float(np.linalg.norm(b - truth) / np.linalg.norm(truth))

        cols["linear"].append(err(_fit(x, t, e, [])[0]))
        cols["msr"].append(err(estimate(game, n, "msr", budget=mult * n, seed=seed, batch_size=1024).values))
        beta, found = _oracle(x, t, e, true_sets, bars)
        cols["oracle"].append(err(beta))
        found_counts.append((len(found), len(true_sets)))
        cols[f"oracle |z|>{LOW_BAR:g}"].append(err(_oracle(x, t, e, true_sets, low)[0]))
        cols["all sets"].append(err(_fit(x, t, e, true_sets)[0]))
    kb = float(np.median([peer[s] for s in seeds]))
    cells = " | ".join(f"{np.median(v):.4f} ({np.median(v) / kb:.2f})" for v in cols.values())
    found, present = np.median([f for f, _ in found_counts]), np.median([p for _, p in found_counts])
    sds = ", ".join(f"{k}: {np.median(v):.2f}" for k, v in null_sd.items())
    bars_text = ", ".join(f"{k}: {norm.isf(1 / (2 * math.comb(n, k))):.2f}" for k in (2, 3, 4, 5))
    return f"| {order} | {n} | {mult}n | {kb:.4f} | {cells} | {found:g} / {present:g} | {sds} | {bars_text} |"


def _banzhaf(game):
    return game.incidence @ (game.coef / 2.0 ** (game.sizes - 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="5:128:8,5:128:16,5:64:16", help="order:n:multiple, comma-separated")
    parser.add_argument("--seeds", default="100,101,102,103,104,105")
    parser.add_argument("--venv", default=str(games_mod.OUT / "peers312"))
    args = parser.parse_args(argv)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    python = peers312.ensure_venv(Path(args.venv))
    lines = [
        f"Ceiling of a unanimity-set screen for msr (seeds {args.seeds}); median relative L2 error "
        "(ratio to Kernel Banzhaf)",
        "",
        f"| order | n | budget | Kernel Banzhaf | linear fit | msr | oracle at tau_k | oracle at |z| > {LOW_BAR:g} | "
        "all true sets | sets found / present | null sd by size | tau_k / sd |",
        "|---" * 12 + "|",
    ]
    for cell in args.cells.split(","):
        order, n, mult = (int(v) for v in cell.split(":"))
        lines.append(run_cell(order, n, mult, seeds, python))
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    games_mod.OUT.mkdir(parents=True, exist_ok=True)
    (games_mod.OUT / "estimators_banzhaf_detection.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
