"""The training block and the path_kernel kind in the pipeline's own code path (config -> trace command ->
explain job), with a tiny BERT classifier: the shard's scores add up, and the update game agrees on one step."""

import io
import json

import numpy as np
import polars as pl
import pytest
from tiny_models import CORPUS

from shapsweep.cli import main
from shapsweep.config.experiment_set import from_config
from shapsweep.errors import ConfigError
from shapsweep.explain import ShardJob, explain_shards
from shapsweep.file_schemas import PATH_KERNEL_COLUMNS, SHARD_SCHEMA

TEXTS = list(dict.fromkeys(CORPUS))


def _config(tmp_path, model_path, **training):
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(json.dumps({"text": t, "label": i % 3, "topic": i % 2}) + "\n" for i, t in enumerate(TEXTS))
    )
    tests = tmp_path / "test.jsonl"
    tests.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[:3]))
    return {
        "experiment_set_id": "pk",
        "output_root": str(tmp_path / "results"),
        "dataset": {"source": "json", "data_files": str(tests)},
        "model": {"connector": "hf_classifier", "path_or_id": model_path, "batch_size": 8},
        "value": {"kind": "logit"},
        "features": {"max_players": 64},
        "training": {
            "model": {"connector": "hf_classifier", "path_or_id": model_path},
            "dataset": {"source": "json", "data_files": str(data)},
            "selection": {"max_samples": 8},
            "lr": 1e-3,
            "betas": [0.9, 0.98],
            "weight_decay": 0.1,
            "batch_size": 4,
            "steps": 3,
            "seed": 1,
            **training,
        },
        "experiments": [
            {"name": "pk", "shap": {"method": "path_kernel", "options": {"midpoints": 4, "components": "layer"}}},
            {"name": "pk-topic", "shap": {"method": "path_kernel", "options": {"midpoints": 4, "data": "topic"}}},
        ],
    }


def _trace(exp, config_path):
    spec = exp.training
    rows_file = tmp_rows = exp.set_dir / "data" / spec["data_id"] / "rows.parquet"
    assert main(["rows", str(config_path), "--data-id", spec["data_id"], "--out", str(tmp_rows)]) == 0
    done = exp.set_dir / "traces" / spec["trace_id"] / "done.json"
    code = main(["trace", str(config_path), "--trace", spec["trace_id"], "--rows", str(rows_file), "--done", str(done)])
    assert code == 0
    return done


def test_a_path_kernel_shard_adds_up_over_examples_components_and_steps(tmp_path, tiny_bert_classifier_path):
    cfg = _config(tmp_path, tiny_bert_classifier_path)
    config_path = tmp_path / "set.json"
    config_path.write_text(json.dumps(cfg))
    exp = from_config(cfg)
    done = _trace(exp, config_path)
    assert json.loads(done.read_text())["steps"] == [0, 1, 2]
    by_name = {run["variant"]: run for run in exp.runs.values()}
    test_rows = exp.set_dir / "test_rows.parquet"
    pl.DataFrame({"row_id": ["a", "b", "c"], "text": TEXTS[:3]}).write_parquet(test_rows)
    frames = {}
    for name, run in by_name.items():
        out = tmp_path / f"{name}.parquet"
        explain_shards(run, test_rows, [ShardJob("00000", 0, 3, out)], threads=1, log=io.StringIO())
        frames[name] = pl.read_parquet(out)
    shard = frames["pk"]
    assert shard.schema == pl.Schema(SHARD_SCHEMA)
    assert shard["status"].to_list() == ["ok"] * 3
    row = shard.row(0, named=True)
    assert row["players"] == TEXTS[:8] and row["trace_steps"] == [0, 1, 2]
    assert row["trace_id"] == exp.training["trace_id"]
    change = row["v_full"] - row["v_empty"]
    assert abs(change) > 1e-4  # training moved the value
    # the components add up to the change up to the midpoint rule's gap, and the data, momentum (none at
    # step 0) and weight decay parts to the components
    assert sum(row["component_scores"]) + row["efficiency_gap"] == pytest.approx(change, abs=1e-9)
    assert abs(row["efficiency_gap"]) < 0.05 * abs(change)
    assert sum(row["attribution"]) + row["weight_decay_score"] + row["momentum_score"] == pytest.approx(
        sum(row["component_scores"]), rel=1e-6
    )
    matrix = np.array(row["component_step_scores"])
    assert matrix.shape == (len(row["components"]), 3)
    assert np.allclose(matrix.sum(axis=0), row["step_totals"])
    assert all(name in SHARD_SCHEMA for name in PATH_KERNEL_COLUMNS)
    # grouping by a training column sums the examples of each group
    topic = frames["pk-topic"].row(0, named=True)
    assert sorted(topic["players"]) == ["0", "1"]
    by_topic = dict(zip(topic["players"], topic["attribution"], strict=True))
    expected = {k: sum(v for i, v in enumerate(row["attribution"]) if str(i % 2) == k) for k in ("0", "1")}
    assert by_topic == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_the_trace_id_changes_with_a_training_option_and_the_path_kernel_run_id_with_it(
    tmp_path, tiny_bert_classifier_path
):
    one = from_config(_config(tmp_path, tiny_bert_classifier_path))
    other = from_config(_config(tmp_path, tiny_bert_classifier_path, lr=2e-3))
    assert one.training["trace_id"] != other.training["trace_id"]
    assert set(one.runs).isdisjoint(other.runs)


