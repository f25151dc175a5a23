"""Attribution quality: faithfulness on the run's own game, and error against a reference run."""

from shapsweep.evaluation.faithfulness import DEFAULT_FRACTIONS, METRICS, Faithfulness, evaluate

__all__ = ["DEFAULT_FRACTIONS", "METRICS", "Faithfulness", "evaluate"]
