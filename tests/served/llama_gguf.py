"""Write a transformers Llama folder as an f32 GGUF file that llama.cpp's server loads.

The served-model tests explain the *same weights* in process (hf_causal_lm) and behind llama.cpp's
OpenAI-compatible server, so the conversion must be exact: f32 tensors, HF names mapped to llama.cpp's,
and the query/key projections permuted from HF's rotate-half layout to llama.cpp's interleaved rotary
layout. The tokenizer travels as a byte-level BPE ("gpt2") vocabulary with its merges, so the server
decodes generated tokens to the same text the HF tokenizer gives. Only what the tiny Llama fixture
uses is covered (no rope scaling, no quantisation, untied output head).
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def _interleave_rotary(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """HF q/k rows per head are [first halves..., second halves...]; llama.cpp wants pairs interleaved."""
    out_dim = weight.shape[0]
    return weight.reshape(n_heads, 2, out_dim // n_heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def convert_llama(folder: str | Path, destination: str | Path) -> Path:
    folder, destination = Path(folder), Path(destination)
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = model.config
    head_dim = config.hidden_size // config.num_attention_heads

    writer = gguf.GGUFWriter(str(destination), "llama")
    writer.add_name(folder.name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(getattr(config, "rope_theta", None) or 10000.0))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    _add_tokenizer(writer, folder, tokenizer, config.vocab_size)

    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_layer = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    for i in range(config.num_hidden_layers):
        for hf, ours in per_layer.items():
            names[f"model.layers.{i}.{hf}"] = f"blk.{i}.{ours}"
    state = model.state_dict()
    missing = set(names) - set(state)
    if missing:
        raise ValueError(f"{folder}: not a plain Llama checkpoint (missing {sorted(missing)[:3]})")
    for hf, ours in names.items():
        weight = state[hf].detach().to(torch.float32).numpy()
        if hf.endswith("q_proj.weight"):
            weight = _interleave_rotary(weight, config.num_attention_heads)
        elif hf.endswith("k_proj.weight"):
            weight = _interleave_rotary(weight, config.num_key_value_heads)
        writer.add_tensor(ours, np.ascontiguousarray(weight))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return destination


def _add_tokenizer(writer: gguf.GGUFWriter, folder: Path, tokenizer, vocab_size: int) -> None:
    spec = json.loads((folder / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    by_id = {index: token for token, index in vocab.items()}
    special = {entry["id"]: entry["content"] for entry in spec.get("added_tokens", [])}
    by_id.update(special)
    tokens, types = [], []
    for index in range(vocab_size):
        token = by_id.get(index, f"[PAD{index}]")
        tokens.append(token)
        if index == tokenizer.unk_token_id:
            types.append(gguf.TokenType.UNKNOWN)
        elif index in special:
            types.append(gguf.TokenType.CONTROL)
        elif token.startswith("[PAD"):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = spec["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_unk_token_id(tokenizer.unk_token_id)
    writer.add_pad_token_id(tokenizer.pad_token_id)
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)
