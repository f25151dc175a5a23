"""shap.interactions.full_matrix through real Snakemake: a side file of whole matrices beside each shard,
and compare scoring every pair from them (tiny BERT classifier, exact reference and the default)."""

import json

import numpy as np
import polars as pl
import pytest
from workflow_runs import copy_workflow, run_snakemake

from shapsweep import layout
from shapsweep.file_schemas import INTERACTION_MATRIX_SCHEMA

pytestmark = pytest.mark.slow

TEXTS = ["a slow start and a lovely end", "the cast is warm but the plot is thin", "no"]
SET = """
{
  experiment_set_id: 'pairs',
  dataset: { source: 'json', data_files: 'data.jsonl', split: 'train' },
  shard_size: 2,
  model: { connector: 'hf_classifier', path_or_id: std.extVar('bert'), batch_size: 64, device: 'cpu' },
  value: { kind: 'logit' },
  features: { max_players: 9 },
  shap: { batch_size: 64, interactions: { index: 'k-SII', top_k: 4, full_matrix: true } },
  experiments: [
    { name: 'exact', reference: true, shap: { method: 'exact' } },
    { name: 'default', shap: { budget: 160 } },
  ],
}
"""


@pytest.fixture(scope="module")
def set_dir(tmp_path_factory, tiny_bert_classifier_path):
    wd = copy_workflow(tmp_path_factory.mktemp("pairs_wf"))
    (wd / "set.jsonnet").write_text(SET)
    (wd / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    run_snakemake(wd, config=("experiment=set.jsonnet", f"vars={{bert: '{tiny_bert_classifier_path}'}}"))
    return wd / "results" / "pairs"


def side_files(set_dir, variant):
    shards = sorted((set_dir / "runs").glob(f"{variant}*/shards/[0-9]*[0-9].parquet"))
    assert len(shards) == 2  # three rows in shards of two
    return [(pl.read_parquet(s), pl.read_parquet(layout.interaction_matrix_file(s))) for s in shards]


def test_each_shard_has_a_side_file_of_whole_matrices_whose_top_pairs_are_the_shards(set_dir):
    for variant in ("exact", "default"):
        for shard, side in side_files(set_dir, variant):
            assert side.schema == pl.Schema(INTERACTION_MATRIX_SCHEMA)
            ok = shard.filter(pl.col("status") == "ok")
            assert side["row_id"].to_list() == ok["row_id"].to_list()  # one matrix per explained row
            for row, full in zip(ok.iter_rows(named=True), side.iter_rows(named=True), strict=True):
                n = row["n_players"]
                matrix = np.array(full["matrix"]).reshape(n, n)
                np.testing.assert_array_equal(matrix, matrix.T)
                assert [matrix[i, j] for i, j in zip(row["interaction_i"], row["interaction_j"])] == row[
                    "interaction_value"
                ]
                upper = np.sort(np.abs(matrix[np.triu_indices(n, 1)]))
                kept = np.sort(np.abs(row["interaction_value"]))
                np.testing.assert_array_equal(kept, upper[len(upper) - min(4, len(upper)) :])  # the largest 4
                stderr = np.array(full["stderr"]).reshape(n, n)
                if variant == "exact":
                    assert not stderr.any()
                else:  # the shard's stderr column is the side file's at the kept pairs
                    kept = [stderr[i, j] for i, j in zip(row["interaction_i"], row["interaction_j"])]
                    assert row["interaction_stderr"] == [None if np.isnan(s) else s for s in kept]


def test_compare_scores_every_pair_from_the_side_files(set_dir):
    errors = pl.read_parquet(layout.compare_files(set_dir)["row_errors"])
    assert errors.height == 3
    exact = {r["row_id"]: r for _, side in side_files(set_dir, "exact") for r in side.iter_rows(named=True)}
    default = {r["row_id"]: r for _, side in side_files(set_dir, "default") for r in side.iter_rows(named=True)}
    for err in errors.iter_rows(named=True):
        ref, run = exact[err["row_id"]], default[err["row_id"]]
        n = ref["n_players"]
        if n == 1:  # 'no': one player, no pair to score
            assert err["interaction_rel_l2"] is None
            continue
        upper = np.triu_indices(n, 1)
        a, b = (np.array(r["matrix"]).reshape(n, n)[upper] for r in (run, ref))
        assert err["interaction_rel_l2"] == pytest.approx(np.linalg.norm(a - b) / np.linalg.norm(b))
        se = np.array(run["stderr"]).reshape(n, n)[upper]
        known = np.isfinite(se)
        assert known.any()
        assert err["interaction_coverage"] == pytest.approx(np.mean(np.abs(a - b)[known] <= 1.96 * se[known]))
    runs = pl.read_parquet(layout.compare_files(set_dir)["parquet"])
    assert runs.filter(pl.col("variant") == "default")["ref_interaction_coverage"].item() is not None
