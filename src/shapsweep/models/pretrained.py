"""Load a tokenizer and a model through `from_pretrained`, honouring the `model` config block."""

from __future__ import annotations

from transformers import AutoTokenizer

from shapsweep.models.device import resolve_device, resolve_dtype
from shapsweep.models.locate import resolve_path_or_id


def load_weights(auto_class, model_cfg: dict):
    """(model in eval mode on its device, device, local path) for `model.path_or_id`, without a tokenizer
    (image and audio models take a processor instead)."""
    path = resolve_path_or_id(model_cfg["path_or_id"])
    device = resolve_device(model_cfg["device"])
    common = {"revision": model_cfg["revision"], "trust_remote_code": model_cfg["trust_remote_code"]}
    try:
        model = auto_class.from_pretrained(path, dtype=resolve_dtype(model_cfg["dtype"]), **common)
    except (OSError, ValueError) as error:
        raise ValueError(f"model.path_or_id: cannot load {model_cfg['path_or_id']!r} ({error})") from error
    model.to(device).eval()
    return model, device, path


def load_pretrained(auto_class, model_cfg: dict):
    """(tokenizer, model in eval mode on its device, device) for `model.path_or_id`."""
    path = resolve_path_or_id(model_cfg["path_or_id"])
    device = resolve_device(model_cfg["device"])
    common = {"revision": model_cfg["revision"], "trust_remote_code": model_cfg["trust_remote_code"]}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **common)
        model = auto_class.from_pretrained(path, dtype=resolve_dtype(model_cfg["dtype"]), **common)
    except OSError as error:
        raise ValueError(f"model.path_or_id: cannot load {model_cfg['path_or_id']!r} ({error})") from error
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"model.path_or_id: {model_cfg['path_or_id']!r} has no fast tokenizer; players need its character offsets"
        )
    model.to(device).eval()
    return tokenizer, model, device


def max_positions(config) -> int | None:
    """The longest sequence the model's position embeddings take, when the config says."""
    for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
