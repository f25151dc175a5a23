"""Models as games: `load_model(model_cfg, features_cfg, value_cfg).game(row)` (see docs/DESIGN.md)."""

from __future__ import annotations

from importlib import import_module

from shapsweep.errors import RowError
from shapsweep.models.config import resolve_configs

__all__ = ["CONNECTOR_CLASSES", "RowError", "load_model", "resolve_configs"]

# connector -> "module:Class", imported on first use (each pulls in its own heavy libraries).
CONNECTOR_CLASSES = {
    "sentence_embedder": "shapsweep.models.sentence_embedder:SentenceEmbedder",
    "hf_classifier": "shapsweep.models.hf_classifier:HFClassifier",
    "hf_causal_lm": "shapsweep.models.hf_causal_lm:HFCausalLM",
    "hf_multimodal_lm": "shapsweep.models.hf_multimodal_lm:HFMultimodalLM",
    "openai_compatible": "shapsweep.models.openai_compatible:OpenAICompatible",
}


def load_model(model_cfg: dict | None, features_cfg: dict | None = None, value_cfg: dict | None = None):
    """Load weights, tokenizer and embedders once; `.game(row)` then builds each row's game.

    Configs are plain dicts; missing keys take the defaults of docs/DESIGN.md and bad values raise a
    ValueError naming the field.
    """
    model_cfg, features_cfg, value_cfg = resolve_configs(model_cfg, features_cfg, value_cfg)
    module, name = CONNECTOR_CLASSES[model_cfg["connector"]].split(":")
    return getattr(import_module(module), name)(model_cfg, features_cfg, value_cfg)
