"""Retries against real fault answers: a loopback proxy in front of llama.cpp's server answers 429 (with
Retry-After) or 503 to chosen completions requests and forwards the rest."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from fault_proxy import FaultProxy
from test_openai_compatible import ROWS, all_coalitions, served_model

from shapsweep.config.experiment_set import from_config
from shapsweep.explain import IncompleteShards, ShardJob, explain_shards
from shapsweep.models import load_model

VALUE = {"kind": "logprob", "response": "reference"}
FEATURES = {"max_players": 10}


@pytest.fixture
def proxy(llama_server):
    with FaultProxy(llama_server.base_url, llama_server.alias) as proxy:
        yield proxy


def test_answers_after_429_and_503_give_the_same_values_and_count_the_retries(llama_server, proxy, served_llama_path):
    direct = load_model(served_model(llama_server, served_llama_path), FEATURES, VALUE)
    # one request at a time, so the faults fall on one request's consecutive tries
    proxied = load_model(served_model(proxy, served_llama_path, concurrency=1, max_retries=2), FEATURES, VALUE)
    row_id, text, reference = ROWS[0]
    row = {"row_id": row_id, "text": text, "reference": reference}
    coalitions = all_coalitions(direct.game(row).n_players)[:12]
    before, forwarded = proxied.client.requests, proxy.forwarded
    proxy.faults = [(429, "1"), (503, None)]  # the first request: 429, then 503, then answered
    values = proxied.game(row)(coalitions)
    np.testing.assert_allclose(values, direct.game(row)(coalitions), atol=1e-9, rtol=0)
    assert proxied.client.retries == 2
    assert [status for status, _ in proxy.faulted] == [429, 503]
    assert proxy.forwarded - forwarded == len(coalitions)  # each coalition answered once
    assert proxied.client.requests - before == len(coalitions) + 2
    # Retry-After: 1 is honoured: the retry waits a second, not the 0.5 s of the first backoff step
    refused_at = proxy.faulted[0][1]
    first_retry = next(t for t in proxy.requested_at if t > refused_at) - refused_at
    assert first_retry >= 1.0


def test_a_row_still_refused_after_its_retries_fails_alone_and_the_rerun_completes_it(
    proxy, served_llama_path, tmp_path
):
    rows = pl.DataFrame(
        {"row_id": [r[0] for r in ROWS], "text": [r[1] for r in ROWS], "reference": [r[2] for r in ROWS]}
    )
    rows.write_parquet(tmp_path / "rows.parquet")
    (tmp_path / "rows.jsonl").write_text("")
    cfg = {
        "experiment_set_id": "served",
        "dataset": {"source": "json", "data_files": str(tmp_path / "rows.jsonl")},
        "model": served_model(proxy, served_llama_path, max_retries=1, concurrency=2),
        "value": VALUE,
        "features": FEATURES,
        "experiments": [{"name": "exact", "shap": {"method": "exact"}}],
    }
    run = next(iter(from_config(cfg).runs.values()))

    class RateLimitAfterFirstRow(io.StringIO):
        """From the second row on, every completions request is answered 429."""

        def write(self, text):
            if " row 1/" in text:
                proxy.always = (429, "0")
            return super().write(text)

    job = ShardJob("00000", 0, len(ROWS), tmp_path / "00000.parquet")
    with pytest.raises(IncompleteShards, match="run the workflow again"):
        explain_shards(run, tmp_path / "rows.parquet", [job], threads=1, log=RateLimitAfterFirstRow())
    assert not job.out.exists()
    partial = pl.read_parquet(tmp_path / ".00000.partial.parquet")
    assert partial["status"].to_list() == ["ok", "server_error", "server_error"]
    for error in partial["error"][1:]:
        assert "http_429" in error and "after 1 retries" in error and "injected fault" in error

    proxy.always = None  # the rate limit is over: the re-run explains only the two failed rows
    forwarded = proxy.forwarded
    explain_shards(run, tmp_path / "rows.parquet", [job], threads=1, log=io.StringIO())
    shard = pl.read_parquet(job.out)
    assert shard["status"].to_list() == ["ok", "ok", "ok"]
    assert shard["runtime_s"][0] == partial["runtime_s"][0]  # the first row is kept, not recomputed
    assert proxy.forwarded > forwarded
    assert not (tmp_path / ".00000.partial.parquet").exists()
