// Empirical explainers (Schwarzenberg et al., BlackboxNLP 2021): learn to predict a run's attributions,
// then explain new rows in one batched forward pass of the learnt explainer.
//
// The game: the real all-MiniLM-L6-v2, word players, cosine similarity of a masked review to the full one,
// over the 600 templated reviews of config/data/reviews.jsonl (4-10 words, so exact values are cheap and
// every run is scored against them). The target: KernelSHAP at 128 coalitions per row. The empirical run
// fine-tunes MiniLM (a per-token regression head) on the target's attributions of 80% of the rows (a
// tenth of those for early stopping) and explains all of them; every metric keeps to the other 20%.
// Beside it: integrated gradients, an empirical explainer of IG (as in the paper), KernelSHAP at the
// cheapest budgets (about 2n and 4n for these rows) and the random baseline.
//
//   snakemake --profile profiles/default --config experiment=config/examples/empirical.jsonnet
//   .venv/bin/python benchmarks/empirical.py      # held-out errors against the target and exact, s/row
local ss = import 'shapsweep.libsonnet';

{
  experiment_set_id: 'empirical',
  output_root: 'results',
  model: ss.minilm { batch_size: 128 },
  dataset: ss.localFile('config/data/reviews.jsonl', columns={ row_id: 'id', label: 'sentiment' }),
  selection: { max_samples: 600, shuffle_seed: 0 },
  shard_size: 100,
  features: { granularity: 'word', exclude_punctuation: true, masking: 'remove', max_players: 12 },
  value: { kind: 'similarity', target: 'full', similarity: 'cosine' },
  shap: { normalizer: 'abs_sum', batch_size: 128, seed: 0 },
  resources: { mem_mb: 6000, runtime: 60, threads: 2 },
  // Every run pays for its own coalitions, so seconds per row compare the methods' real costs (with the
  // store on, KernelSHAP would find every coalition the exact run evaluated and cost almost nothing).
  store: { enabled: false },
  experiments: [
    ss.exact(),
    { name: 'kernel_target', shap: { method: 'kernel', budget: 128 } },
    { name: 'empirical', shap: { method: 'empirical', options: { target: 'kernel_target', scale: 'raw' } } },
    { name: 'ig', shap: { method: 'integrated_gradients', options: { steps: 32, baseline: 'pad' } } },
    { name: 'empirical_ig', shap: { method: 'empirical', options: { target: 'ig', scale: 'raw' } } },
    ss.method('kernel', [16, 32]),
    ss.random(),
  ],
}
