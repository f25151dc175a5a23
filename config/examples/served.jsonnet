// A model served behind an OpenAI-compatible API (vLLM, SGLang, llama.cpp's server, LM Studio).
// Each coalition's prompt goes to the server as one completions request; `logprob` scores the row's
// reference answer from the server's prompt log-probabilities (vLLM returns them; llama-cpp-python with
// logits_all; a server that cannot is refused when the job starts, use value.kind 'generate_similarity').
// Start a server first, e.g. `vllm serve Qwen/Qwen2.5-0.5B-Instruct --port 8000`, then
//   snakemake --profile profiles/default --config experiment=config/examples/served.jsonnet
// `path_or_id` is the served model's tokenizer (players and the chat template come from it). The API key,
// when the server wants one, is read from the variable named by api_key_env and never written anywhere.
local ss = import 'shapsweep.libsonnet';

{
  experiment_set_id: 'served',
  output_root: 'results',
  dataset: ss.localFile('config/data/served.jsonl', text='question', columns={ row_id: 'id', reference: 'answer' }),
  model: ss.served('http://127.0.0.1:8000', 'Qwen/Qwen2.5-0.5B-Instruct', tokenizer='Qwen/Qwen2.5-0.5B-Instruct') {
    api_key_env: 'SHAPSWEEP_SERVED_API_KEY',
    concurrency: 8,
    system_prompt: 'Answer in one short sentence.',
  },
  value: { kind: 'logprob', response: 'reference' },
  features: { granularity: 'word', max_players: 12 },
  shard_size: 2,
  experiments: [
    ss.exact(),
    ss.method('regression_adjusted', [32]),
    ss.random(),
  ],
}
