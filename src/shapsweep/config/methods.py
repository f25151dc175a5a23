"""Methods beside the game estimators, and what the config checks for them before any job starts.

`integrated_gradients` differentiates the model's value with respect to its input embeddings
(models/integrated_gradients.py); `empirical` predicts another run's attributions with a learned
explainer (shapsweep.empirical), trained by the `train_explainer` rule on that run's shards. Neither
evaluates coalitions, so budget knobs do not apply to them; the game estimators are `estimators.METHODS`.
Their names and IG's options are declared with the other `shap` fields, in config/blocks.py.
"""

from __future__ import annotations

import copy

from shapsweep.config.blocks import (
    ABLATION_GAME_FIELDS,
    ABLATION_GAME_OPTIONS,
    EMPIRICAL,
    IG_FIELDS,
    IG_OPTIONS,
    PATH_KERNEL,
    PATH_KERNEL_FIELDS,
    PATH_KERNEL_OPTIONS,
    UPDATE_GAME_FIELDS,
    UPDATE_GAME_OPTIONS,
)
from shapsweep.config.schema import validate
from shapsweep.errors import ConfigError
from shapsweep.fields import object_schema
from shapsweep.hashing import readable, short_hash


def check_integrated_gradients(merged: dict, label: str) -> None:
    """Fill and check `shap.options` of an IG run, and refuse a value that has no gradient (parse time)."""
    from shapsweep.models.config import check_differentiable

    shap = merged["shap"]
    validate(shap["options"], object_schema(IG_FIELDS, with_defaults=False), prefix=f"{label}.shap.options")
    options = {**IG_OPTIONS, **shap["options"]}
    try:
        check_differentiable(merged["model"], merged["features"], merged["value"])
    except ValueError as exc:
        raise ConfigError(f"{label}.{exc}") from None
    shap["options"] = options


def check_trace_method(merged: dict, label: str) -> None:
    """Fill and check `shap.options` of a path_kernel or update_game run; its value must have a gradient."""
    from shapsweep.models.config import check_differentiable

    shap = merged["shap"]
    fields, filled = (
        (PATH_KERNEL_FIELDS, PATH_KERNEL_OPTIONS)
        if shap["method"] == PATH_KERNEL
        else (UPDATE_GAME_FIELDS, UPDATE_GAME_OPTIONS)
    )
    validate(shap["options"], object_schema(fields, with_defaults=False), prefix=f"{label}.shap.options")
    options = {**filled, **shap["options"]}
    steps = options["steps"]
    if steps != "all" and not steps[0] < steps[1]:
        raise ConfigError(f"{label}.shap.options.steps: [{steps[0]}, {steps[1]}] is empty; give [s0, s1] with s0 < s1")
    connector = merged["model"]["connector"]
    if connector not in ("hf_classifier", "hf_causal_lm"):
        raise ConfigError(
            f"{label}.model.connector: {shap['method']} explains a trained hf_classifier or hf_causal_lm, "
            f"not {connector!r}"
        )
    try:
        check_differentiable(merged["model"], merged["features"], merged["value"])
    except ValueError as exc:
        raise ConfigError(f"{label}.{exc}".replace("integrated_gradients", shap["method"])) from None
    shap["options"] = options


def check_ablation_game(merged: dict, label: str) -> None:
    """Fill and check `shap.options` of an ablation_game run: a text classifier or a causal LM's logprob.

    Whether the model's architecture has the components asked for is known once it is loaded (the explain
    job refuses it then, naming shap.options.components)."""
    from shapsweep.models.config import check_differentiable

    shap = merged["shap"]
    validate(shap["options"], object_schema(ABLATION_GAME_FIELDS, with_defaults=False), prefix=f"{label}.shap.options")
    options = {**ABLATION_GAME_OPTIONS, **shap["options"]}
    connector = merged["model"]["connector"]
    if connector not in ("hf_classifier", "hf_causal_lm"):
        raise ConfigError(
            f"{label}.model.connector: ablation_game ablates the components of an hf_classifier or hf_causal_lm "
            f"transformer, not {connector!r}"
        )
    try:  # the row's value is recomputed from its token ids: text players, no greedy decoding
        check_differentiable(merged["model"], merged["features"], merged["value"])
    except ValueError as exc:
        why = str(exc).replace("integrated_gradients", "ablation_game").replace("is not differentiable", "is generated")
        raise ConfigError(f"{label}.{why}") from None
    shap["options"] = options  # the estimator's own settings: experiment_set._check_game_estimator


