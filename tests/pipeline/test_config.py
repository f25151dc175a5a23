"""Experiment sets: schema errors that name the path, sweep expansion, run ids, duplicates."""

import json

import pytest

from shapsweep.config import ConfigError, load_experiment_set
from shapsweep.config.experiment_set import from_config


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"text": f"sentence number {i} here"}) + "\n" for i in range(10)))
    return str(path)


@pytest.fixture
def base(data_file):
    return {
        "experiment_set_id": "t",
        "dataset": {"source": "json", "data_files": data_file},
        "selection": {"max_samples": 6},
        "shard_size": 4,
        "features": {"max_players": 8},
        "experiments": [
            {"name": "exact", "reference": True, "shap": {"method": "exact"}},
            {"name": "kernel", "shap": {"method": "kernel"}, "grid": {"shap.budget": [16, 32]}},
        ],
    }


def error_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        from_config(cfg)
    return str(info.value)


def test_budget_error_names_the_variant_path(base):
    base["experiments"][1]["shap"]["budget"] = 0
    assert "experiments[1].shap.budget: must be a positive integer" in error_of(base)


def test_unknown_field_and_wrong_type(base):
    base["shap"] = {"methd": "kernel"}
    assert "shap.methd: unknown field" in error_of(base)
    del base["shap"]
    base["shard_size"] = "big"
    assert "shard_size: must be a positive integer" in error_of(base)


def test_swept_bad_value_is_reported_against_its_variant(base):
    base["experiments"][1]["grid"]["shap.budget"] = [16, -1]
    message = error_of(base)
    assert "experiments[1] (kernel" in message and "shap.budget" in message


def test_exact_over_its_player_limit_fails_fast(base):
    base["features"]["max_players"] = 40
    message = error_of(base)
    assert "experiments[0]" in message and "features.max_players" in message and "exact" in message


def test_model_layer_checks_fail_at_parse_time_against_the_variant(base):
    # The model layer's own field checks, before any job loads a model.
    base["experiments"][1]["value"] = {"kind": "logprob"}  # a causal-LM value on a sentence embedder
    message = error_of(base)
    assert "experiments[1] (kernel" in message and "value.kind: 'logprob' is not one of" in message
    del base["experiments"][1]["value"]
    base["model"] = {"system_prompt": "Be brief."}
    assert "model.system_prompt: only the hf_causal_lm, hf_multimodal_lm, openai_compatible connectors" in error_of(
        base
    )


def test_unknown_method_and_missing_budget(base):
    base["experiments"][1]["shap"]["method"] = "kernal"
    assert 'experiments[1].shap.method: must be one of "exact", "kernel"' in error_of(base)
    base["experiments"][1] = {"name": "perm", "shap": {"method": "permutation"}}
    assert "experiments[1] (perm).shap.budget: required" in error_of(base)


def test_grid_zip_and_group_expand_to_the_product(base):
    base["experiments"] = [
        {
            "name": "s",
            "shap": {"method": "kernel"},
            "grid": {"shap.budget": [16, 32], "shap.seed": [0, 1, 2]},
            "zip": {"model.batch_size": [8, 16], "shap.batch_size": [8, 16]},
            "group": [
                {"shap": {"method": "permutation"}},
                {"shap": {"method": "kernel"}, "grid": {"shap.normalizer": ["abs_sum", "identity"]}},
            ],
        }
    ]
    exp = from_config(base)
    assert len(exp.runs) == 2 * 3 * 2 * (1 + 2)
    params = [r["params"] for r in exp.runs.values()]
    assert {p["shap.method"] for p in params} == {"permutation", "kernel"}
    assert all(p["model.batch_size"] == p["shap.batch_size"] for p in params)
    kernel = [r for r in exp.runs.values() if r["params"]["shap.method"] == "kernel"]
    assert {r["explain"]["shap"]["normalizer"] for r in kernel} == {"abs_sum", "identity"}


def test_zip_lists_must_match(base):
    base["experiments"][1]["zip"] = {"shap.seed": [0, 1], "shap.batch_size": [8]}
    assert "experiments[1].zip: lists must have the same length" in error_of(base)


