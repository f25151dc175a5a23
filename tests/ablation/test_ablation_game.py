"""The ablation game over a connector's own model (tiny BERT classifier, tiny Llama): v(all) is the model's
value bit for bit, exact Shapley values add up to v(all) - v(empty), mean ablation over the row itself is
the identity, a run's shard names its components; bad options are refused by field name."""

import io
import json
import math

import numpy as np
import polars as pl
import pytest
import torch
from tiny_models import build_tiny_llama

from shapsweep.config.experiment_set import from_config
from shapsweep.errors import ConfigError
from shapsweep.estimators import estimate
from shapsweep.explain import ShardJob, explain_shards
from shapsweep.models import load_model
from shapsweep.models.ablation import ComponentAblation
from shapsweep.models.full_input_value import full_input_values
from shapsweep.row_explainers.ablation_game import AblationGame, record_reference_means

TEXT = "I loved this film, it was wonderful and the actors were great!"
OTHER = "The weather today is sunny with a light breeze from the west."


@pytest.fixture(scope="module")
def bert(tiny_bert_classifier_path):
    return load_model({"connector": "hf_classifier", "path_or_id": tiny_bert_classifier_path}, {}, {"kind": "logit"})


@pytest.fixture(scope="module")
def gpt2(tiny_gpt2_path):
    model = {"connector": "hf_causal_lm", "path_or_id": tiny_gpt2_path, "max_new_tokens": 4}
    return load_model(model, {}, {"kind": "logprob"})


@pytest.fixture(scope="module")
def llama(tiny_llama_path):
    model = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "max_new_tokens": 4}
    return load_model(model, {}, {"kind": "logprob"})


@pytest.mark.parametrize("name", ["bert", "llama", "gpt2"])
def test_v_all_is_the_models_own_value_and_exact_shapley_values_add_up(name, request):
    connector = request.getfixturevalue(name)
    target = connector.game({"row_id": "a", "text": TEXT})
    game = AblationGame(ComponentAblation(connector.model, "head"), connector, target, batch_size=64)
    layers, heads = {"bert": ("bert.encoder.layer", 2), "llama": ("model.layers", 4), "gpt2": ("transformer.h", 2)}[
        name
    ]
    assert game.players == [f"{layers}.{i}.head{h}" for i in (0, 1) for h in range(heads)]
    with torch.no_grad():
        unhooked = float(full_input_values(connector, connector.model, target)[0])
    everyone = np.ones((1, game.n_players), dtype=bool)
    assert game(everyone)[0] == unhooked  # bit for bit: no hook changes a value while nothing is ablated
    # ... and it is the connector's own full-input value (its batching and caching path)
    assert unhooked == pytest.approx(target(np.ones((1, target.n_players), dtype=bool))[0], rel=1e-5, abs=1e-6)
    result = estimate(game, game.n_players, method="exact", batch_size=64)
    assert result.v_full == pytest.approx(unhooked, rel=1e-6, abs=1e-7)
    change = result.v_full - result.v_empty
    assert abs(change) > 1e-6  # ablating every head moves the value (float32 noise is ~1e-8 here)
    assert float(np.sum(result.values)) == pytest.approx(change, rel=1e-9, abs=1e-12)
    assert game.forward_passes < 2**game.n_players / 4  # coalitions go in batches


