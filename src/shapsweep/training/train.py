"""The pipeline's own seeded training loop, recorded into a trace and resumable bitwise.

Batches come from a per-epoch permutation seeded by (seed, epoch), and the learning rate from the schedule
at the step index, so no RNG or scheduler state needs saving: resuming loads the last complete step folder
(θ_s, m_s, v_s, Adam's step count) and redoes update s, which reproduces θ_T bit for bit on the same device.
The model trains in eval mode (no dropout), so every recorded step's gradient can be recomputed from the
trace: the path kernel needs exactly that. The loss of a batch is the mean over its examples of each
example's loss (a causal LM's per-example loss is the mean over its target tokens), so the batch gradient is
the mean of per-example gradients.
"""

from __future__ import annotations

import math
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer, get_scheduler

from shapsweep.atomic_outputs import atomic_dir
from shapsweep.training.recorder import TraceRecorder
from shapsweep.training.trace import is_complete, read_step, recorded_steps

KINDS = ("hf_classifier", "hf_causal_lm")
# A fault hook for the resume test: SIGKILL this process once the given step's folder is whole (nothing in
# Python runs after it, as when a node dies or a scheduler kills the job).
KILL_AFTER_STEP = "SHAPSWEEP_TEST_KILL_AFTER_STEP"


@dataclass
class TrainingOptions:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01
    schedule: str = "constant"  # any transformers.get_scheduler name: constant, linear, cosine, ...
    warmup_steps: int = 0
    batch_size: int = 8
    steps: int | None = None
    epochs: int | None = None
    shuffle: bool = True
    seed: int = 0
    trainable: str | None = None  # a regex on parameter names; None trains all
    window: tuple[int, int] | None = None
    extra: dict = field(default_factory=dict)


def total_steps(n_rows: int, options: TrainingOptions) -> int:
    per_epoch = math.ceil(n_rows / options.batch_size)
    if options.steps is not None:
        return options.steps
    if options.epochs is not None:
        return options.epochs * per_epoch
    raise ValueError("training: set `steps` or `epochs`")


def batch_indices(step: int, n_rows: int, options: TrainingOptions) -> list[int]:
    """Row positions of update `step`: a function of (seed, step) alone, so a resumed run draws the same batch."""
    per_epoch = math.ceil(n_rows / options.batch_size)
    epoch, within = divmod(step, per_epoch)
    if options.shuffle:
        order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(options.seed * 100_003 + epoch))
    else:
        order = torch.arange(n_rows)
    return order[within * options.batch_size : (within + 1) * options.batch_size].tolist()


def load_for_training(model_path: str | Path, kind: str):
    if kind not in KINDS:
        raise ValueError(f"training.model.connector {kind!r} cannot be trained here; use one of {list(KINDS)}")
    auto = AutoModelForSequenceClassification if kind == "hf_classifier" else AutoModelForCausalLM
    model = auto.from_pretrained(str(model_path), torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.eval(), tokenizer


def class_index(label, label2id: dict, row_id) -> int:
    """A training row's class: an index, or a label name of the model (`config.label2id`)."""
    if isinstance(label, str) and not label.lstrip("-").isdigit():
        label2id = {**{k.lower(): v for k, v in label2id.items()}, **label2id}  # POSITIVE == positive
        label = label if label in label2id else label.lower()
        if label not in label2id:
            raise ValueError(
                f"training row {row_id!r}: label {label!r} is not a class of the model ({', '.join(label2id)}); "
                "map training.target to class names or indexes of the model"
            )
        return int(label2id[label])
    return int(label)


def example_losses(model, tokenizer, kind: str, rows: list[dict]) -> torch.Tensor:
    """One loss per row: cross-entropy of the label, or the mean next-token loss over the target text."""
    return batch_losses(model, kind, training_batch(model, tokenizer, kind, rows))


def training_batch(model, tokenizer, kind: str, rows: list[dict]) -> dict:
    """The rows as model inputs with a leading row axis (padded on the right), and their targets.

    No position ids are passed: the model uses its own defaults (RoBERTa-like models offset them past the
    padding index), exactly as when it explains one row at a time.
    """
    if kind == "hf_classifier":
        batch = dict(tokenizer([r["text"] for r in rows], return_tensors="pt", padding=True, truncation=True))
        label2id = getattr(model.config, "label2id", None) or {}
        batch["labels"] = torch.tensor([class_index(r["label"], label2id, r.get("row_id")) for r in rows])
        return batch
    # causal LM: tokenize prompt and target apart so the target's tokens are known; pad on the right.
    ids, targets = [], []
    for r in rows:
        prompt = tokenizer(r["text"], add_special_tokens=True)["input_ids"]
        target = tokenizer(r["target"], add_special_tokens=False)["input_ids"]
        if not target:
            raise ValueError(f"training row {r.get('row_id')!r}: the target text is empty after tokenization")
        ids.append(prompt + target)
        targets.append([-100] * len(prompt) + target)
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    return {
        "input_ids": torch.tensor([x + [pad] * (width - len(x)) for x in ids]),
        "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
        "labels": torch.tensor([t + [-100] * (width - len(t)) for t in targets]),
    }


def batch_losses(model, kind: str, batch: dict) -> torch.Tensor:
    """One loss per row of a `training_batch`."""
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    labels = batch["labels"].to(device)
    if kind == "hf_classifier":
        return torch.nn.functional.cross_entropy(model(**inputs).logits, labels, reduction="none")
    logits = model(**inputs).logits[:, :-1]
    shifted = labels[:, 1:]
    token_loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), shifted.reshape(-1), reduction="none", ignore_index=-100
    ).view(shifted.shape)
    counted = (shifted != -100).sum(dim=1)
    return token_loss.sum(dim=1) / counted


