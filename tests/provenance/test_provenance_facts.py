"""The facts `shapsweep.provenance` gathers, checked against what the machine itself says."""

import importlib.metadata
import json
import platform
import socket
import subprocess

import polars as pl
import pyarrow.parquet as pq
import pytest
import torch

from shapsweep.aggregate import rollup_provenance
from shapsweep.atomic_outputs import write_parquet
from shapsweep.provenance import (
    METADATA_KEY,
    code_version,
    config_sha256,
    cpu_model,
    job_facts,
    model_device_and_dtype,
    read_shard_provenance,
    shard_record,
    to_metadata,
)


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "project"
    (repo / "src").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "src" / "code.py").write_text("x = 1\n")
    (repo / ".gitignore").write_text("results/\n")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return repo


def test_a_commit_in_a_repo_shows_up_and_a_dirty_tree_is_flagged(repo):
    head = git(repo, "rev-parse", "HEAD")
    assert code_version(repo / "src") == {"commit": head, "dirty": False, "repo": str(repo)}
    (repo / "results").mkdir()
    (repo / "results" / "out.parquet").write_text("ignored output")
    assert code_version(repo)["dirty"] is False  # ignored files are not code
    (repo / "src" / "code.py").write_text("x = 2\n")
    assert code_version(repo) == {"commit": head, "dirty": True, "repo": str(repo)}
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "second")
    after = code_version(repo)
    assert after["commit"] == git(repo, "rev-parse", "HEAD") != head and after["dirty"] is False
    (repo / "src" / "new.py").write_text("y = 1\n")
    assert code_version(repo)["dirty"] is True  # an untracked module changes what runs


def test_no_repo_or_no_git_gives_nulls_not_an_error(repo, tmp_path, monkeypatch):
    outside = tmp_path / "plain"
    outside.mkdir()
    assert code_version(outside) == {"commit": None, "dirty": None, "repo": None}
    assert code_version(tmp_path / "missing") == {"commit": None, "dirty": None, "repo": None}
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # no git executable at all
    assert code_version(repo) == {"commit": None, "dirty": None, "repo": None}


def test_job_facts_match_the_machine(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    config = {"experiment_set_id": "s", "shard_size": 2, "experiment_file": "config/s.jsonnet"}
    facts = job_facts(config, "results/s/config.json")
    assert facts["slurm_job_id"] == "4242"
    monkeypatch.delenv("SLURM_JOB_ID")
    assert job_facts(config)["slurm_job_id"] is None
    for name in ("shapsweep", "torch", "transformers", "snakemake", "datasets", "polars", "pyarrow", "numpy"):
        assert facts["packages"][name] == importlib.metadata.version(name), name
    for name in ("wandb", "jsonnet", "scipy"):  # shapsweep's other requirements, read from its metadata
        assert facts["packages"][name] == importlib.metadata.version(name), name
    assert facts["python"] == platform.python_version() and facts["host"] == socket.gethostname()
    assert facts["cpu"] == cpu_model() and facts["cpu"]
    assert facts["gpu_count"] == len(facts["gpus"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert facts["config_file"].endswith("results/s/config.json") and facts["experiment_file"] == "config/s.jsonnet"
    assert facts["config_sha256"] == config_sha256(config) and len(facts["config_sha256"]) == 64
    json.dumps(facts)  # all of it fits in the shard's metadata


def test_config_hash_follows_content_not_key_order():
    a = {"experiment_set_id": "s", "shap": {"budget": 8, "seed": 0}}
    assert config_sha256(a) == config_sha256({"shap": {"seed": 0, "budget": 8}, "experiment_set_id": "s"})
    assert config_sha256(a) != config_sha256({**a, "shap": {"budget": 9, "seed": 0}})


class Connector:
    """What a loaded connector looks like to provenance: a `.device` and a torch module somewhere inside."""

    def __init__(self, dtype):
        self.device = torch.device("cpu")
        self.encoder = type("Encoder", (), {})()
        self.encoder.model = torch.nn.Linear(2, 2).to(dtype)


@pytest.mark.parametrize("dtype, name", [(torch.float32, "float32"), (torch.bfloat16, "bfloat16")])
def test_device_and_dtype_are_read_from_the_loaded_weights(dtype, name):
    assert model_device_and_dtype(Connector(dtype)) == {"device": "cpu", "dtype": name}
    assert model_device_and_dtype(object()) == {"device": None, "dtype": None}


def test_shard_metadata_round_trip_through_polars_and_pyarrow(tmp_path):
    record = shard_record(
        {"host": "h", "code": {"commit": "abc", "dirty": False}},
        "2026-12-01T10:00:00+00:00",
        "2026-12-01T10:00:02.500000+00:00",
        ["ok", "empty_input", "skipped", "ok"],
    )
    assert record["duration_s"] == 2.5 and (record["rows_ok"], record["rows_failed"], record["rows_skipped"]) == (
        2,
        1,
        1,
    )
    frame = pl.DataFrame({"row_id": ["a", "b"], "run_id": ["r", "r"]})
    path = tmp_path / "00000.parquet"
    write_parquet(path, frame, metadata=to_metadata(record))
    assert read_shard_provenance(path) == record
    assert json.loads(pq.read_metadata(path).metadata[METADATA_KEY.encode()]) == record
    assert pl.read_parquet(path).equals(frame)  # readers that ignore the metadata see the same shard
    write_parquet(path, frame)
    assert read_shard_provenance(path) is None


def shard(host, commit, dirty, device, start, end, gpus=()):
    return {
        "host": host,
        "code": {"commit": commit, "dirty": dirty},
        "device": device,
        "cpu": "Xeon",
        "gpus": list(gpus),
        "gpu_count": len(gpus),
        "dtype": "float32",
        "shapsweep_version": "0.1.0",
        "config_sha256": "c0ffee",
        "slurm_job_id": None,
        "started_at": start,
        "finished_at": end,
        "duration_s": 10.0,
    }


def test_rollup_shows_mixed_provenance():
    records = [
        shard("a", "111", False, "cpu", "2026-12-01T10:00:00+00:00", "2026-12-01T10:00:10+00:00"),
        shard("b", "222", True, "cuda:0", "2026-12-01T09:00:00+00:00", "2026-12-01T09:00:10+00:00", ["H200"]),
        shard("a", "111", False, "cpu", "2026-12-01T11:00:00+00:00", "2026-12-01T11:00:10+00:00"),
        None,  # a shard written before provenance was recorded
    ]
    roll = rollup_provenance(records)
    assert roll["first_start"] == "2026-12-01T09:00:00+00:00" and roll["last_end"] == "2026-12-01T11:00:10+00:00"
    assert roll["duration_s"] == 30.0 and roll["shards"] == 4 and roll["shards_without_provenance"] == 1
    assert roll["code_commits"] == ["111", "222+dirty"]
    assert roll["devices"] == ["cpu (Xeon)", "cuda:0 (H200 x1)"] and roll["hosts"] == ["a", "b"]
    assert roll["config_sha256"] == ["c0ffee"] and roll["slurm_job_ids"] == []
    assert rollup_provenance([None])["first_start"] is None
