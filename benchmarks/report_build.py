"""How long the report takes at dataset scale: load + render every page for N rows x 4 runs.

    .venv/bin/python benchmarks/report_build.py --rows 250 1000

Lays out a hand-made set (tests/report/hand_made_set.py: real config, real aggregate/compare, synthetic
attributions, 8-12 word rows) in a temporary folder, then times `load_report_inputs` + `build_report`.
Prints one line per size: rows, runs, pages written, files under report/, load and render seconds,
ms per page, MB written, and the seconds of a rebuild with nothing changed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "report"), str(REPO / "tests")]  # hand_made_set imports summarize_set from tests/


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[250, 1000])
    args = parser.parse_args()
    from hand_made_set import generated_rows, make_set

    from shapsweep.report import build_report, load_report_inputs

    print("rows   runs  pages   files   load_s  render_s  ms/page  MB      rebuild_s")
    for n in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            # 100 rows per shard, as a real sweep would have them (the hand-made set's default is 2).
            set_dir = make_set(Path(tmp) / "bench", rows=generated_rows(n), config_overrides={"shard_size": 100})
            started = time.perf_counter()
            inputs = load_report_inputs(set_dir / "config.json")
            loaded = time.perf_counter()
            files = build_report(inputs, set_dir / "report")
            done = time.perf_counter()
            pages = 1 + len(files.row_pages) + len(files.run_pages)
            written = [p for p in (set_dir / "report").rglob("*") if p.is_file()]
            size = sum(p.stat().st_size for p in written) / 1e6
            # The same build again with nothing changed: what a no-op `snakemake` re-run of the rule costs.
            again = time.perf_counter()
            build_report(load_report_inputs(set_dir / "config.json"), set_dir / "report")
            rebuilt = time.perf_counter()
            print(
                f"{n:<6} {len(files.run_pages):<5} {pages:<7} {len(written):<7} {loaded - started:<7.2f} "
                f"{done - loaded:<9.2f} {1000 * (done - loaded) / pages:<8.1f} {size:<7.1f} {rebuilt - again:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
