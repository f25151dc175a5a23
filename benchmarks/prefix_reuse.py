"""Coalitions per second of hf_causal_lm with and without KV-prefix reuse, beside the raw forward ceiling.

    .venv/bin/python benchmarks/prefix_reuse.py [--repeats 3] [--cases llama,llama_generate,llama1b]

A ~200-token system prompt (inside the chat template) and 16 word players per row: every coalition
shares the template and system prompt, which reuse computes once per job instead of once per
coalition. Rows timed per case: shapsweep's coalition calls with reuse, without it, and (teacher
forcing) the raw batched forward passes of the same full masked prompts that throughput.py calls the
ceiling. Best of `--repeats` interleaved runs. Prints a Markdown table and writes
benchmarks/out/prefix_reuse_<clock>_<threads>threads.json. The ~1B bf16 Llama case needs CUDA and
is skipped, with a note, without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
import throughput_cases as cases
import throughput_tools as tools
import torch

from shapsweep.models import load_model

OUT = os.path.join(os.path.dirname(__file__), "out")

SYSTEM_SENTENCES = (
    "You are a careful assistant that answers questions about geography, history, science and daily life. "
    "Answer in one short sentence, use plain words, never invent facts, and say when you do not know. "
    "Keep a friendly tone, avoid lists, do not repeat the question, and prefer the most common spelling. "
)

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "a",
    "farmer",
    "watches",
    "from",
    "an",
    "old",
    "barn",
    "near",
    "the",
    "river",
    "and",
    "children",
    "read",
    "books",
    "about",
    "cats",
    "birds",
    "weather",
    "films",
    "machines",
    "and",
    "the",
    "capital",
    "of",
    "France",
]


def system_prompt(tokenizer, n_tokens: int = 200) -> str:
    """Plain sentences cut to `n_tokens` tokens of this tokenizer."""
    text = SYSTEM_SENTENCES
    while len(tokenizer(text, add_special_tokens=False)["input_ids"]) < n_tokens:
        text += SYSTEM_SENTENCES
    return tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][:n_tokens]).strip()


def sixteen_words(rng) -> str:
    return " ".join(rng.choice(WORDS, 16))


def with_system_prompt(case: cases.Case, value_cfg: dict | None = None, name: str | None = None) -> cases.Case:
    """The case with a ~200-token system prompt and rows of 16 words (16 word players)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(case.model_cfg["path_or_id"])
    rng = np.random.default_rng(0)
    case.model_cfg = {**case.model_cfg, "system_prompt": system_prompt(tokenizer)}
    case.features_cfg = {"granularity": "word", "masking": "remove"}
    case.rows = [{**row, "text": sixteen_words(rng)} for row in case.rows]
    case.value_cfg = value_cfg or case.value_cfg
    case.name = name or case.name
    return case


def shapsweep_run(model, case, reuse: bool):
    def run():
        model.reuse_prefix = reuse
        try:
            return tools.run_shapsweep(model, case, include_reference=False)
        finally:
            model.reuse_prefix = True

    return run


def measure(case, repeats: int, ceiling: bool) -> list[dict]:
    model = load_model(case.model_cfg, case.features_cfg, case.value_cfg)
    tokenized = model.tokenize(case.rows[0], 0)
    from shapsweep.models.prefix_cache import shared_prefix_length

    prefix, total = shared_prefix_length(tokenized.owners), len(tokenized.ids)
    print(f"  prompt: {total} tokens, shared prefix {prefix}, {tokenized.n_players} players", flush=True)
    runs = [("shapsweep, prefix reuse", shapsweep_run(model, case, True))]
    runs.append(("shapsweep, no reuse (every coalition's whole prompt)", shapsweep_run(model, case, False)))
    if ceiling:
        runs.append(("ceiling: raw batched forward of the full prompts", lambda: tools.causal_lm_ceiling(model, case)))
    tools.run_shapsweep(model, case)  # warm-up (lazy initialisation, the prefix cache of the job)
    best: dict[str, tuple[int, float]] = {}
    for _ in range(repeats):
        for label, runner in runs:
            count, seconds = runner()
            print(f"  {label}: {count} coalitions in {seconds:.3f} s = {count / seconds:.1f}/s", flush=True)
            if label not in best or seconds < best[label][1]:
                best[label] = (count, seconds)
    reuse_rate = best[runs[0][0]][0] / best[runs[0][0]][1]
    rows = []
    for label, (count, seconds) in best.items():
        rate = count / seconds
        rows.append(
            {
                "case": case.name,
                "tool": label,
                "prompt_tokens": total,
                "prefix_tokens": prefix,
                "coalitions": count,
                "seconds": seconds,
                "rate": rate,
                "reuse_speedup": reuse_rate / rate,
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| case | tool | prompt / prefix tokens | coalitions | s | coalitions/s | reuse × this |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['tool']} | {r['prompt_tokens']} / {r['prefix_tokens']} | {r['coalitions']} "
            f"| {r['seconds']:.2f} | {r['rate']:.1f} | {r['reuse_speedup']:.2f}× |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="llama,llama_generate,llama1b")
    parser.add_argument("--rows", type=int, default=2, help="rows per case")
    parser.add_argument("--evaluations", type=int, default=128, help="coalitions per row (teacher forcing)")
    parser.add_argument("--clock", choices=["wall", "process"], default="wall")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--models-dir", default=None, help="where to build the random-weight models")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tools.set_clock(args.clock)
    warnings.filterwarnings("ignore")
    folder = args.models_dir or tempfile.mkdtemp(prefix="shapsweep-bench-")
    wanted = args.cases.split(",")
    rows, notes = [], []

    def sized(case, evaluations):
        case.rows, case.evaluations = case.rows[: args.rows], evaluations
        return case

    if "llama" in wanted:
        print("tiny Llama logprob (CPU), 200-token system prompt", flush=True)
        case = with_system_prompt(cases.tiny_llama_case(folder), name="tiny Llama logprob (CPU)")
        rows += measure(sized(case, args.evaluations), args.repeats, ceiling=True)
    if "llama_generate" in wanted:
        print("tiny Llama generate_similarity (CPU), 200-token system prompt", flush=True)
        value = {"kind": "generate_similarity", "embedding": "static", "similarity": "cosine"}
        case = with_system_prompt(cases.tiny_llama_case(folder), value, "tiny Llama greedy generation (CPU)")
        rows += measure(sized(case, max(1, args.evaluations // 4)), args.repeats, ceiling=False)
    if "llama1b" in wanted:
        if torch.cuda.is_available():
            print("Llama ~1B bf16 logprob (GPU), 200-token system prompt", flush=True)
            case = with_system_prompt(cases.llama_1b_case(folder), name="Llama ~1B bf16 logprob (GPU)")
            rows += measure(sized(case, 4 * args.evaluations), args.repeats, ceiling=True)
        else:
            notes.append("Llama ~1B bf16 (GPU) case skipped: no CUDA device on this machine.")
    print()
    print(table(rows))
    for note in notes:
        print(f"\n{note}")
    print(f"\ntorch {torch.__version__}, {args.threads} CPU threads, {args.clock} clock, best of {args.repeats} runs")
    os.makedirs(OUT, exist_ok=True)
    tmp = os.path.join(OUT, ".prefix_reuse.json.tmp")
    with open(tmp, "w") as fh:
        json.dump({"rows": rows, "notes": notes}, fh, indent=1)
    os.replace(tmp, os.path.join(OUT, f"prefix_reuse_{args.clock}_{args.threads}threads.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
