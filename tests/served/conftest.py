"""Fixtures of the served-model tests: the tiny Llama as GGUF, and llama.cpp's server serving it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is installed by `make test` (extra `served`)")

from llama_gguf import convert_llama
from llama_server import LlamaServer


@pytest.fixture(scope="session")
def served_llama_path(tmp_path_factory) -> str:
    """The tiny Llama with an ASCII-only vocabulary: its random replies decode to whole characters alike in
    transformers and llama.cpp (lone UTF-8 bytes are written differently, and llama-cpp-python keeps
    generating, past max_tokens, while a reply ends inside a character)."""
    from tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("served_llama"), ascii_only=True)


@pytest.fixture(scope="session")
def tiny_llama_gguf(served_llama_path, tmp_path_factory) -> Path:
    return convert_llama(served_llama_path, tmp_path_factory.mktemp("gguf") / "tiny-llama-f32.gguf")


@pytest.fixture(scope="module")
def llama_server(tiny_llama_gguf, tmp_path_factory):
    server = LlamaServer(tiny_llama_gguf, tmp_path_factory.mktemp("server") / "server.log").start()
    yield server
    server.stop()
