"""How long the report takes at dataset scale: load + render for N rows x R runs, a rebuild with nothing
changed, and a rebuild after one more run.

    .venv/bin/python benchmarks/report_build.py --rows 1000 100000 --runs 10

Lays out a hand-made set (tests/report/hand_made_set.py: real config, real aggregate/compare, synthetic
attributions, 8-12 word rows, 100 rows per shard) in a temporary folder, then times `load_report_inputs` +
`build_report`. Prints one line per size: rows, runs, pages written, files under report/, load and render
seconds, MB written, the seconds of a rebuild with nothing changed (load included) and of a rebuild after
one kernel budget is added to the sweep (its shards written, aggregate/compare re-run, then load + render),
with the number of report files that rebuild rewrote.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "report"), str(REPO / "tests")]  # hand_made_set imports summarize_set from tests/


def report_files(report: Path) -> dict[Path, int]:
    """Every file under report/ with its modification time (ns)."""
    return {p: p.stat().st_mtime_ns for p in report.rglob("*") if p.is_file()}


def timed_build(set_dir: Path):
    from shapsweep.report import build_report, load_report_inputs

    started = time.perf_counter()
    inputs = load_report_inputs(set_dir / "config.json")
    loaded = time.perf_counter()
    files = build_report(inputs, set_dir / "report")
    return files, loaded - started, time.perf_counter() - loaded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[250, 1000])
    parser.add_argument("--runs", type=int, default=4, help="runs in the set (>= 3): exact, kernel budgets, random")
    args = parser.parse_args()
    from hand_made_set import experiments, generated_rows, make_set

    print("rows    runs  pages  files  load_s  render_s  MB     rebuild_s  +run_s  +run_rewrote")
    for n in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            rows = generated_rows(n)
            # 100 rows per shard, as a real sweep would have them (the hand-made set's default is 2).
            overrides = {"shard_size": 100, "experiments": experiments(args.runs)}
            set_dir = make_set(Path(tmp) / "bench", rows=rows, config_overrides=overrides)
            files, load_s, render_s = timed_build(set_dir)
            pages = 1 + len(files.row_pages) + len(files.run_pages)
            written = report_files(set_dir / "report")
            size = sum(p.stat().st_size for p in written) / 1e6
            # The same build again with nothing changed: what a no-op `snakemake` re-run of the rule costs.
            _, load2, render2 = timed_build(set_dir)
            # One more run: a kernel budget added to the sweep, its shards written, summaries re-made.
            make_set(
                set_dir,
                rows=rows,
                config_overrides={**overrides, "experiments": experiments(args.runs + 1)},
                exist_ok=True,
            )
            before = report_files(set_dir / "report")
            _, load3, render3 = timed_build(set_dir)
            rewrote = sum(1 for p, t in report_files(set_dir / "report").items() if before.get(p) != t)
            print(
                f"{n:<7} {len(files.run_pages):<5} {pages:<6} {len(written):<6} {load_s:<7.2f} {render_s:<9.2f} "
                f"{size:<6.1f} {load2 + render2:<10.2f} {load3 + render3:<7.2f} {rewrote}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
