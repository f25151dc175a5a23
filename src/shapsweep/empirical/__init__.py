"""Empirical explainers: a model trained to predict a target run's attributions, then explaining in one pass.

After Schwarzenberg et al., "Efficient Explanations from Empirical Explainers" (BlackboxNLP 2021): an
expensive explainer (here a Shapley run of the sweep) labels the training rows, a fine-tuned text encoder
with a per-token regression head learns to reproduce its attribution maps, and new rows are explained by
one forward pass of that encoder.

- `options`: the training options, their defaults and their validation (no torch: the config imports it).
- `split`: which rows train, validate (early stopping) or are held out, from a stable hash of the row id.
- `training_data`: a target run's shard files + rows.parquet -> training examples.
- `network`: the encoder + per-token head, and how a player's value is pooled from its tokens.
- `training`: `train_explainer`, the fine-tuning loop, writing the explainer folder atomically.
- `explainer`: `EmpiricalExplainer`, a saved explainer loaded back to predict players' values.

Importing this package imports nothing heavy; torch comes with `network`, `training` and `explainer`.
"""
