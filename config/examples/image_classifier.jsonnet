// Image classifier attributions: which parts of each photo carry the predicted class.
// Three small photos bundled with scikit-image (config/data/media), a ViT image classifier, players
// = a 3 x 3 grid of patches (masked patches filled with the image's mean colour before the processor
// resizes it), exact Shapley values as the reference, KernelSHAP and the random baseline against it.
// Point `model.path_or_id` at any image classifier: a hub id such as 'google/vit-base-patch16-224'
// (needs the hub, or a cached copy) or a local folder holding the weights and preprocessor_config.json.
// Check it: `shapsweep validate config/examples/image_classifier.jsonnet --check-dataset`.
local ss = import 'shapsweep.libsonnet';

{
  experiment_set_id: 'image_classifier',
  output_root: 'results',
  dataset: {
    source: 'json',
    data_files: 'config/data/media/images.jsonl',
    split: 'train',
    // relative file names are read from the folder of images.jsonl, as imagefolder metadata are
    columns: { row_id: 'id', image: 'file_name' },
  },
  model: { connector: 'hf_classifier', path_or_id: 'google/vit-base-patch16-224', batch_size: 64 },
  features: {
    modalities: ['image'],
    image: { players: 'grid', grid: [3, 3], baseline: 'mean' },  // or players: 'superpixels', n_segments: 12
    max_players: 16,
  },
  value: { kind: 'probability', target_class: null },  // null: the class predicted on the whole image
  shard_size: 3,
  experiments: [
    ss.exact(),
    ss.method('kernel', [64]),
    ss.random(),
  ],
}