def test_a_path_kernel_run_without_training_is_refused_naming_the_field(tmp_path, tiny_bert_classifier_path):
    cfg = _config(tmp_path, tiny_bert_classifier_path)
    del cfg["training"]
    with pytest.raises(ConfigError, match=r"experiments\[0\] \(pk\)\.shap\.method: path_kernel .* `training` block"):
        from_config(cfg)
    cfg = _config(tmp_path, tiny_bert_classifier_path, steps=None)
    with pytest.raises(ConfigError, match=r"training\.steps"):
        from_config(cfg)


def test_an_update_games_estimator_settings_are_checked_by_field_name(tmp_path, tiny_bert_classifier_path):
    cfg = _config(tmp_path, tiny_bert_classifier_path)
    game = {"method": "update_game", "options": {"estimator": "kernel", "steps": [0, 1]}}
    cfg["experiments"] = [{"name": "game", "shap": game}]
    with pytest.raises(ConfigError, match=r"\(game\)\.shap\.budget: required for method 'kernel' \(shap\.options"):
        from_config(cfg)
    cfg["experiments"] = [{"name": "game", "shap": {**game, "linear": 4, "index": "banzhaf"}}]
    with pytest.raises(ConfigError, match=r"\(game\)\.shap\.index: method 'kernel' \(shap\.options\.estimator\)"):
        from_config(cfg)
    cfg["experiments"] = [
        {"name": "game", "shap": {**game, "options": {"estimator": "msr"}, "linear": 4, "index": "banzhaf"}}
    ]
    (run,) = from_config(cfg).runs.values()
    assert run["explain"]["shap"]["index"] == "banzhaf"


