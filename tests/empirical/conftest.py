"""Fixtures of the empirical-explainer tests: a synthetic target run and a tiny BERT encoder to fine-tune."""

import sys

import pytest
from synthetic_target import TINY_TRAINING, synthetic_rows, write_target_run


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These models are small: one thread is as fast, and two threads on a busy 2-core machine are ~10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> str:
    """A tiny random-weight BERT (the classifier of tests/tiny_models.py; AutoModel loads its encoder)."""
    from tiny_models import build_tiny_bert_classifier

    return build_tiny_bert_classifier(tmp_path_factory.mktemp("tiny_bert_encoder"))


@pytest.fixture(scope="session")
def target_run(tmp_path_factory) -> dict:
    """120 synthetic rows in two shard files (row 3 failed in the target run) and their rows.parquet."""
    rows = synthetic_rows(120)
    return {**write_target_run(tmp_path_factory.mktemp("target_run"), rows, failed=(3,)), "rows_list": rows}


@pytest.fixture(scope="session")
def training_data(target_run):
    from shapsweep.empirical.training import TrainingData

    return TrainingData.from_files(target_run["shards"], target_run["rows"], scale="raw")


@pytest.fixture(scope="session")
def trained(tmp_path_factory, training_data, tiny_encoder) -> dict:
    """One tiny explainer trained on the synthetic run (shared by the tests that only read it)."""
    from shapsweep.empirical.training import train_explainer

    out = tmp_path_factory.mktemp("trained") / "explainer"
    metrics = train_explainer(training_data, out, encoder=tiny_encoder, device="cpu", log=sys.stdout, **TINY_TRAINING)
    return {"out": out, "metrics": metrics}
