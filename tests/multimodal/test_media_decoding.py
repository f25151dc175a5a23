"""Media values decode in the job: paths (relative to the dataset file), bytes, HF feature dicts; bad ones
become `bad_media` row errors naming the file."""

import io

import numpy as np
import polars as pl
import pytest
import skimage.data
import soundfile

from shapsweep.data.media import absolute_media_paths, decode_audio, decode_image, resample
from shapsweep.data.selection import select_rows
from shapsweep.errors import RowError


def test_image_from_path_bytes_and_feature_dict(media_dir):
    expected = skimage.data.chelsea()
    path = media_dir / "chelsea.png"
    for value in (
        str(path),
        path.read_bytes(),
        {"bytes": path.read_bytes(), "path": None},
        {"bytes": None, "path": str(path)},
    ):
        assert np.array_equal(decode_image(value), expected)
    grey = decode_image(str(media_dir / "camera.png"))
    assert grey.shape == (512, 512, 3) and np.array_equal(grey[..., 0], skimage.data.camera())


@pytest.mark.parametrize(
    ("value", "needle"), [("corrupt.png", "corrupt.png"), ("missing.png", "missing.png"), (b"junk", "4 bytes")]
)
def test_bad_images_are_bad_media_naming_the_file(media_dir, value, needle):
    value = str(media_dir / value) if isinstance(value, str) else value
    with pytest.raises(RowError) as caught:
        decode_image(value)
    assert caught.value.kind == "bad_media" and needle in caught.value.message


def test_audio_from_wav_flac_bytes_and_arrays(media_dir):
    wav, rate = decode_audio(str(media_dir / "speech.wav"))
    assert rate == 22050 and wav.dtype == np.float32 and wav.ndim == 1
    stereo, rate8 = decode_audio({"bytes": (media_dir / "speech.flac").read_bytes(), "path": "speech.flac"})
    assert rate8 == 8000 and stereo.ndim == 1
    assert abs(len(stereo) / rate8 - len(wav) / rate) < 0.01
    array, r = decode_audio({"array": [0.0, 0.5, -0.5], "sampling_rate": 16000})
    assert r == 16000 and array.tolist() == [0.0, 0.5, -0.5]
    with pytest.raises(RowError, match=r"bad_media: `audio` file .*nothing\.wav.* does not exist"):
        decode_audio(str(media_dir / "nothing.wav"))
    with pytest.raises(RowError) as caught:
        decode_audio(str(media_dir / "corrupt.png"))
    assert caught.value.kind == "bad_media" and "corrupt.png" in caught.value.message


def test_resample_keeps_a_tone_at_its_pitch():
    rate, target = 22050, 16000
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = resample(tone, rate, target)
    assert len(out) == target
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * target / len(out) - 440) < 2


def test_rows_resolve_relative_paths_from_the_dataset_folder(media_dir, tmp_path, monkeypatch):
    data = media_dir / "meta.jsonl"
    data.write_text('{"file_name": "chelsea.png", "label": 0}\n{"file_name": "missing.png", "label": 1}\n')
    monkeypatch.chdir(tmp_path)  # relative to the dataset file, not the working directory
    rows = select_rows(
        {"source": "json", "data_files": str(data), "split": "train", "columns": {"image": "file_name"}}, {}
    )
    assert "text" not in rows.columns
    assert rows["image"].to_list() == [str(media_dir / "chelsea.png"), str(media_dir / "missing.png")]
    assert decode_image(rows["image"][0]).shape == (300, 451, 3)


def test_feature_dicts_with_bytes_are_left_alone(media_dir):
    table = pl.DataFrame({"image": [{"bytes": b"x", "path": "a.png"}, {"bytes": None, "path": "chelsea.png"}]})
    out = absolute_media_paths(table, [media_dir])
    assert out["image"].to_list() == [
        {"bytes": b"x", "path": "a.png"},
        {"bytes": None, "path": str(media_dir / "chelsea.png")},
    ]


def test_soundfile_round_trip_is_what_the_connector_hears(tmp_path):
    samples = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 8000, format="WAV", subtype="FLOAT")
    decoded, rate = decode_audio(buffer.getvalue())
    assert rate == 8000 and np.allclose(decoded, samples)


def test_hugging_face_image_and_audio_features_load_and_decode(media_dir, tmp_path):
    import datasets

    table = datasets.Dataset.from_dict(
        {
            "img": [{"bytes": (media_dir / "chelsea.png").read_bytes(), "path": None}],
            "snd": [{"bytes": (media_dir / "speech.wav").read_bytes(), "path": "speech.wav"}],
        }
    )
    # cast, not encode: encoding an Audio feature needs torchcodec, casting its storage does not
    table = table.cast_column("img", datasets.Image()).cast_column("snd", datasets.Audio())
    table.to_parquet(str(tmp_path / "media.parquet"))
    rows = select_rows(
        {
            "source": "parquet",
            "data_files": str(tmp_path / "media.parquet"),
            "split": "train",
            "columns": {"image": "img", "audio": "snd"},
        },
        {},
    )
    row = rows.row(0, named=True)
    assert row["audio"]["path"] == "speech.wav"  # bytes win: the name is only a label
    assert decode_image(row["image"]).shape == (300, 451, 3)
    assert decode_audio(row["audio"])[1] == 22050
