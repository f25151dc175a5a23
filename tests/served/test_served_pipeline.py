"""The served example (config/examples/served.jsonnet) end to end through real Snakemake against llama.cpp's
real server, which demands an API key: the key reaches the server from the variable named by api_key_env,
and its value is written to no file of the results, the Snakemake logs or the W&B offline runs."""

from __future__ import annotations

import os
import shutil

import polars as pl
import pytest
from llama_server import LlamaServer
from workflow_runs import REPO, copy_workflow, run_snakemake

pytestmark = pytest.mark.slow

EXAMPLE = "config/examples/served.jsonnet"
DATA = "config/data/served.jsonl"
KEY_ENV = "SHAPSWEEP_SERVED_API_KEY"  # the variable the example names
KEY = "sk-test-5f3a9c1e7d2b4086"


def _set_file(server, tokenizer_path) -> str:
    """The example, pointed at the test server and kept small: 3 rows of at most 8 players in one shard (every
    explain job loads the tokenizer and checks the server), exact and one budget."""
    return f"""
local ss = import 'shapsweep.libsonnet';
local example = import '{EXAMPLE}';
example {{
  model+: {{
    base_url: '{server.base_url}', model: '{server.alias}', path_or_id: '{tokenizer_path}',
    concurrency: 2, max_retries: 1, request_options: {{ repeat_penalty: 1.0, top_k: 0 }},
  }},
  selection: {{ max_samples: 3 }},
  shard_size: 3,
  features+: {{ max_players: 8 }},
  experiments: [ss.exact(), ss.method('regression_adjusted', [16])],
  wandb: {{ enabled: true, mode: 'offline' }},
}}
"""


@pytest.fixture(scope="module")
def keyed_server(tiny_llama_gguf, tmp_path_factory):
    server = LlamaServer(tiny_llama_gguf, tmp_path_factory.mktemp("keyed") / "server.log", api_key=KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def workflow(keyed_server, served_llama_path, tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("served_wf"))
    for name in (EXAMPLE, DATA):
        (wd / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, wd / name)
    (wd / "set.jsonnet").write_text(_set_file(keyed_server, served_llama_path))
    run_snakemake(wd, env={**os.environ, KEY_ENV: KEY})
    return wd


def test_the_server_refuses_requests_without_the_key(keyed_server):
    import httpx

    assert httpx.get(f"{keyed_server.base_url}/v1/models", timeout=5).status_code == 401
    headers = {"Authorization": f"Bearer {KEY}"}
    assert httpx.get(f"{keyed_server.base_url}/v1/models", headers=headers, timeout=5).status_code == 200


def _shards(wd, prefix):
    runs = wd / "results" / "served" / "runs"
    return pl.concat([pl.read_parquet(p) for p in sorted(runs.glob(f"{prefix}*/shards/*.parquet"))]).sort("row_id")


def test_every_row_is_explained_through_the_keyed_server_as_in_process(workflow, served_llama_path):
    from shapsweep.estimators import estimate
    from shapsweep.models import load_model

    exact, sampled = _shards(workflow, "exact-"), _shards(workflow, "regression-adjusted")
    for shards in (exact, sampled):
        assert shards["row_id"].to_list() == ["q00", "q01", "q02"]
        assert shards["status"].to_list() == ["ok"] * 3
    assert exact["v_full"].to_list() == pytest.approx(sampled["v_full"].to_list(), abs=1e-6)
    # the same weights in process, with the example's system prompt and players
    local = load_model(
        {
            "connector": "hf_causal_lm",
            "path_or_id": served_llama_path,
            "system_prompt": "Answer in one short sentence.",
        },
        {"granularity": "word", "max_players": 8},
        {"kind": "logprob", "response": "reference"},
    )
    rows = {r["id"]: r for r in pl.read_ndjson(REPO / DATA).iter_rows(named=True)}
    for r in exact.iter_rows(named=True):
        source = rows[r["row_id"]]
        game = local.game({"row_id": r["row_id"], "text": source["question"], "reference": source["answer"]})
        assert r["players"] == game.players
        phi = estimate(game, game.n_players, method="exact").values
        assert r["attribution"] == pytest.approx(list(phi), abs=2e-3)  # the served-vs-in-process tolerance
        assert max(map(abs, phi)) > 1e-2


def test_the_key_is_written_nowhere(workflow):
    folders = [workflow / "results", workflow / ".snakemake"]
    wandb_runs = list((workflow / "results" / "served").glob("wandb/offline-run-*"))
    assert wandb_runs  # W&B tracked the runs offline, so the check below covers them
    checked = 0
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), f"the API key is written in {path}"
                checked += 1
    assert checked > 20


