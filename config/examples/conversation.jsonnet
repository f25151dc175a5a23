// Conversation attributions: which words of a three-turn chat (user, assistant, user) move the reply.
// Each row of config/data/conversations.jsonl carries `messages` (a list of {role, content}) and a
// `reference` reply. The whole conversation goes through the model's chat template; only the turns
// `features.players_from` names hold players (the assistant's turn always stays whole).
//  - last_user_exact / last_user_kernel: the reference reply's log-probability, players from the last user
//    turn (the default), exact Shapley values as the reference and KernelSHAP against them;
//  - every_user_turn: the same value, players from both user turns;
//  - reply_wer / reply_bertscore: the model's own greedy reply, each coalition's reply scored against it by
//    1 − word error rate, or BERTScore F1 over MiniLM's token embeddings.
// Point `model.path_or_id` at any chat model with a chat template, e.g. 'HuggingFaceTB/SmolLM2-135M-Instruct'
// (needs the hub, or a cached copy); the tests run it on a tiny random Llama with a chat template
// (`snakemake --config experiment=config/examples/conversation.jsonnet 'model={path_or_id: FOLDER}'`).
// Check it: `shapsweep validate config/examples/conversation.jsonnet --check-dataset`.
local ss = import 'shapsweep.libsonnet';
local reference_logprob = { value: { kind: 'logprob', response: 'reference' } };

{
  experiment_set_id: 'conversation',
  output_root: 'results',
  dataset: {
    source: 'json',
    data_files: 'config/data/conversations.jsonl',
    split: 'train',
    columns: { row_id: 'id' },
  },
  model: { connector: 'hf_causal_lm', path_or_id: 'HuggingFaceTB/SmolLM2-135M-Instruct', max_new_tokens: 8, batch_size: 64 },
  features: { granularity: 'word', max_players: 20 },
  shard_size: 2,
  experiments: [
    ss.exact('last_user_exact') + reference_logprob,  // players from the last user turn (the default)
    ss.method('kernel', [48], name='last_user_kernel') + reference_logprob,
    reference_logprob {
      name: 'every_user_turn',
      features: { players_from: 'user' },
      shap: { method: 'kernel', budget: 96 },
    },
    {
      name: 'reply_wer',
      value: { kind: 'generate_similarity', similarity: 'wer' },
      shap: { method: 'kernel', budget: 32 },
    },
    {
      name: 'reply_bertscore',
      value: { kind: 'generate_similarity', similarity: 'bertscore' },
      shap: { method: 'kernel', budget: 32 },
    },
  ],
}
