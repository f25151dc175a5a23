"""shapsweep: reproducible Shapley-value attribution sweeps over language and multimodal models."""

__version__ = "0.1.0"
