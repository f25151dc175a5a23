"""shapsweep: reproducible Shapley-value attribution sweeps over language and multimodal models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shapsweep")  # pyproject.toml is the one place the version is written
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