@pytest.mark.parametrize(("name", "components"), [("bert", "head"), ("llama", "mlp"), ("llama", "block")])
def test_mean_ablation_over_the_row_itself_leaves_every_coalitions_value_unchanged(name, components, request):
    connector = request.getfixturevalue(name)
    target = connector.game({"row_id": "a", "text": TEXT})
    ablation = ComponentAblation(connector.model, components, "mean")
    record_reference_means(ablation, connector, [target])
    game = AblationGame(ablation, connector, target)
    coalitions = np.array([[0] * game.n_players, [1, 0] * (game.n_players // 2), [1] * game.n_players], dtype=bool)
    values = game(coalitions)
    np.testing.assert_allclose(values, values[-1], rtol=1e-6, atol=1e-6)
    # another row as the reference does move it
    elsewhere = ComponentAblation(connector.model, components, "mean")
    record_reference_means(elsewhere, connector, [connector.game({"row_id": "b", "text": OTHER})])
    moved = AblationGame(elsewhere, connector, target)(coalitions[:1])
    assert abs(moved[0] - values[-1]) > 1e-6


def _config(tmp_path, model_path, options=None, **shap):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in (TEXT, OTHER, "no")))
    return {
        "experiment_set_id": "ablation",
        "output_root": str(tmp_path / "results"),
        "dataset": {"source": "json", "data_files": str(data)},
        "model": {"connector": "hf_classifier", "path_or_id": model_path, "batch_size": 8},
        "value": {"kind": "logit"},
        "features": {"max_players": 16},
        "experiments": [
            {"name": "heads", "shap": {"method": "ablation_game", "options": options or {}, **shap}},
            {"name": "exact", "reference": True, "shap": {"method": "exact"}},
        ],
    }


def test_a_run_fills_its_options_and_is_compared_with_no_input_shapley_reference(tmp_path, tiny_bert_classifier_path):
    exp = from_config(_config(tmp_path, tiny_bert_classifier_path))
    runs = {run["variant"]: run for run in exp.runs.values()}
    options = runs["heads"]["explain"]["shap"]["options"]
    assert options == {"components": "head", "ablation": "zero", "reference_rows": 8, "estimator": "exact"}
    assert exp.references[runs["heads"]["run_id"]] is None  # its players are components, not words


@pytest.mark.parametrize(
    ("options", "shap", "message"),
    [
        ({"components": "heads"}, {}, r"experiments\[0\] \(heads\)\.shap\.options\.components"),
        ({"ablation": "median"}, {}, r"experiments\[0\] \(heads\)\.shap\.options\.ablation"),
        ({"layers": [0]}, {}, r"experiments\[0\] \(heads\)\.shap\.options.*layers"),
        ({"reference_rows": 0}, {}, r"experiments\[0\] \(heads\)\.shap\.options\.reference_rows"),
        (
            {"estimator": "kernel"},
            {},
            r"\(heads\)\.shap\.budget: required for method 'kernel' \(shap\.options\.estimator\)",
        ),
        (
            {"estimator": "kernel"},
            {"budget": 32, "index": "banzhaf"},
            r"\(heads\)\.shap\.index: method 'kernel' \(shap\.options\.estimator\) estimates shapley values, not banzhaf",
        ),
        ({}, {"target_stderr": 0.01}, r"\(heads\)\.shap\.target_stderr: method 'exact' \(shap\.options\.estimator\)"),
        ({"estimator": "kernel"}, {"budget": 32, "linear": 4}, r"\(heads\)\.shap: give one budget knob"),
    ],
)
def test_bad_options_are_refused_by_field_name(tmp_path, tiny_bert_classifier_path, options, shap, message):
    with pytest.raises(ConfigError, match=message):
        from_config(_config(tmp_path, tiny_bert_classifier_path, options, **shap))


def test_a_generated_value_and_a_model_over_exacts_limit_are_refused_by_field_name(tmp_path, tiny_llama_path):
    from shapsweep.row_explainers import open_row_explainer

    cfg = _config(tmp_path, tiny_llama_path)
    cfg["model"] = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "max_new_tokens": 4}
    cfg["value"] = {"kind": "generate_similarity"}
    with pytest.raises(ConfigError, match=r"\(heads\)\.value\.kind: 'generate_similarity' is generated"):
        from_config(cfg)
    six_layers = build_tiny_llama(tmp_path / "six", num_layers=6)  # 24 heads
    cfg["model"]["path_or_id"] = six_layers
    cfg["value"] = {"kind": "logprob"}
    run = next(r for r in from_config(cfg).runs.values() if r["variant"] == "heads")
    with pytest.raises(ConfigError, match=r"\(heads\)\.shap\.options\.components: 'head' gives 24 components"):
        open_row_explainer(run)


