"""Per run of each set: shards done, running (rows done so far) and missing (what the next `snakemake` explains)."""

from __future__ import annotations

import argparse
import json
import time

from shapsweep.commands.config_arg import add_config_argument, fail, load_several
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, several=True)
    parser.add_argument("--json", action="store_true", help="one JSON object per run")


def run(args: argparse.Namespace) -> int:
    try:
        lines = []
        for set_dir, exp in load_several(args, warn=False).items():
            lines += [_run_status(exp, set_dir, run_id) for run_id in exp.runs]
    except ConfigError as exc:
        return fail(exc)
    for line in lines:
        if args.json:
            print(json.dumps(line))
        else:
            running = "".join(
                f", {r['shard']} running (row {r['rows_done']}/{r['rows']}, updated {r['updated_s_ago']:.0f}s ago)"
                for r in line["running"]
            )
            waiting = [s for s in line["missing"] if s not in {r["shard"] for r in line["running"]}]
            gaps = f" missing: {' '.join(waiting)}" if waiting else ""
            print(f"{line['set']}\t{line['run_id']}\t{line['done']}/{line['shards']} shards done{running}{gaps}")
    return 0


def _run_status(exp, set_dir: str, run_id: str) -> dict:
    from shapsweep import layout

    shards = exp.shard_plan(run_id).shards
    missing = [s.shard_id for s in shards if not layout.shard_file(set_dir, run_id, s.shard_id).exists()]
    running = []  # what explain jobs write as they go (a killed job's last word stays until the shard is redone)
    for shard_id in missing:
        progress = layout.progress_file(layout.shard_file(set_dir, run_id, shard_id))
        try:
            facts = json.loads(progress.read_text())
            updated = time.time() - progress.stat().st_mtime
        except (OSError, ValueError):
            continue
        running.append(
            {"shard": shard_id, "rows_done": facts["rows_done"], "rows": facts["rows"], "updated_s_ago": updated}
        )
    return {
        "set": exp.config["experiment_set_id"],
        "set_dir": set_dir,
        "run_id": run_id,
        "shards": len(shards),
        "done": len(shards) - len(missing),
        "missing": missing,
        "running": running,
        "summary": layout.summary_file(set_dir, run_id).exists(),
    }
