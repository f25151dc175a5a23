"""The set's training: the filled `training` block -> a trace spec with its trace id (parse time, no torch).

Trace id = `<model name>-<hash>`; the hash covers what changes the recorded steps: the model, the training
rows' data id (dataset identity + selection), the target column, the loss and every optimizer and loop
option. A user-recorded trace (`training.trace`) is read where it lies; its id hashes the path and header.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from shapsweep import layout
from shapsweep.errors import ConfigError
from shapsweep.hashing import readable, short_hash
from shapsweep.training.options import LOSSES, check_training

LOOP_OPTIONS = (
    "lr",
    "betas",
    "eps",
    "weight_decay",
    "schedule",
    "warmup_steps",
    "batch_size",
    "steps",
    "epochs",
    "shuffle",
    "seed",
    "trainable",
    "window",
)


def training_spec(cfg: dict) -> dict | None:
    """The set's trace spec (None when the set trains nothing): trace_id, root, and what `shapsweep trace` needs."""
    from shapsweep.data.identity import data_id

    block = cfg["training"]
    try:
        check_training(block)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if block["trace"] is not None:
        return _user_trace(block, data_id)
    if block["model"] is None:
        return None
    model = {"connector": "hf_classifier", **block["model"]}
    loss = block["loss"] or LOSSES[model["connector"]]
    d_id = data_id(block["dataset"], block["selection"])
    options = {k: block[k] for k in LOOP_OPTIONS}
    hashed = {"model": model, "data_id": d_id, "target": block["target"], "loss": loss, "options": options}
    name = model["path_or_id"].rstrip("/").rsplit("/", 1)[-1].split(":")[-1]
    trace_id = f"{readable(name, 32)}-{short_hash(hashed, 8)}"
    return {
        "trace_id": trace_id,
        "root": str(layout.trace_dir(layout.set_dir(cfg), trace_id)),
        "recorded_by_user": False,
        "hashed": hashed,
        "model": model,
        "data_id": d_id,
        "dataset": block["dataset"],
        "selection": block["selection"],
        "target": block["target"],
        "loss": loss,
        "options": options,
    }


def _user_trace(block: dict, data_id) -> dict:
    """A trace recorded by the user's own loop: read where it lies; its id hashes the path and its header
    (re-recording it re-explains). With training.dataset its training rows are known and it can be explained."""
    root = Path(block["trace"])
    header_file = root / "trace.json"
    if not header_file.is_file():
        raise ConfigError(f"training.trace: {header_file} not found; point it at a folder written by TraceRecorder")
    header = json.loads(header_file.read_text())
    spec = {
        "trace_id": f"recorded-{readable(root.name, 32)}-{short_hash([str(root), header], 8)}",
        "root": str(root),
        "recorded_by_user": True,
        "done": str(header_file),
    }
    given = block["dataset"]
    if given.get("data_files") is None and given.get("repo_id") is None:
        return spec  # no training rows: recorded, but not explainable by the pipeline
    return {
        **spec,
        "data_id": data_id(block["dataset"], block["selection"]),
        "dataset": block["dataset"],
        "selection": block["selection"],
        "target": block["target"],
        "options": {"steps": header["total_steps"], "epochs": None, "window": header.get("window")},
    }


def bind_trace(runs: dict[str, dict], spec: dict | None, cfg: dict, label_of) -> dict[str, dict]:
    """Bind each path_kernel and update_game run to the set's trace: its id joins the run's hash (a re-trace
    re-explains) and `run["trace"]` says where the trace and its training rows lie (not hashed: paths)."""
    out: dict[str, dict] = {}
    for run_id, run in runs.items():
        if run["explain"]["shap"]["method"] not in ("path_kernel", "update_game"):
            out[run_id] = run
            continue
        if spec is None:
            raise ConfigError(
                f"{label_of(run)}.shap.method: {run['explain']['shap']['method']} explains a training run; set the `training` block "
                "(a model and training rows to train, or training.trace)"
            )
        if "data_id" not in spec:
            raise ConfigError(
                f"{label_of(run)}.shap.method: {run['explain']['shap']['method']} reads the training rows; "
                "with training.trace give them too (training.dataset, training.selection, training.target)"
            )
        run = copy.deepcopy(run)
        run["trace"] = {
            "trace_id": spec["trace_id"],
            "root": spec["root"],
            "done": spec.get("done") or str(layout.trace_done(layout.set_dir(cfg), spec["trace_id"])),
            "rows": str(layout.rows_file(layout.set_dir(cfg), spec["data_id"])),
            "max_samples": spec["selection"]["max_samples"],
            "target": spec["target"],
        }
        run["trace"]["step_blocks"] = _step_blocks(run, spec, label_of)
        run["hashed"]["trace_id"] = spec["trace_id"]
        run["hash"] = short_hash(run["hashed"], 8)
        run["run_id"] = f"{run['slug']}-{run['hash']}"
        out[run["run_id"]] = run
    return out


def total_training_steps(spec: dict) -> int:
    """The trace's updates, known before it is recorded: `steps`, or `epochs` passes over the selected rows."""
    from shapsweep.data.shards import count_selected_rows

    options = spec["options"]
    if options["steps"] is not None:
        return options["steps"]
    rows = count_selected_rows(spec["dataset"], spec["selection"])
    return options["epochs"] * -(-rows // options["batch_size"])


def _step_blocks(run: dict, spec: dict, label_of) -> list[list[int]] | None:
    """[[a, b), ...] of a path_kernel run with `step_block`: its window cut into blocks of that many updates."""
    options = run["explain"]["shap"]["options"]
    size = options.get("step_block")
    if size is None:
        return None
    if options["steps"] != "all":
        s0, s1 = options["steps"]
    elif spec["options"]["window"] is not None:
        s0, s1 = spec["options"]["window"]
    else:
        s0, s1 = 0, total_training_steps(spec)
    total = total_training_steps(spec)
    if s1 > total:
        raise ConfigError(f"{label_of(run)}.shap.options.steps: ends at {s1}, after the trace's {total} updates")
    return [[a, min(a + size, s1)] for a in range(s0, s1, size)]