def test_a_mean_ablation_shard_takes_its_reference_rows_from_the_rows_file(tmp_path, tiny_llama_path):
    """reference_rows: 1 with the explained row first in the rows file: every coalition keeps the value."""
    cfg = _config(tmp_path, tiny_llama_path, {"components": "block", "ablation": "mean", "reference_rows": 1})
    cfg["model"] = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "max_new_tokens": 4}
    cfg["value"] = {"kind": "logprob"}
    run = next(r for r in from_config(cfg).runs.values() if r["variant"] == "heads")
    rows = tmp_path / "rows.parquet"
    pl.DataFrame({"row_id": ["a", "b"], "text": [TEXT, OTHER]}).write_parquet(rows)
    run["explain"]["features"]["max_players"] = 2  # the rows' words are not this game's players
    out = tmp_path / "shard.parquet"
    explain_shards(run, rows, [ShardJob("00000", 0, 2, out)], threads=1, log=io.StringIO())
    shard = pl.read_parquet(out)
    assert shard["status"].to_list() == ["ok", "ok"]
    first, second = shard.row(0, named=True), shard.row(1, named=True)
    assert first["players"] == ["model.layers.0", "model.layers.1"]
    assert json.loads(first["estimator_details"])["reference_rows"] == 1
    assert first["v_empty"] == pytest.approx(first["v_full"], abs=1e-5)  # its own means: nothing moves
    assert abs(second["v_empty"] - second["v_full"]) > 1e-3  # the first row's means move the second's value
    assert sum(second["attribution"]) == pytest.approx(second["v_full"] - second["v_empty"], abs=1e-9)


def test_the_training_example_has_an_ablation_run_over_its_models_layers(
    tmp_path, monkeypatch, tiny_bert_classifier_path
):
    from pathlib import Path

    from shapsweep.config import load_experiment_set
    from shapsweep.row_explainers.ablation_game import AblationGameRows

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)  # the example's data_files are relative to the repository root
    local = {"path_or_id": tiny_bert_classifier_path}
    example = str(repo / "config/examples/training_attribution.jsonnet")
    exp = load_experiment_set(example, overrides={"model": local, "training": {"model": local}})
    (run,) = [r for r in exp.runs.values() if r["variant"] == "ablation"]
    assert "trace" not in run  # the model as it is
    rows = tmp_path / "rows.parquet"
    pl.DataFrame({"row_id": ["a", "b", "c"], "text": [TEXT, OTHER, "no"]}).write_parquet(rows)
    (record,) = AblationGameRows(run, rows).explain([{"row_id": "b", "text": OTHER}])
    assert record["status"] == "ok"
    assert record["players"] == ["bert.encoder.layer.0", "bert.encoder.layer.1"]
    assert json.loads(record["estimator_details"])["reference_rows"] == 3  # all the rows file has


