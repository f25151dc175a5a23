"""Check an experiment set: schema, sweep, estimator limits, models; with --check-dataset also the data.

--check-dataset reads each dataset's selected rows, checks the mapped columns and counts the rows that
will not be explained (empty, or over `features.max_players`) without loading any model: players are
split as the explain job splits them (`features.text.split_players`; token players need the tokenizer
only). Such rows are kept with their status, so the run still succeeds: this is where the user hears of
them before spending the compute.
"""

from __future__ import annotations

import argparse

from shapsweep.commands.config_arg import add_config_argument, fail, load
from shapsweep.config import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)
    parser.add_argument(
        "--check-dataset",
        action="store_true",
        help="load each dataset's selected rows: check the mapped columns and filters, count empty rows "
        "and rows over features.max_players (no model is loaded)",
    )


FIRST_IDS_SHOWN = 5  # row ids printed per kind of unexplainable row


def count_players(row: dict, features: dict, tokenizer=None) -> int:
    """Players the explain job will see in `row` (0 for a missing or blank text), with no model."""
    from shapsweep.features.text import split_players

    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        return 0
    offsets = None
    if features["granularity"] == "token":
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
    try:
        players = split_players(
            text,
            features["granularity"],
            token_offsets=offsets,
            spans=row.get("spans"),
            exclude_punctuation=features["exclude_punctuation"],
        )
    except (ValueError, TypeError):  # bad or missing spans: the job reports those rows (bad_spans)
        return 0
    return len(players)


def _tokenizer(model: dict):
    from transformers import AutoTokenizer

    from shapsweep.models.locate import resolve_path_or_id

    return AutoTokenizer.from_pretrained(
        resolve_path_or_id(model["path_or_id"]),
        revision=model.get("revision"),
        trust_remote_code=model.get("trust_remote_code", False),
    )


def _ids(frame) -> str:
    shown = frame["row_id"].head(FIRST_IDS_SHOWN).to_list()
    return ", ".join(map(str, shown)) + (", ..." if frame.height > FIRST_IDS_SHOWN else "")


def unexplainable_rows(rows, features: dict, tokenizer=None) -> list[str]:
    """Lines naming the rows that will get status empty_input or too_many_players (none when all fit)."""
    import polars as pl

    counts = rows.select("row_id").with_columns(
        pl.Series("players", [count_players(r, features, tokenizer) for r in rows.iter_rows(named=True)])
    )
    empty = counts.filter(pl.col("players") == 0)
    over = counts.filter(pl.col("players") > features["max_players"])
    lines = []
    if empty.height:
        lines.append(f"{empty.height} of {rows.height} rows are empty (status empty_input): {_ids(empty)}")
    if over.height:
        lines.append(
            f"{over.height} of {rows.height} rows have more than features.max_players = {features['max_players']} "
            f"{features['granularity']} players (status too_many_players; most: {over['players'].max()}): "
            f"{_ids(over)}; raise max_players or use a coarser granularity"
        )
    return lines


def check_dataset(exp) -> list[str]:
    """Each distinct data selection: columns checked, then per distinct players setup the rows the runs
    will not explain; one line each."""
    import json

    from shapsweep.data.load import media_folders
    from shapsweep.data.media import check_first_media
    from shapsweep.data.selection import select_rows

    lines = []
    by_data: dict[str, list[dict]] = {}
    for run_id, run in exp.runs.items():
        by_data.setdefault(run["data_id"], []).append({**run, "_n_rows": exp.shard_plan(run_id).n_rows})
    for data_id, runs in by_data.items():
        rows = select_rows(*exp.data_selection(data_id))
        lines.append(f"dataset {data_id}: {rows.height} rows, columns ok ({', '.join(rows.columns)})")
        dataset = exp.data_selection(data_id)[0]
        lines += [f"dataset {data_id}: {line}" for line in check_first_media(rows, media_folders(dataset))]
        setups: dict[str, tuple[dict, dict, int]] = {}
        for run in runs:
            ex = run["explain"]
            player_model = {k: ex["model"].get(k) for k in ("path_or_id", "revision")}
            if ex["features"]["granularity"] != "token":
                player_model = {}  # words, sentences and spans do not depend on the model
            key = json.dumps([ex["features"], player_model], sort_keys=True)
            _, _, planned = setups.get(key, (None, None, 0))
            setups[key] = (ex["features"], ex["model"], max(planned, run["_n_rows"]))
        for features, model, planned in setups.values():
            tokenizer = _tokenizer(model) if features["granularity"] == "token" else None
            for line in unexplainable_rows(rows.head(planned), features, tokenizer):
                lines.append(f"warning: dataset {data_id}: {line}")
    return lines


def model_locations(exp) -> list[str]:
    """Where each distinct model (and external embedder) of the set resolved, one line each. The check
    itself ran while the set loaded (models.config.resolve_configs): here it is only read back."""
    from shapsweep.models.locate import locate_model

    lines = []
    for run in exp.runs.values():
        model, value = run["explain"]["model"], run["explain"]["value"]
        lines.append(locate_model(model["path_or_id"], model.get("revision")).describe())
        if value.get("embedding") == "external":
            lines.append(locate_model(value["embedder"], field="value.embedder").describe("value.embedder"))
    return list(dict.fromkeys(lines))


def run(args: argparse.Namespace) -> int:
    try:
        exp = load(args)
        n_shards = sum(len(exp.shard_plan(r).shards) for r in exp.runs)
        lines = model_locations(exp) + (check_dataset(exp) if args.check_dataset else [])
    except ConfigError as exc:
        return fail(exc)
    for line in lines:
        print(line)
    for line in exp.duplicates:
        print(f"duplicate: {line}")
    print(f"ok: {exp.config['experiment_set_id']}: {len(exp.runs)} runs, {n_shards} shard jobs")
    return 0