def test_duplicate_runs_are_reported_and_kept_once(base):
    base["experiments"].append({"name": "kernel", "shap": {"method": "kernel", "budget": 16}})
    exp = from_config(base)
    assert len(exp.runs) == 3
    assert len(exp.duplicates) == 1 and "experiments[2]" in exp.duplicates[0]


def test_run_id_hashes_numbers_not_max_samples_or_resources(base):
    ids = set(from_config(base).runs)
    base["selection"]["max_samples"] = 9
    base["resources"] = {"mem_mb": 123, "gpu": 1}
    base["wandb"] = {"enabled": True}
    base["report"] = {"max_rows": 3}
    assert set(from_config(base).runs) == ids
    base["selection"]["shuffle_seed"] = 1
    assert set(from_config(base).runs).isdisjoint(ids)


def test_run_id_changes_only_for_the_edited_variant(base):
    before = from_config(base).runs
    base["experiments"][1]["grid"]["shap.budget"] = [16, 48]
    after = from_config(base).runs
    changed = {spec["slug"] for spec in before.values()} ^ {spec["slug"] for spec in after.values()}
    assert changed == {"kernel_budget-32", "kernel_budget-48"}
    assert set(before) & set(after) == {r for r, spec in before.items() if spec["slug"] != "kernel_budget-32"}


def test_reference_pairs_runs_on_the_same_data_and_model(base):
    exp = from_config(base)
    ref = next(r for r, spec in exp.runs.items() if spec["reference"])
    assert [exp.references[r] for r in exp.runs if r != ref] == [ref, ref]
    assert exp.references[ref] is None


def test_a_reference_is_one_of_the_same_estimand(base):
    """Banzhaf runs (msr; mc by its own index) are scored against exact Banzhaf values, Shapley runs against
    exact Shapley values; with no reference of its estimand a run has none."""
    base["experiments"] += [
        {"name": "exact-banzhaf", "reference": True, "shap": {"method": "exact", "index": "banzhaf"}},
        {"name": "msr", "shap": {"method": "msr", "budget": 16}},
        {"name": "mc", "shap": {"method": "mc", "budget": 16}},
    ]
    exp = from_config(base)
    by_slug = {spec["slug"]: run_id for run_id, spec in exp.runs.items()}
    refs = {slug: exp.references[run_id] for slug, run_id in by_slug.items()}
    assert refs["kernel_budget-16"] == refs["kernel_budget-32"] == by_slug["exact"]
    assert refs["msr"] == refs["mc"] == by_slug["exact-banzhaf"]
    del base["experiments"][2]
    exp = from_config(base)
    assert {exp.references[r] for r, spec in exp.runs.items() if spec["slug"] in ("msr", "mc")} == {None}


def test_jsonnet_with_library_and_ext_vars(tmp_path, data_file):
    path = tmp_path / "set.jsonnet"
    path.write_text(f"""
local ss = import 'shapsweep.libsonnet';
{{
  experiment_set_id: 'lib',
  dataset: ss.localFile('{data_file}'),
  selection: {{ max_samples: 5 }},
  features: {{ max_players: 8 }},
  experiments: [ss.exact(), ss.method('kernel', [std.extVar('budget')])],
}}""")
    exp = load_experiment_set(path, ext_vars={"budget": 24})
    assert sorted(r["slug"] for r in exp.runs.values()) == ["exact", "kernel_budget-24"]
    assert exp.shard_plan(next(iter(exp.runs))).n_rows == 5


def test_config_json_round_trip_gives_the_same_runs(tmp_path, base):
    exp = from_config(base)
    again = from_config(json.loads(json.dumps(exp.config)))
    assert list(again.runs) == list(exp.runs)


def test_jsonnet_error_names_the_file(tmp_path):
    path = tmp_path / "bad.jsonnet"
    path.write_text("{ experiment_set_id: 'x', ")
    with pytest.raises(ConfigError, match=r"bad\.jsonnet: Jsonnet error"):
        load_experiment_set(path)