def test_an_ablation_run_gives_banzhaf_values_and_interactions_of_its_components(tmp_path, tiny_llama_path):
    """shap.index and shap.interactions reach the ablation game's estimator: exact Banzhaf values and exact
    pairwise Shapley-Taylor interactions of tiny Llama's 8 heads, against sums written out from all 2^8 values."""
    cfg = _config(tmp_path, tiny_llama_path, index="banzhaf", interactions={"index": "STII", "top_k": 3})
    cfg["model"] = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "max_new_tokens": 4}
    cfg["value"] = {"kind": "logprob"}
    run = next(r for r in from_config(cfg).runs.values() if r["variant"] == "heads")
    rows = tmp_path / "rows.parquet"
    pl.DataFrame({"row_id": ["a"], "text": [TEXT]}).write_parquet(rows)
    out = tmp_path / "shard.parquet"
    explain_shards(run, rows, [ShardJob("00000", 0, 1, out)], threads=1, log=io.StringIO())
    record = pl.read_parquet(out).row(0, named=True)
    assert record["status"] == "ok" and record["index"] == "banzhaf"

    connector = load_model(cfg["model"], {}, {"kind": "logprob"})
    target = connector.game({"row_id": "a", "text": TEXT})
    game = AblationGame(ComponentAblation(connector.model, "head"), connector, target)
    n = game.n_players
    masks = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)
    v = game(masks)
    banzhaf = [np.mean(v[masks[:, i]]) - np.mean(v[~masks[:, i]]) for i in range(n)]
    assert max(map(abs, banzhaf)) > 1e-2
    np.testing.assert_allclose(record["attribution"], banzhaf, rtol=1e-4, atol=1e-5)
    assert not np.allclose(record["attribution"], estimate(game, n, method="exact").values, atol=1e-4)

    # order-2 Shapley-Taylor (the top order): (2 / n) sum over S without i, j of the pair's discrete
    # derivative v(S+ij) - v(S+i) - v(S+j) + v(S), weighted 1 / C(n - 1, |S|)
    def stii(i, j):
        total = 0.0
        for s in range(2**n):
            if s >> i & 1 or s >> j & 1:
                continue
            derivative = v[s | 1 << i | 1 << j] - v[s | 1 << i] - v[s | 1 << j] + v[s]
            total += derivative / math.comb(n - 1, bin(s).count("1"))
        return 2 / n * total

    exact_pairs = {(i, j): stii(i, j) for i in range(n) for j in range(i + 1, n)}
    strongest = sorted(exact_pairs, key=lambda pair: -abs(exact_pairs[pair]))[:3]
    assert abs(exact_pairs[strongest[0]]) > 1e-2  # heads do interact: the check below can fail
    assert record["interaction_index"] == "STII"
    assert list(zip(record["interaction_i"], record["interaction_j"])) == strongest
    np.testing.assert_allclose(record["interaction_value"], [exact_pairs[p] for p in strongest], rtol=1e-4, atol=1e-5)


def test_a_second_ablation_run_takes_the_first_runs_coalitions_from_the_store(tmp_path, tiny_llama_path):
    """Two runs of one ablation game (exact, then kernel sampling): the second asks the model for nothing the
    first computed, and its values are those it computes without the store. Another ablation is another game."""
    from shapsweep.store import EvaluationStore

    cfg = _config(tmp_path, tiny_llama_path, {"components": "head", "estimator": "exact"})
    cfg["model"] = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "max_new_tokens": 4}
    cfg["value"] = {"kind": "logprob"}
    cfg["experiments"] += [
        {"name": "kernel", "shap": {"method": "ablation_game", "budget": 40, "options": {"estimator": "kernel"}}},
        {"name": "mean", "shap": {"method": "ablation_game", "options": {"ablation": "mean", "reference_rows": 2}}},
    ]
    runs = {r["variant"]: r for r in from_config(cfg).runs.values()}
    rows = tmp_path / "rows.parquet"
    pl.DataFrame({"row_id": ["a", "b"], "text": [TEXT, OTHER]}).write_parquet(rows)
    store = EvaluationStore(tmp_path / "store")

    def shard(variant, with_store=True, name=None):
        out = tmp_path / f"{name or variant}.parquet"
        job = [ShardJob("00000", 0, 2, out)]
        explain_shards(runs[variant], rows, job, threads=1, log=io.StringIO(), store=store if with_store else None)
        return pl.read_parquet(out)

    exact = shard("heads")
    assert exact["store_hits"].to_list() == [0, 0] and exact["model_evals"].to_list() == [2**8, 2**8]
    kernel = shard("kernel")
    assert kernel["store_hits"].to_list() == kernel["n_evals"].to_list() == [40, 40]
    assert kernel["model_evals"].to_list() == [0, 0] and kernel["forward_passes"].to_list() == [0, 0]
    alone = shard("kernel", with_store=False, name="alone")
    assert alone["store_hits"].to_list() == [0, 0] and alone["model_evals"].to_list() == [40, 40]
    for with_store, without in zip(kernel["attribution"].to_list(), alone["attribution"].to_list()):
        np.testing.assert_allclose(with_store, without, rtol=1e-5, atol=1e-6)
    mean = shard("mean")  # the same heads, mean-ablated: none of the zero ablation's values apply
    assert mean["store_hits"].to_list() == [0, 0] and mean["model_evals"].to_list() == [2**8, 2**8]
