"""Tiny random-weight image and audio classifiers with their processors, saved with `save_pretrained`.

Loaded back through `from_pretrained` as a user's checkpoint is. Weights are seeded, so a folder built
twice holds the same model. Media fixtures come from packages and tools installed here: scikit-image's
bundled photos and espeak-ng's speech (see tests/multimodal/conftest.py).
"""

from __future__ import annotations

import os

import torch
from transformers import (
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
)

IMAGE_LABELS = ["cat", "coffee", "person"]
AUDIO_LABELS = ["yes", "no", "maybe"]


def _labels(names: list[str]) -> dict:
    return {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {n: i for i, n in enumerate(names)},
    }


def _save(model, processor, folder) -> str:
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def build_tiny_vit_classifier(
    folder,
    *,
    image_size: int = 32,
    patch_size: int = 8,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    seed: int = 0,
) -> str:
    """A ViT image classifier (labels cat/coffee/person) and a ViTImageProcessor resizing to `image_size`."""
    config = ViTConfig(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        initializer_range=0.5,  # wide random weights: masked patches move the output visibly
        **_labels(IMAGE_LABELS),
    )
    processor = ViTImageProcessor(size={"height": image_size, "width": image_size})
    torch.manual_seed(seed)
    return _save(ViTForImageClassification(config).eval(), processor, folder)


def build_tiny_wav2vec2_classifier(
    folder, *, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2, seed: int = 0
) -> str:
    """A wav2vec2 audio classifier (labels yes/no/maybe) with a 16 kHz Wav2Vec2FeatureExtractor."""
    config = Wav2Vec2Config(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=2 * hidden_size,
        conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        classifier_proj_size=16,
        do_stable_layer_norm=False,
        initializer_range=0.5,
        feat_extract_norm="group",
        **_labels(AUDIO_LABELS),
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    torch.manual_seed(seed)
    return _save(Wav2Vec2ForSequenceClassification(config).eval(), extractor, folder)


# A LLaVA-style chat template: the user turn's content is a list of {type: image | audio | text} items.
MULTIMODAL_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tiny_llava(folder, *, seed: int = 0) -> str:
    """A LLaVA (2-layer CLIP vision tower, image 16 / patch 4, 2-layer Llama) with a byte-level BPE
    tokenizer holding an `<image>` token, a CLIPImageProcessor and a LlavaProcessor with a chat template."""
    from tiny_models import _byte_level_bpe
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    specials = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<image>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_byte_level_bpe(specials),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>", "<image>"],
    )
    tokenizer.chat_template = MULTIMODAL_CHAT_TEMPLATE
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16}, do_center_crop=True
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=4,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=MULTIMODAL_CHAT_TEMPLATE,
    )
    vision = CLIPVisionConfig(
        image_size=16, patch_size=4, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return _save(LlavaForConditionalGeneration(config).eval(), processor, folder)


def build_tiny_qwen2_audio(folder, *, chunk_seconds: int = 2, seed: int = 0) -> str:
    """A Qwen2-Audio (2-layer encoder, d_model 16, 80 mel bins; 2-layer Qwen2) with a byte-level BPE
    tokenizer holding the audio tokens, a WhisperFeatureExtractor padding to `chunk_seconds` (the real
    model's 30 s would make every prompt 750 audio tokens long) and the processor's default template."""
    from tiny_models import _byte_level_bpe
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2AudioConfig,
        Qwen2AudioEncoderConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        Qwen2Config,
        WhisperFeatureExtractor,
    )

    audio_tokens = ["<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *audio_tokens]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_byte_level_bpe(specials),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
    )
    extractor = WhisperFeatureExtractor(feature_size=80, chunk_length=chunk_seconds, sampling_rate=16000)
    processor = Qwen2AudioProcessor(feature_extractor=extractor, tokenizer=tokenizer)
    frames = extractor.nb_max_frames
    audio = Qwen2AudioEncoderConfig(
        d_model=16,
        encoder_layers=2,
        encoder_attention_heads=2,
        encoder_ffn_dim=32,
        num_mel_bins=80,
        max_source_positions=frames // 2,
    )
    text = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    config = Qwen2AudioConfig(
        audio_config=audio, text_config=text, audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>")
    )
    torch.manual_seed(seed)
    return _save(Qwen2AudioForConditionalGeneration(config).eval(), processor, folder)


def build_tiny_wav2vec2_ctc(folder, *, seed: int = 0) -> str:
    """A wav2vec2 CTC model (random weights) with a character tokenizer (`|` between words, `<pad>` the
    CTC blank) and a Wav2Vec2Processor: a stand-in for a speech recogniser used as a word aligner."""
    import json

    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2ForCTC, Wav2Vec2Processor

    os.makedirs(folder, exist_ok=True)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: 3 + i for i, c in enumerate("etaoinshrdlcum")}}
    vocab_file = os.path.join(folder, "vocab.json")
    with open(vocab_file, "w") as handle:
        json.dump(vocab, handle)
    tokenizer = Wav2Vec2CTCTokenizer(vocab_file, pad_token="<pad>", unk_token="<unk>", word_delimiter_token="|")
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, do_normalize=True, return_attention_mask=False
    )
    config = Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16),
        conv_stride=(5, 4, 4),
        conv_kernel=(10, 4, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="group",
        initializer_range=0.5,
        vocab_size=len(vocab),
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    model = Wav2Vec2ForCTC(config).eval()
    with torch.no_grad():  # favour blanks and word breaks, so random weights still emit several words
        model.lm_head.bias[vocab["<pad>"]] += 5.0
        model.lm_head.bias[vocab["|"]] += 3.0
    return _save(model, Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer), folder)