def test_snakemake_config_values_get_their_types_back():
    from shapsweep.config.overrides import split_snakemake_config

    experiments, ext_vars, overrides = split_snakemake_config(
        {
            "experiment": "x.jsonnet",
            "vars": {"budget": "64", "name": "kernel", "on": "true"},
            "selection": {"max_samples": "8", "shuffle_seed": "null"},
            "shard_size": 4,
        }
    )
    assert experiments == ["x.jsonnet"]
    assert ext_vars == {"budget": 64, "name": "kernel", "on": True}
    assert overrides == {"selection": {"max_samples": 8, "shuffle_seed": None}, "shard_size": 4}


def test_runs_sharing_data_with_different_max_samples(base):
    base["experiments"][1]["selection"] = {"max_samples": 9}
    exp = from_config(base)
    exact, kernel = next(iter(exp.runs)), list(exp.runs)[1]
    assert exp.runs[exact]["data_id"] == exp.runs[kernel]["data_id"]
    assert exp.shard_plan(exact).n_rows == 6 and exp.shard_plan(kernel).n_rows == 9
    assert exp.data_selection(exp.runs[exact]["data_id"])[1]["max_samples"] is None


def test_a_misspelt_value_field_is_named_where_it_was_written(base):
    # Issue 15.4: a typo in the top-level block was blamed on the first variant's sweep point.
    base["value"] = {"kind": "similarity", "target": "reference", "refrence": "a query"}
    message = error_of(base)
    assert message.startswith("value.refrence: unknown field"), message
    assert "experiments[" not in message
    del base["value"]
    base["experiments"][1]["value"] = {"refrence": "a query"}
    assert error_of(base).startswith("experiments[1].value.refrence: unknown field")


def test_value_fields_of_another_kind_are_refused_by_the_schema(base):
    base["value"] = {"kind": "similarity", "target_class": 1}
    assert error_of(base).startswith("value.target_class: unknown field (allowed here: kind, reference, similarity")


def test_a_sweep_point_is_named_by_its_dotted_values_never_a_python_dict(base):
    base["experiments"][0]["grid"] = {"features.max_players": [8, 30]}
    message = error_of(base)
    assert "experiments[0] (exact, features.max_players=30).features.max_players: 30 players" in message
    assert "{" not in message


def test_a_top_level_model_problem_is_the_top_levels(base):
    base["model"] = {"system_prompt": "Be brief."}
    assert error_of(base).startswith(
        "model.system_prompt: only the hf_causal_lm, hf_multimodal_lm, openai_compatible connectors"
    )


def test_a_missing_experiment_file_names_the_folder_it_was_looked_for_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_experiment_set("r1.jsonnet")
    assert f"'r1.jsonnet': no such experiment-set file (relative paths are read from {tmp_path})" in str(info.value)
    assert "--config" not in str(info.value)  # Snakemake's syntax, not the CLI's


def test_index_and_method_must_agree(base):
    base["experiments"][1]["shap"]["index"] = "banzhaf"
    message = error_of(base)
    assert "experiments[1]" in message and "shap.index" in message and "shap.method" in message
    assert "method 'kernel' (shap.method) estimates shapley values, not banzhaf" in message
    assert "exact, mc, msr" in message
    base["experiments"][1]["shap"] = {"method": "msr", "index": "shapley", "budget": 16}
    assert "method 'msr' (shap.method) estimates banzhaf values, not shapley" in error_of(base)
    base["experiments"][1]["shap"] = {"method": "msr", "index": "banzhaf", "budget": 16}
    base["experiments"][0]["shap"]["index"] = "banzhaf"
    runs = from_config(base).runs.values()
    assert {r["explain"]["shap"].get("index") for r in runs} == {"banzhaf"}


def test_interactions_block_is_filled_and_checked(base):
    base["experiments"][1]["shap"]["interactions"] = {"index": "FSII"}
    runs = [r for r in from_config(base).runs.values() if r["explain"]["shap"]["method"] == "kernel"]
    assert runs[0]["explain"]["shap"]["interactions"] == {"index": "FSII", "order": 2, "top_k": 5}
    base["experiments"][1]["shap"]["interactions"] = {"index": "SII"}
    assert "experiments[1].shap.interactions.index" in error_of(base)
    base["experiments"][1]["shap"]["interactions"] = {"order": 3}
    assert "experiments[1].shap.interactions.order" in error_of(base)
