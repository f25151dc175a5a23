// Audio classifier attributions: which stretches of each clip carry the predicted class.
// Two spoken sentences made with espeak-ng (config/data/media), a wav2vec2 audio classifier, players =
// 250 ms windows of the clip after it is resampled to the feature extractor's rate (masked windows are
// silent), exact Shapley values as the reference and KernelSHAP against it.
// Point `model.path_or_id` at any audio classifier: a hub id such as 'superb/wav2vec2-base-superb-ks'
// (needs the hub, or a cached copy) or a local folder holding the weights and preprocessor_config.json.
// For word players give each row a `word_times` column ([start_s, end_s, word] per word) and set
// `audio: { players: 'words' }`.
// Check it: `shapsweep validate config/examples/audio_classifier.jsonnet --check-dataset`.
local ss = import 'shapsweep.libsonnet';

{
  experiment_set_id: 'audio_classifier',
  output_root: 'results',
  dataset: {
    source: 'json',
    data_files: 'config/data/media/audio.jsonl',
    split: 'train',
    columns: { row_id: 'id', audio: 'file_name' },  // relative to the folder of audio.jsonl
  },
  model: { connector: 'hf_classifier', path_or_id: 'superb/wav2vec2-base-superb-ks', batch_size: 32 },
  features: {
    modalities: ['audio'],
    audio: { players: 'windows', window_ms: 250, fill: 'silence' },  // or fill: 'noise', noise_db: -40
    max_players: 12,
  },
  value: { kind: 'log_odds', target_class: null },
  shard_size: 2,
  experiments: [
    ss.exact(),
    ss.method('kernel', [48]),
  ],
}
