"""features.modalities / features.image / features.audio: validated at parse time, errors name the field;
text-only runs keep the spec (and run id) they had before media existed."""

import pytest

from shapsweep.config.experiment_set import from_config
from shapsweep.errors import ConfigError
from shapsweep.models.config import resolve_configs


def features(connector="hf_classifier", **block):
    return resolve_configs({"connector": connector}, block, None)[1]


def test_text_only_features_gain_no_media_fields():
    assert set(features(connector="sentence_embedder")) == {
        "granularity",
        "exclude_punctuation",
        "masking",
        "max_players",
    }
    assert "modalities" not in features(modalities=["text"])


def test_media_blocks_are_filled_when_their_modality_is_used():
    image = features(modalities=["image"], image={"grid": [2, 3], "baseline": [1, 2, 3]})
    assert image["image"] == {
        "players": "grid",
        "grid": [2, 3],
        "n_segments": 16,
        "compactness": 10.0,
        "baseline": [1, 2, 3],
    }
    audio = features(modalities=["audio"], audio={"players": "words"})
    assert audio["audio"]["players"] == "words" and audio["audio"]["window_ms"] == 500 and "image" not in audio


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"modalities": ["video"]}, "features.modalities: ['video'] is not one of"),
        ({"modalities": ["image", "text"]}, "features.modalities"),
        ({"modalities": ["text", "image"]}, "connector 'hf_classifier' takes"),
        ({"image": {"grid": [2, 2]}}, "features.image: only used when features.modalities includes 'image'"),
        ({"modalities": ["image"], "image": {"grid": [0, 2]}}, "features.image.grid"),
        ({"modalities": ["image"], "image": {"baseline": "gray"}}, "features.image.baseline: 'gray'"),
        ({"modalities": ["image"], "image": {"baseline": [1, 2, 300]}}, "features.image.baseline: expected [r, g, b]"),
        ({"modalities": ["image"], "image": {"tiles": 3}}, "features.image.tiles: unknown field"),
        ({"modalities": ["audio"], "audio": {"window_ms": 0}}, "features.audio.window_ms"),
        ({"modalities": ["audio"], "audio": {"fill": "pink"}}, "features.audio.fill: 'pink'"),
        ({"modalities": ["audio"], "audio": {"aligner": "x"}}, "features.audio.aligner"),
    ],
)
def test_bad_media_fields_name_the_field(block, message):
    with pytest.raises(ValueError) as caught:
        features(**block)
    assert message in str(caught.value)


def test_the_schema_and_the_run_spec_carry_media_blocks(tmp_path, tiny_vit_path):
    data = tmp_path / "rows.jsonl"
    data.write_text('{"image": "a.png"}\n')
    cfg = {
        "experiment_set_id": "img",
        "dataset": {"source": "json", "data_files": str(data)},
        "model": {"connector": "hf_classifier", "path_or_id": tiny_vit_path},
        "features": {"modalities": ["image"], "image": {"grid": [2, 2]}, "max_players": 8},
        "shap": {"method": "exact"},
        "experiments": [{"name": "zero"}, {"name": "blur", "features": {"image": {"baseline": "blur"}}}],
    }
    runs = list(from_config(cfg).runs.values())
    assert [r["explain"]["features"]["image"]["baseline"] for r in runs] == ["zero", "blur"]
    cfg["features"]["image"]["grid"] = [2]
    with pytest.raises(ConfigError, match=r"features\.image\.grid"):
        from_config(cfg)


def test_exact_limit_counts_the_players_a_grid_fixes(tmp_path, tiny_vit_path):
    data = tmp_path / "rows.jsonl"
    data.write_text('{"image": "a.png"}\n')
    cfg = {
        "experiment_set_id": "img",
        "dataset": {"source": "json", "data_files": str(data)},
        "model": {"connector": "hf_classifier", "path_or_id": tiny_vit_path},
        "features": {"modalities": ["image"], "image": {"grid": [2, 3]}},  # max_players stays at its 64
        "shap": {"method": "exact"},
        "experiments": [{"name": "grid"}],
    }
    (run,) = from_config(cfg).runs.values()
    assert run["explain"]["features"]["max_players"] == 64
    cfg["features"]["image"]["grid"] = [5, 5]
    with pytest.raises(ConfigError, match=r"features\.image\.grid: 25 players is over the exact method's limit of 20"):
        from_config(cfg)
    cfg["features"]["image"] = {"players": "superpixels"}  # superpixel counts vary by image: max_players bounds them
    with pytest.raises(ConfigError, match=r"features\.max_players: 64 players is over the exact method's limit"):
        from_config(cfg)


@pytest.mark.parametrize("name", ["image_classifier", "audio_classifier"])
def test_example_configs_validate_and_their_first_media_decode(name, monkeypatch, request):
    from pathlib import Path

    from shapsweep.commands.validate import check_dataset
    from shapsweep.config import ConfigError, load_experiment_set

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)  # the examples' data_files are relative to the repository root
    example = str(repo / "config" / "examples" / f"{name}.jsonnet")
    # The examples name hub checkpoints; offline (as tests run) the parse-time model check refuses them
    # with a clear message, and the same example validates with a local model of the same kind.
    with pytest.raises(ConfigError, match=r"model\.path_or_id: hub id .* is not in the local Hugging Face cache"):
        load_experiment_set(example)
    local = request.getfixturevalue("tiny_vit_path" if name.startswith("image") else "tiny_wav2vec2_path")
    exp = load_experiment_set(example, overrides={"model": {"path_or_id": local}})
    modality = "image" if name.startswith("image") else "audio"
    assert all(run["explain"]["features"]["modalities"] == [modality] for run in exp.runs.values())
    lines = check_dataset(exp)
    assert any(f"{modality}: first file decodes" in line for line in lines)
