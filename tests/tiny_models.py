"""Tiny random-weight transformers models and tokenizers, saved with `save_pretrained`.

Tests (and benchmarks) load them back through the same `from_pretrained` path a user's model
takes. Weights are seeded, so a folder built twice holds the same model. Tokenizers come from
a small corpus with the `tokenizers` library: byte-level BPE trained for the causal LMs and RoBERTa
(any text tokenizes, words split into sub-word pieces); WordPiece with [CLS]/[SEP]/[MASK] for the BERT
classifier, its vocabulary written out (the corpus words whole, other words in character pieces)
because the WordPiece trainer's vocabulary differs between processes. So every builder gives the same
numbers in every run. The Llama tokenizer carries a chat template; the GPT-2 one has none.
"""

from __future__ import annotations

import os

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
)

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A cat sat on the mat and looked at the bird outside the window.",
    "I loved this film, it was wonderful and the actors were great!",
    "This movie was terrible; the plot made no sense at all.",
    "What is the capital of France? Paris is the capital of France.",
    "Shapley values split a prediction among the input features.",
    "Please summarise the following paragraph in one sentence.",
    "The weather today is sunny with a light breeze from the west.",
    "Machine learning models can be explained by masking their inputs.",
    "She read the book in one evening and wrote a short review.",
    "Numbers like 12, 345 and 6789 appear in text too.",
    "Don't panic: well-known answers are often surprisingly simple.",
] * 4

LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _ascii_byte_alphabet() -> list[str]:
    """The byte-level alphabet's characters of the bytes 0-127 (GPT-2's byte-to-unicode map)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in printable]
    char = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(shifted)}
    return [char[b] for b in range(128)]


def _byte_level_bpe(special_tokens: list[str], vocab_size: int = 400, ascii_only: bool = False) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=_ascii_byte_alphabet() if ascii_only else pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return tokenizer


def _save(model, tokenizer, folder) -> str:
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_gpt2(folder, *, n_layer: int = 2, n_embd: int = 64, seed: int = 0) -> str:
    """A GPT-2 with random weights and a byte-level BPE tokenizer without chat template."""
    backend = _byte_level_bpe(["<|endoftext|>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    torch.manual_seed(seed)
    return _save(GPT2LMHeadModel(config).eval(), tokenizer, folder)


def build_tiny_llama(
    folder, *, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4, seed: int = 0, ascii_only: bool = False
) -> str:
    """A Llama with random weights, a byte-level BPE tokenizer and a chat template (system/user/assistant).

    `ascii_only`: the vocabulary has no byte above 127, so every token decodes to whole characters (random
    weights otherwise emit lone UTF-8 continuation bytes, which servers render differently).
    """
    specials = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>"]
    backend = _byte_level_bpe(specials, ascii_only=ascii_only)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=["<|system|>", "<|user|>", "<|assistant|>"],
    )
    tokenizer.chat_template = LLAMA_CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    return _save(LlamaForCausalLM(config).eval(), tokenizer, folder)


def _wordpiece_vocab(specials: list[str]) -> dict[str, int]:
    """A WordPiece vocabulary written out, not trained (the trainer's ties break differently per process):
    the corpus words whole, and every character alone and as a `##` continuation, so any other
    word splits into pieces."""
    normalize = normalizers.BertNormalizer(lowercase=True)
    split = pre_tokenizers.BertPreTokenizer()
    words: set[str] = set()
    for text in CORPUS:
        for word, _ in split.pre_tokenize_str(normalize.normalize_str(text)):
            words.add(word)
    chars = sorted({c for word in words for c in word})
    whole_words = sorted(w for w in words if len(w) > 1)
    tokens = [*specials, *chars, *(f"##{c}" for c in chars), *whole_words]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def build_tiny_bert_classifier(folder, *, num_labels: int = 3, seed: int = 0) -> str:
    """A BERT sequence classifier with random weights, labels negative/neutral/positive, a WordPiece tokenizer."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    backend = Tokenizer(models.WordPiece(_wordpiece_vocab(specials), unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", backend.token_to_id("[CLS]")), ("[SEP]", backend.token_to_id("[SEP]"))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    labels = (
        ["negative", "neutral", "positive"][:num_labels]
        if num_labels <= 3
        else [f"class_{i}" for i in range(num_labels)]
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        num_labels=num_labels,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    return _save(BertForSequenceClassification(config).eval(), tokenizer, folder)


def build_tiny_roberta_classifier(
    folder, *, num_labels: int = 3, seed: int = 0, initializer_range: float = 0.02
) -> str:
    """A RoBERTa sequence classifier with random weights and a byte-level BPE tokenizer (`<s> text </s>`,
    `<mask>`), labels as the BERT one's. A larger `initializer_range` than 0.02 gives a classifier whose
    output moves visibly with its input."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    backend = _byte_level_bpe(specials)
    backend.post_processor = processors.RobertaProcessing(
        ("</s>", backend.token_to_id("</s>")), ("<s>", backend.token_to_id("<s>")), add_prefix_space=False
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        cls_token="<s>",
        sep_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    labels = ["negative", "neutral", "positive"][:num_labels]
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=258,  # RoBERTa's positions start after the pad id
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    return _save(RobertaForSequenceClassification(config).eval(), tokenizer, folder)