def _freeze(model, pattern: str | None) -> None:
    if pattern is None:
        return
    regex = re.compile(pattern)
    names = [n for n, _ in model.named_parameters()]
    if not any(regex.search(n) for n in names):
        raise ValueError(f"training.trainable {pattern!r} matches no parameter name (e.g. {names[:3]})")
    for name, p in model.named_parameters():
        p.requires_grad_(bool(regex.search(name)))


def train(root: str | Path, model_path: str | Path, kind: str, rows: list[dict], options: TrainingOptions) -> Path:
    """Train and record into `root`; a trace with `final/` is left alone, a partial one resumes."""
    root = Path(root)
    if is_complete(root):
        return root
    if not rows:
        raise ValueError("training: no training rows selected")
    torch.use_deterministic_algorithms(True, warn_only=True)
    model, tokenizer = load_for_training(model_path, kind)
    _freeze(model, options.trainable)
    if not (root / "base").is_dir():
        with atomic_dir(root / "base") as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=options.lr, betas=options.betas, eps=options.eps, weight_decay=options.weight_decay
    )
    steps = total_steps(len(rows), options)
    schedule = get_scheduler(
        options.schedule, optimizer, num_warmup_steps=options.warmup_steps, num_training_steps=steps
    ).lr_lambdas[0]
    recorder = TraceRecorder(
        root,
        model,
        optimizer,
        row_ids=[r["row_id"] for r in rows],
        total_steps=steps,
        window=options.window,
        extra={"kind": kind, **options.extra},
    )
    start = _resume(root, model, optimizer, recorder)
    for step in range(start, steps):
        batch = [rows[i] for i in batch_indices(step, len(rows), options)]
        optimizer.zero_grad(set_to_none=True)
        loss = example_losses(model, tokenizer, kind, batch).mean()
        loss.backward()
        optimizer.param_groups[0]["lr"] = options.lr * schedule(step)
        recorder.record(step, batch_row_ids=[r["row_id"] for r in batch], loss=loss.item())
        if os.environ.get(KILL_AFTER_STEP) == str(step):
            os.kill(os.getpid(), signal.SIGKILL)
        optimizer.step()
    recorder.finish(steps)
    return root


def _resume(root: Path, model, optimizer, recorder: TraceRecorder) -> int:
    """Load the last complete step folder into the model and the optimizer; the step to redo (0 if none)."""
    done = recorded_steps(root)
    if not done:
        return 0
    state = read_step(root, done[-1])
    with torch.no_grad():
        for name, p in recorder.params.items():
            p.copy_(state.params[name])
            if state.adam_step:
                optimizer.state[p] = {
                    "step": torch.tensor(float(state.adam_step)),
                    "exp_avg": state.exp_avg[name].clone(),
                    "exp_avg_sq": state.exp_avg_sq[name].clone(),
                }
    return done[-1]