BLOCK_ROWS = [  # one row per shard, ten shards: one block of shards_per_job 10; "zebra" rows get 503s
    ("r0", "Who wrote this?", " Me."),
    ("r1", "A zebra ran.", " Fast."),
    ("r2", "Name a colour.", " Blue."),
    ("r3", "Is zebra striped?", " Yes."),
    ("r4", "Count to two.", " One two."),
    ("r5", "Where is Paris?", " France."),
    ("r6", "What is rain?", " Water."),
    ("r7", "Zebra or horse?", " Zebra."),
    ("r8", "Say hello.", " Hello."),
    ("r9", "Pick a number.", " Seven."),
]


def test_a_blocks_finished_shards_survive_a_served_failure_and_are_not_recomputed(
    keyed_server, served_llama_path, tmp_path
):
    import json

    from fault_proxy import FaultProxy

    wd = copy_workflow(tmp_path)
    (wd / "rows.jsonl").write_text("".join(json.dumps({"id": i, "q": q, "a": a}) + "\n" for i, q, a in BLOCK_ROWS))
    env = {**os.environ, KEY_ENV: KEY}
    with FaultProxy(keyed_server.base_url, keyed_server.alias) as proxy:
        (wd / "set.jsonnet").write_text(f"""
local ss = import 'shapsweep.libsonnet';
{{
  experiment_set_id: 'blocks',
  dataset: ss.localFile('rows.jsonl', text='q', columns={{ row_id: 'id', reference: 'a' }}),
  model: ss.served('{proxy.base_url}', '{proxy.alias}', '{served_llama_path}', api_key_env='{KEY_ENV}') {{
    concurrency: 2, max_retries: 1, request_options: {{ repeat_penalty: 1.0, top_k: 0 }},
  }},
  value: {{ kind: 'logprob', response: 'reference' }},
  features: {{ max_players: 4 }},
  shard_size: 1,
  shards_per_job: 10,
  experiments: [ss.exact()],
}}
""")
        proxy.refuse_if = lambda body: b"zebra" in body.lower()
        failed = run_snakemake(wd, env=env, check=False)
        assert failed.returncode != 0
        shards = next((wd / "results" / "blocks" / "runs").glob("exact-*")) / "shards"
        assert not list(shards.glob("[0-9]*.parquet"))  # Snakemake deleted the failed block's outputs
        # the zebra shards wait as partial files, the seven others as finished links (explain.py)
        partials = pl.concat([pl.read_parquet(p) for p in shards.glob(".*.partial.parquet")])
        kept = pl.concat([pl.read_parquet(p) for p in shards.glob(".*.finished.parquet")])
        zebra = {"r1", "r3", "r7"}
        assert sorted(partials["row_id"]) == sorted(zebra), failed.stderr[-3000:]
        assert partials["status"].to_list() == ["server_error"] * 3
        assert len(kept) == 7 and kept["status"].to_list() == ["ok"] * 7

        proxy.refuse_if, proxy.bodies = None, []
        run_snakemake(wd, env=env)
        explained = [json.loads(b)["prompt"] for b in proxy.bodies]
    done = pl.concat([pl.read_parquet(p) for p in sorted(shards.glob("[0-9]*.parquet"))])
    assert done["status"].to_list() == ["ok"] * 10
    assert not list(shards.glob(".*.partial.parquet")) and not list(shards.glob(".*.finished.parquet"))
    # the seven finished rows are the kept ones, not recomputed; only zebra rows went to the server
    again = done.join(kept.select("row_id", "runtime_s"), on="row_id", suffix="_kept")
    assert len(again) == 7 and again["runtime_s"].to_list() == again["runtime_s_kept"].to_list()
    # (a prompt ends with its row's reference reply; "Hello" is the load-time logprob check)
    zebra_replies = tuple(a for i, _, a in BLOCK_ROWS if i in zebra)
    assert explained and all(p.endswith(zebra_replies) or "Hello" in p for p in explained)
    assert sum(p.endswith(zebra_replies) for p in explained) >= 3
