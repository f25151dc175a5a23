// Training attribution: fine-tune a small sentiment classifier on 48 of the reviews for 12 AdamW steps,
// recorded step by step (rule trace), then explain six held-out reviews' logits by the path kernel: which
// training reviews (and which blocks, which steps) moved each logit, beside input Shapley values of the
// same rows; on the first step the update game (blocks as Shapley players) is the path kernel's reference
// (compare reports their difference); the ablation game asks what the model relies on, by layer.
// docs/training.md explains the columns.
//
//   snakemake --profile profiles/default --config experiment=config/examples/training_attribution.jsonnet \
//     'model={path_or_id: <a classifier>}' 'training={model: {path_or_id: <the same classifier>}}'
//
// The classifier's labels must include `negative` and `positive` (case-insensitive); any
// hf_classifier works (a folder, a hub id). The path kernel keeps one parameter-sized direction per test
// row of a shard: keep shards small for large models.
local ss = import 'shapsweep.libsonnet';
local classifier = 'distilbert/distilbert-base-uncased-finetuned-sst-2-english';
local reviews = ss.localFile('config/data/reviews.jsonl', columns={ row_id: 'id', label: 'sentiment', domain: 'domain' });

{
  experiment_set_id: 'training',
  output_root: 'results',
  model: { connector: 'hf_classifier', path_or_id: classifier, batch_size: 32 },
  value: { kind: 'logit', target_class: 'positive' },
  features: { granularity: 'word', exclude_punctuation: true, masking: 'remove', max_players: 16 },
  dataset: reviews,
  selection: { start_index: 500, max_samples: 6 },
  shard_size: 3,
  training: {
    model: { connector: 'hf_classifier', path_or_id: classifier },
    dataset: reviews,
    selection: { max_samples: 48 },
    target: 'label',
    lr: 1e-4,
    betas: [0.9, 0.98],
    weight_decay: 0.01,
    batch_size: 8,
    steps: 12,
    seed: 0,
  },
  local one_step = { steps: [0, 1], components: 'block' },
  experiments: [
    { name: 'path_kernel', shap: { method: 'path_kernel', options: { midpoints: 10, components: 'block' } } },
    { name: 'by_domain', shap: { method: 'path_kernel', options: { midpoints: 10, data: 'domain' } } },
    // components as Shapley players on the first step: the reference of the path kernel's component scores
    { name: 'update_game', reference: true, shap: { method: 'update_game', options: one_step } },
    { name: 'path_kernel_step0', shap: { method: 'path_kernel', options: one_step { midpoints: 16 } } },
    // the run's model as it is (no trace): how much each layer's value rests on its attention and MLP now
    { name: 'ablation', shap: { method: 'ablation_game', options: { components: 'block', ablation: 'mean' } } },
    ss.exact(),
  ],
}
