"""Resolve `model.path_or_id` to something `from_pretrained` accepts, and check at parse time that it will.

`locate_model` runs when a config is validated (no torch, no weights read): a model that cannot load then
fails `shapsweep validate` and Snakemake's parse in about a second, instead of every explain job retrying
the hub for minutes. `resolve_path_or_id` is what the loaders call at job time.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_PREFIX = "package:"
# A folder is a model when it has one of these: transformers' config, or a sentence-transformers layout.
MODEL_FOLDER_MARKERS = ("config.json", "modules.json")
# Online, a hub id missing from the local cache is looked up with one request this short: parse time must
# never hang on a slow or absent network (a job would fail there anyway, only later and slower).
HUB_CHECK_TIMEOUT_S = 5.0
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ModelLocation:
    """Where a `path_or_id` resolved. `kind`: folder | package | hub cache | hub; `path`: what
    `from_pretrained` gets; `detail`: one line for the user (where it was found)."""

    kind: str
    path: str
    detail: str

    def describe(self, field: str = "model.path_or_id") -> str:
        return f"{field}: {self.kind} ({self.detail})"


def hub_offline() -> bool:
    """True when the Hugging Face libraries will not touch the network (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE)."""
    return any(os.environ.get(var, "").strip().lower() in _TRUE for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def locate_model(path_or_id: str, revision: str | None = None, field: str = "model.path_or_id") -> ModelLocation:
    """Check that `path_or_id` names a model that can load, without loading it.

    Accepted: a folder with a `config.json` or `modules.json`; `package:<module>` whose `get_model_path()`
    is such a folder; a hub id found in the local Hugging Face cache (`huggingface_hub.try_to_load_from_cache`,
    so offline runs work); online, a hub id the hub confirms within HUB_CHECK_TIMEOUT_S. Raises ValueError
    naming `field`, what was tried and what to do. Results are cached per process (env included).
    """
    offline, cache = hub_offline(), os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME")
    return _locate(path_or_id, revision, field, offline, cache)


@functools.lru_cache(maxsize=64)
def _locate(path_or_id, revision, field, offline, _cache_env) -> ModelLocation:
    if isinstance(path_or_id, str) and path_or_id.startswith(PACKAGE_PREFIX):
        folder = resolve_path_or_id(path_or_id, field)
        _check_model_folder(folder, field, f"{path_or_id} points at")
        return ModelLocation("package", folder, f"{path_or_id[len(PACKAGE_PREFIX) :]}.get_model_path() = {folder}")
    path = resolve_path_or_id(path_or_id, field)  # folder checks and the bad-value message live there
    if os.path.isdir(path):
        _check_model_folder(path, field, "folder")
        return ModelLocation("folder", path, path)
    return _locate_hub_id(path_or_id, revision, field, offline)


def _check_model_folder(folder: str, field: str, what: str) -> None:
    if not any((Path(folder) / marker).is_file() for marker in MODEL_FOLDER_MARKERS):
        raise ValueError(
            f"{field}: {what} {folder!r}, which has no {' or '.join(MODEL_FOLDER_MARKERS)}: not a saved model "
            "(save one with save_pretrained, or point at the folder that holds config.json)"
        )


def _locate_hub_id(repo_id: str, revision: str | None, field: str, offline: bool) -> ModelLocation:
    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(
            f"{field}: {repo_id!r} is neither an existing folder nor a valid hub id ({error}); "
            "give a folder, 'package:<module>' or a hub id such as 'org/name'"
        ) from None
    cache_dir = os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE
    for marker in MODEL_FOLDER_MARKERS:
        cached = try_to_load_from_cache(repo_id, marker, cache_dir=cache_dir, revision=revision)
        if isinstance(cached, str):
            return ModelLocation("hub cache", repo_id, f"{repo_id} found in the local Hugging Face cache {cache_dir}")
    at = f" at revision {revision!r}" if revision else ""
    if offline:
        raise ValueError(
            f"{field}: hub id {repo_id!r}{at} is not in the local Hugging Face cache ({cache_dir}) and the hub is "
            "off (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set): download it once with network "
            f"(`hf download {repo_id}`), or point path_or_id at a saved folder"
        )
    return _ask_hub(repo_id, revision, field, at)


def _ask_hub(repo_id: str, revision: str | None, field: str, at: str) -> ModelLocation:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        HfApi().model_info(repo_id, revision=revision, timeout=HUB_CHECK_TIMEOUT_S)
    except GatedRepoError:
        return ModelLocation("hub", repo_id, f"{repo_id} exists on the hub (gated: the job needs a token with access)")
    except RevisionNotFoundError:
        raise ValueError(f"{field}: hub model {repo_id!r} has no revision {revision!r} (model.revision)") from None
    except RepositoryNotFoundError:
        raise ValueError(
            f"{field}: hub id {repo_id!r} does not exist on the Hugging Face hub (or is private: log in with "
            "`hf auth login`); check the spelling, or point path_or_id at a saved folder"
        ) from None
    except Exception as error:  # any network failure: no connection, DNS, timeout, proxy, hub error
        raise ValueError(
            f"{field}: hub id {repo_id!r}{at} is not in the local Hugging Face cache and the hub could not be "
            f"reached within {HUB_CHECK_TIMEOUT_S:g}s ({type(error).__name__}): connect, or download it once "
            "and run with HF_HUB_OFFLINE=1, or point path_or_id at a saved folder"
        ) from None
    return ModelLocation("hub", repo_id, f"{repo_id} confirmed on the hub; the first job downloads it")


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