def check_empirical(merged: dict, label: str) -> None:
    """Fill and check `shap.options` of an empirical run (its target is resolved once every run is known)."""
    from shapsweep.empirical.options import validate_training_options

    shap = merged["shap"]
    options = dict(shap["options"])
    target = options.pop("target", None)
    if not isinstance(target, str) or not target:
        raise ConfigError(
            f"{label}.shap.options.target: required for method 'empirical': the name (or slug) of the variant "
            "whose attributions the explainer learns"
        )
    if merged["features"].get("modalities", ["text"]) != ["text"]:
        raise ConfigError(
            f"{label}.features.modalities: empirical explainers support text players only "
            f"(got {merged['features']['modalities']}); explain media rows with a game estimator"
        )
    if merged["features"]["granularity"] == "token":
        raise ConfigError(
            f"{label}.features.granularity: empirical explainers take word, sentence or spans players "
            "(token players depend on the target model's tokenizer, which the explainer does not load)"
        )
    try:
        filled = validate_training_options(options)
    except ValueError as exc:
        raise ConfigError(f"{label}.{exc}") from None
    shap["options"] = {"target": target, **filled}


def training_options(run: dict) -> dict:
    """What the explainer is trained with: an empirical run's options without its target's name."""
    return {k: v for k, v in run["explain"]["shap"]["options"].items() if k != "target"}


def explainer_id(target_run: dict, options: dict) -> str:
    """`<target slug>-<hash>`: the hash covers the target run id and the training options, so a change of
    either trains a new explainer and nothing else does (an empirical run's own name or budget never)."""
    digest = short_hash({"target_run": target_run["run_id"], "training": options}, 8)
    return f"{readable(target_run['slug'], 48)}-{digest}"


def resolve_targets(runs: dict[str, dict], label_of) -> dict[str, dict]:
    """Bind each empirical run to its target run; returns the runs with new ids where a target was bound.

    The target is named by variant name (it must expand to one run) or by run slug. It must explain the
    same model, features and value (the explainer learns that game's attributions) and must not itself be
    empirical. The target run id joins the empirical run's hashed spec, so a changed target gives a new id.
    """
    by_variant: dict[str, list[str]] = {}
    by_slug: dict[str, str] = {}
    for run_id, run in runs.items():
        by_variant.setdefault(run["variant"], []).append(run_id)
        by_slug[run["slug"]] = run_id
    out: dict[str, dict] = {}
    for run_id, run in runs.items():
        shap = run["explain"]["shap"]
        if shap["method"] != EMPIRICAL:
            out[run_id] = run
            continue
        label = label_of(run)
        name = shap["options"]["target"]
        candidates = by_variant.get(name) or ([by_slug[name]] if name in by_slug else [])
        if not candidates:
            known = ", ".join(sorted(set(by_variant) | set(by_slug)))
            raise ConfigError(f"{label}.shap.options.target: no variant or run slug {name!r} in this set ({known})")
        if len(candidates) > 1:
            slugs = ", ".join(runs[c]["slug"] for c in candidates)
            raise ConfigError(
                f"{label}.shap.options.target: variant {name!r} expands into {len(candidates)} runs; "
                f"name one by its slug ({slugs})"
            )
        target = runs[candidates[0]]
        if target["explain"]["shap"]["method"] == EMPIRICAL:
            raise ConfigError(
                f"{label}.shap.options.target: {name!r} is itself an empirical run; target a run "
                "whose attributions come from the model (a Shapley estimator or integrated_gradients)"
            )
        for block in ("model", "features", "value"):
            if target["explain"][block] != run["explain"][block]:
                raise ConfigError(
                    f"{label}.{block}: differs from its target {name!r}'s; an empirical run explains its target's "
                    f"game, so give it the same {block} block (set it at the top level, not in one variant)"
                )
        run = copy.deepcopy(run)
        options = training_options(run)
        run["empirical"] = {
            "target_run": target["run_id"],
            "target_data_id": target["data_id"],
            "explainer_id": explainer_id(target, options),
        }
        run["hashed"]["target_run"] = target["run_id"]
        run["hash"] = short_hash(run["hashed"], 8)
        run["run_id"] = f"{run['slug']}-{run['hash']}"
        out[run["run_id"]] = run
    return out
