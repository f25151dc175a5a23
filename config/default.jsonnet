// The embedded default: 32 short sentences written for this project, the real all-MiniLM-L6-v2 as a
// sentence-embedding game (word players, cosine similarity to the full sentence), exact Shapley values
// as the reference, three sampling estimators (the default regression_adjusted, KernelSHAP, permutation)
// at two budgets each and the random baseline, with faithfulness evaluation of every explanation.
// Run it with `snakemake --profile profiles/default`; on 2 CPU cores it finishes in a few minutes.
local ss = import 'shapsweep.libsonnet';

{
  experiment_set_id: 'default',
  output_root: 'results',
  model: ss.minilm { batch_size: 128 },
  dataset: ss.localFile('config/data/default.jsonl', text='sentence', columns={ row_id: 'id', label: 'topic' }),
  selection: { max_samples: 32, shuffle_seed: 0 },
  shard_size: 16,
  features: { granularity: 'word', exclude_punctuation: true, masking: 'remove', max_players: 16 },
  value: { kind: 'similarity', target: 'full', similarity: 'cosine' },
  shap: { normalizer: 'abs_sum', batch_size: 128, seed: 0 },
  resources: { mem_mb: 4000, runtime: 30, threads: 1 },
  // Faithfulness of every explanation (deletion / insertion curves, AOPC): the report's fourth plot.
  evaluation: { enabled: true },
  experiments: [
    ss.exact(),
    ss.method('regression_adjusted', [32, 128]),
    ss.method('kernel', [32, 128]),
    ss.method('permutation', [32, 128]),
    ss.random(),
  ],
}
