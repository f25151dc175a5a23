"""Models of the conversation and reply-value tests, built once per session."""

import json
from pathlib import Path

import pytest
from tiny_models import build_tiny_bert_classifier


@pytest.fixture(scope="session")
def tiny_nli_path(tmp_path_factory) -> str:
    """A tiny BERT pair classifier whose labels are an NLI model's (contradiction, entailment, neutral)."""
    folder = build_tiny_bert_classifier(tmp_path_factory.mktemp("tiny-nli"), num_labels=3, seed=1)
    config_file = Path(folder) / "config.json"
    config = json.loads(config_file.read_text())
    labels = ["contradiction", "entailment", "neutral"]
    config["id2label"] = {str(i): label for i, label in enumerate(labels)}
    config["label2id"] = {label: i for i, label in enumerate(labels)}
    config_file.write_text(json.dumps(config))
    return folder