def test_the_update_game_reference_agrees_with_the_path_kernels_component_scores_on_one_step(
    tmp_path, tiny_bert_classifier_path
):
    from shapsweep.compare import row_errors
    from shapsweep.file_schemas import read_shards
    from shapsweep.store import EvaluationStore

    # a small step: the update game's discrete Shapley values and the path kernel's integrated gradients
    # (Aumann-Shapley values) differ by the components' interactions, second order in the step
    cfg = _config(tmp_path, tiny_bert_classifier_path, lr=1e-4)
    one_step = {"steps": [1, 2], "components": "block"}
    cfg["experiments"] = [
        {"name": "pk", "shap": {"method": "path_kernel", "options": {**one_step, "midpoints": 16}}},
        {"name": "game", "reference": True, "shap": {"method": "update_game", "options": one_step}},
        {
            "name": "banzhaf",
            "shap": {
                "method": "update_game",
                "options": one_step,
                "index": "banzhaf",
                "interactions": {"index": "STII", "top_k": 2},
            },
        },
    ]
    config_path = tmp_path / "set.json"
    config_path.write_text(json.dumps(cfg))
    exp = from_config(cfg)
    _trace(exp, config_path)
    by_name = {run["variant"]: run for run in exp.runs.values()}
    assert exp.references[by_name["pk"]["run_id"]] == by_name["game"]["run_id"]
    test_rows = exp.set_dir / "test_rows.parquet"
    pl.DataFrame({"row_id": ["a", "b"], "text": TEXTS[:2]}).write_parquet(test_rows)
    shards = {}
    store = EvaluationStore(tmp_path / "store")
    for name in ("pk", "game", "banzhaf"):  # the Banzhaf run after the exact Shapley one: its store
        out = tmp_path / f"{name}.parquet"
        job = [ShardJob("00000", 0, 2, out)]
        explain_shards(by_name[name], test_rows, job, threads=1, log=io.StringIO(), store=store)
        shards[name] = read_shards([out])
    kernel, game = shards["pk"].row(0, named=True), shards["game"].row(0, named=True)
    assert game["players"] == kernel["components"] and len(game["players"]) >= 4
    assert game["v_empty"] == pytest.approx(kernel["v_empty"], abs=1e-12)
    assert game["v_full"] == pytest.approx(kernel["v_full"], abs=1e-12)
    largest = max(abs(v) for v in game["attribution"])
    assert largest > 0
    assert np.allclose(kernel["component_scores"], game["attribution"], rtol=0, atol=1e-5 * largest)
    errors = row_errors(shards["pk"], shards["game"], top_k=3)  # what compare reports for the pair
    assert errors.height == 2 and errors["rel_l2"].max() < 1e-5
    # the same game's Banzhaf values and pair interactions (shap.index, shap.interactions reach its estimator):
    # one small step is nearly additive, so Banzhaf ~ Shapley, but not to the last digit
    banzhaf = shards["banzhaf"].row(0, named=True)
    assert banzhaf["index"] == "banzhaf" and game["index"] == "shapley"
    every = 2 ** len(game["players"])
    # shap.batch_size (64) coalitions a forward, each with its own parameters (the estimator asks for the
    # empty and full coalitions in a call of their own first)
    assert (game["model_evals"], game["store_hits"]) == (every, 0)
    assert game["forward_passes"] == 1 + -(-(every - 2) // 64)
    assert json.loads(game["estimator_details"])["stacked_coalitions"] is True
    assert (banzhaf["model_evals"], banzhaf["store_hits"], banzhaf["forward_passes"]) == (0, every, 0)
    difference = np.abs(np.subtract(banzhaf["attribution"], game["attribution"])).max()
    assert 0 < difference < 1e-2 * largest
    assert banzhaf["interaction_index"] == "STII" and len(banzhaf["interaction_value"]) == 2
    assert 0 < max(map(abs, banzhaf["interaction_value"])) < 1e-2 * largest  # second order in the step


def test_a_user_recorded_trace_is_explained_like_the_pipelines_own(tmp_path, tiny_bert_classifier_path):
    from shapsweep.commands.trace import training_rows
    from shapsweep.training.train import TrainingOptions, train

    cfg = _config(tmp_path, tiny_bert_classifier_path)
    config_path = tmp_path / "set.json"
    config_path.write_text(json.dumps(cfg))
    exp = from_config(cfg)
    _trace(exp, config_path)
    # the same training, recorded by the user's own call of the loop into a folder of their choosing
    spec = exp.training
    rows = training_rows(exp.set_dir / "data" / spec["data_id"] / "rows.parquet", spec)
    o = spec["options"]
    options = TrainingOptions(
        lr=o["lr"], betas=tuple(o["betas"]), weight_decay=o["weight_decay"], batch_size=o["batch_size"],
        steps=o["steps"], seed=o["seed"],
    )  # fmt: skip
    mine = train(tmp_path / "my_trace", tiny_bert_classifier_path, "hf_classifier", rows, options)
    user = {k: cfg["training"][k] for k in ("dataset", "selection")}
    user_cfg = {**cfg, "training": {"trace": str(mine), **user}, "experiments": cfg["experiments"][:1]}
    user_exp = from_config(user_cfg)
    assert user_exp.training["recorded_by_user"] and user_exp.training["trace_id"] != spec["trace_id"]
    test_rows = exp.set_dir / "test_rows.parquet"
    pl.DataFrame({"row_id": ["a"], "text": TEXTS[:1]}).write_parquet(test_rows)
    out = {}
    for name, run in (("pipeline", next(iter(exp.runs.values()))), ("user", next(iter(user_exp.runs.values())))):
        explain_shards(run, test_rows, [ShardJob("00000", 0, 1, tmp_path / f"{name}.parquet")], log=io.StringIO())
        out[name] = pl.read_parquet(tmp_path / f"{name}.parquet").row(0, named=True)
    assert out["user"]["status"] == "ok" and out["user"]["players"] == out["pipeline"]["players"]
    assert out["user"]["attribution"] == pytest.approx(out["pipeline"]["attribution"], rel=1e-9, abs=1e-15)
    without_rows = {**user_cfg, "training": {"trace": str(mine)}}
    with pytest.raises(ConfigError, match=r"with training\.trace give them too"):
        from_config(without_rows)
