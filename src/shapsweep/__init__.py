"""shapsweep: reproducible Shapley-value attribution sweeps over language and multimodal models.

The public Python API (docs/api.md) is re-exported lazily from `shapsweep.api`, so `import shapsweep`
stays light (no polars, torch or transformers until one of these names is used). The function is
`explain_row`, not `explain`: `shapsweep.explain` is the explain job's module.
"""

from shapsweep.version import __version__

_API = ("Explanation", "ExplanationError", "Results", "explain_row", "load_results")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from shapsweep import api

        return getattr(api, name)
    raise AttributeError(f"module 'shapsweep' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
