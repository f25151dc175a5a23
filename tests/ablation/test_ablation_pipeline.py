"""Ablation games through real Snakemake with a tiny BERT classifier: each shard row's players are the model's
components (heads; MLP blocks mean-ablated over the first rows of the selection), a sampled run of the heads'
game takes every coalition from the store its exact reference filled, and the report builds with the
heads' interaction pairs on the row pages."""

import json

import numpy as np
import polars as pl
import pytest
from workflow_runs import copy_workflow, run_snakemake

pytestmark = pytest.mark.slow

TEXTS = ["a slow start and a lovely end", "the cast is warm but the plot is thin", "no", "what a film"]
SET = """
{
  experiment_set_id: 'ablation',
  dataset: { source: 'json', data_files: 'data.jsonl', split: 'train' },
  shard_size: 2,
  model: { connector: 'hf_classifier', path_or_id: std.extVar('bert'), batch_size: 64, device: 'cpu' },
  value: { kind: 'logit', target_class: 'positive' },
  features: { max_players: 9 },
  experiments: [
    { name: 'heads', reference: true, shap: { method: 'ablation_game', options: { components: 'head' },
                                              interactions: { index: 'k-SII', top_k: 3 } } },
    { name: 'sampled', shap: { method: 'ablation_game', options: { components: 'head', estimator: 'kernel' },
                               budget: 12 } },
    { name: 'mlps', shap: { method: 'ablation_game', options: { components: 'mlp', ablation: 'mean', reference_rows: 3 } } },
    { name: 'words', shard_size: 4, shap: { method: 'exact' } },
  ],
}
"""


@pytest.fixture(scope="module")
def set_dir(tmp_path_factory, tiny_bert_classifier_path):
    wd = copy_workflow(tmp_path_factory.mktemp("ablation_wf"))
    (wd / "set.jsonnet").write_text(SET)
    (wd / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    run_snakemake(wd, config=("experiment=set.jsonnet", f"vars={{bert: '{tiny_bert_classifier_path}'}}"))
    return wd / "results" / "ablation"


def _shards(set_dir, variant):
    files = sorted((set_dir / "runs").glob(f"{variant}*/shards/[0-9]*[0-9].parquet"))
    # four rows in shards of two (a second shard still ablates over the selection's first rows and reads its
    # reference's store); the input game's run, there only for its v_full, in one shard: one job fewer
    assert len(files) == (1 if variant == "words" else 2)
    return pl.concat([pl.read_parquet(f) for f in files])


def test_each_shard_row_has_the_models_components_as_players_and_adds_up(set_dir):
    layers = [f"bert.encoder.layer.{i}" for i in (0, 1)]
    expected = {"heads": [f"{layer}.head{h}" for layer in layers for h in (0, 1)], "mlps": [f"{x}.mlp" for x in layers]}
    for variant, players in expected.items():
        shard = _shards(set_dir, variant)
        assert shard["status"].to_list() == ["ok"] * 4
        for row in shard.iter_rows(named=True):
            assert row["players"] == players and row["n_players"] == len(players)
            assert row["n_evals"] == 2 ** len(players)
            assert np.sum(row["attribution"]) == pytest.approx(row["v_full"] - row["v_empty"], abs=1e-9)
        assert json.loads(shard["estimator_details"][0])["components"] == {"heads": "head", "mlps": "mlp"}[variant]
    words = _shards(set_dir, "words")
    heads = _shards(set_dir, "heads")
    # the same model's value on the same rows: the ablation game's v(all) is the input game's v(full)
    np.testing.assert_allclose(heads["v_full"].to_numpy(), words["v_full"].to_numpy(), rtol=1e-5, atol=1e-6)
    assert json.loads(_shards(set_dir, "mlps")["estimator_details"][0])["reference_rows"] == 3
    assert (set_dir / "report" / "index.html").exists()


def test_a_sampled_run_takes_every_coalition_from_its_references_store_and_pairs_of_heads_show(set_dir):
    heads, sampled = _shards(set_dir, "heads"), _shards(set_dir, "sampled")
    assert heads["model_evals"].to_list() == [16] * 4 and heads["store_hits"].to_list() == [0] * 4
    # explained after its exact reference's shards (store_first): the model computes nothing again
    assert sampled["n_evals"].to_list() == sampled["budget"].to_list() == [12] * 4
    assert sampled["store_hits"].to_list() == [12] * 4 and sampled["model_evals"].to_list() == [0] * 4
    assert sampled["forward_passes"].to_list() == [0] * 4
    for row in heads.iter_rows(named=True):  # the exact run's pairs of heads (shap.interactions)
        assert row["interaction_index"] == "k-SII" and len(row["interaction_value"]) == 3
        assert all(0 <= i < j < 4 for i, j in zip(row["interaction_i"], row["interaction_j"]))
    run_id = heads["run_id"][0]
    page = sorted((set_dir / "report" / "rows").glob("*.html"))[0].read_text()
    assert run_id in page and "k-SII" in page  # the row page's interaction block for the heads' pairs
