"""Resolve `model.path_or_id` to something `from_pretrained` accepts."""

from __future__ import annotations

import importlib
import os

PACKAGE_PREFIX = "package:"


def resolve_path_or_id(path_or_id: str, field: str = "model.path_or_id") -> str:
    """A local folder, `package:<module>` (the module's `get_model_path()`), or a hub id (returned as is).

    Hub ids are passed on unchanged; with HF_HUB_OFFLINE=1 `from_pretrained` then only finds them in
    the local cache, which is the point of running offline.
    """
    if not isinstance(path_or_id, str) or not path_or_id.strip():
        raise ValueError(f"{field}: expected a folder, a hub id or 'package:<module>', got {path_or_id!r}")
    if path_or_id.startswith(PACKAGE_PREFIX):
        module_name = path_or_id[len(PACKAGE_PREFIX) :]
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(
                f"{field}: cannot import {module_name!r} ({error}); install the package that ships the model"
            ) from error
        if not hasattr(module, "get_model_path"):
            raise ValueError(f"{field}: module {module_name!r} has no get_model_path()")
        return str(module.get_model_path())
    expanded = os.path.expanduser(path_or_id)
    if os.path.isdir(expanded):
        return expanded
    if expanded.startswith((".", "/", "~")):
        raise ValueError(f"{field}: folder {path_or_id!r} does not exist")
    return path_or_id
