"""Models as games: `load_model(model_cfg, features_cfg, value_cfg).game(row)` (see docs/DESIGN.md)."""

from __future__ import annotations

from shapsweep.errors import RowError
from shapsweep.models.config import resolve_configs

__all__ = ["RowError", "load_model", "resolve_configs"]


def load_model(model_cfg: dict | None, features_cfg: dict | None = None, value_cfg: dict | None = None):
    """Load weights, tokenizer and embedders once; `.game(row)` then builds each row's game.

    Configs are plain dicts; missing keys take the defaults of docs/DESIGN.md and bad values raise a
    ValueError naming the field.
    """
    model_cfg, features_cfg, value_cfg = resolve_configs(model_cfg, features_cfg, value_cfg)
    connector = model_cfg["connector"]
    if connector == "sentence_embedder":
        from shapsweep.models.sentence_embedder import SentenceEmbedder as Connector
    elif connector == "hf_classifier":
        from shapsweep.models.hf_classifier import HFClassifier as Connector
    elif connector == "hf_multimodal_lm":
        from shapsweep.models.hf_multimodal_lm import HFMultimodalLM as Connector
    else:
        from shapsweep.models.hf_causal_lm import HFCausalLM as Connector
    return Connector(model_cfg, features_cfg, value_cfg)
