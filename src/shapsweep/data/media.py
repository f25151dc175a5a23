"""Media values of a row (`image`, `audio`): where they live, and decoding them in the job.

A media value is a file path, raw bytes, or a Hugging Face `Image`/`Audio` feature's storage dict
(`{"bytes": ..., "path": ...}`; an `Audio` dict may also carry a decoded `array` and `sampling_rate`).
Relative paths are read from the folder of the dataset file, as Hugging Face's imagefolder/audiofolder
metadata files do: the `rows` rule makes them absolute (`absolute_media_paths`), so the job never needs
the dataset block. Decoding happens only in the job (`decode_image`, `decode_audio`); a missing or
corrupt file is a `RowError("bad_media")` naming the file, so the rest of the shard is kept.

Images decode with PIL, audio with soundfile (WAV, FLAC, OGG); `datasets`' own Audio decoding needs
torchcodec, which this project does not install.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from shapsweep.errors import RowError

MEDIA_COLUMNS = ("image", "audio")


def _describe(value) -> str:
    """The file a value names, for error messages (bytes say how many)."""
    if isinstance(value, dict):
        if value.get("path"):
            return repr(str(value["path"]))
        if value.get("bytes") is not None:
            return f"<{len(value['bytes'])} bytes>"
        return "<empty media value>"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return repr(str(value))


def _source(value, column: str):
    """A path (str) or a binary file object for `value`; RowError for a missing file or an empty value."""
    if value is None:
        raise RowError("missing_column", f"the row has no `{column}` (map it with dataset.columns)")
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return io.BytesIO(bytes(value["bytes"]))
        value = value.get("path")
        if not value:
            raise RowError("bad_media", f"`{column}` holds neither bytes nor a path")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(value))
    path = Path(str(value))
    if not path.is_file():
        raise RowError("bad_media", f"`{column}` file {str(path)!r} does not exist")
    return str(path)


def decode_image(value) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image value (grey and RGBA images are converted)."""
    from PIL import Image, UnidentifiedImageError

    source = _source(value, "image")
    try:
        with Image.open(source) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise RowError("bad_media", f"`image` {_describe(value)} cannot be decoded ({error})") from error


def decode_audio(value) -> tuple[np.ndarray, int]:
    """(samples, sampling_rate): mono float32 samples in [-1, 1] (channels are averaged)."""
    import soundfile

    if isinstance(value, dict) and value.get("array") is not None:
        samples = np.asarray(value["array"], dtype=np.float32)
        rate = value.get("sampling_rate")
        if not rate:
            raise RowError("bad_media", "`audio` holds an array without a sampling_rate")
        return (samples.mean(axis=-1) if samples.ndim == 2 else samples), int(rate)
    source = _source(value, "audio")
    try:
        samples, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError, ValueError) as error:
        raise RowError("bad_media", f"`audio` {_describe(value)} cannot be decoded ({error})") from error
    if samples.shape[0] == 0:
        raise RowError("bad_media", f"`audio` {_describe(value)} has no samples")
    return samples.mean(axis=1).astype(np.float32), int(rate)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`samples` at `target` Hz (polyphase filtering, scipy), float32."""
    if rate == target:
        return samples.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def _absolute(value, folders: list[Path]):
    """`value` with a relative path made absolute: the first folder holding it, else the first folder."""

    def resolve(path: str) -> str:
        if not path or Path(path).is_absolute() or not folders:
            return path
        for folder in folders:
            if (folder / path).exists():
                return str((folder / path).resolve())
        return str((folders[0] / path).resolve())

    if isinstance(value, str):
        return resolve(value)
    if isinstance(value, dict) and value.get("bytes") is None and isinstance(value.get("path"), str):
        return {**value, "path": resolve(value["path"])}
    return value


def _plain_word_times(table):
    """`word_times` written as JSON triples ([start_s, end_s, "word"], mixed types) arrive from `datasets`
    as JSON-extension strings, which Parquet cannot store: keep them as lists of plain strings, which
    the job parses (and reports per row when malformed). `{start, end, word}` records stay as they are."""
    import json

    import polars as pl

    if "word_times" not in table.columns or "arrow.json" not in str(table.schema["word_times"]):
        return table

    def plain(item):
        try:
            value = json.loads(item)
        except (TypeError, ValueError):
            return item
        return value if isinstance(value, str) else json.dumps(value)

    values = [
        None if row is None else [None if t is None else [plain(x) for x in t] for t in row]
        for row in table["word_times"].to_list()
    ]
    return table.with_columns(pl.Series("word_times", values, dtype=pl.List(pl.List(pl.Utf8))))


def _absolute_message_media(table, folders: list[Path]):
    """`messages` whose image/audio parts name relative files, with those paths made absolute (the part's
    `image` / `audio` or `path` key), as for the media columns."""
    import polars as pl

    if "messages" not in table.columns or not folders:
        return table
    dtype = table.schema["messages"]

    def fix_part(part):
        if not isinstance(part, dict) or part.get("type") not in ("image", "audio"):
            return part
        return {
            k: (_absolute(v, folders) if k in (part["type"], "path") and isinstance(v, str) else v)
            for k, v in part.items()
        }

    def fix(messages):
        if messages is None:
            return None
        return [
            {**m, "content": [fix_part(p) for p in m["content"]]} if isinstance(m.get("content"), list) else m
            for m in messages
        ]

    values = [fix(v) for v in table["messages"].to_list()]
    return table.with_columns(pl.Series("messages", values, dtype=dtype))


def absolute_media_paths(table, folders: list[Path]):
    """`table` (polars) with the relative paths of its `image`/`audio` columns (and of the image and audio
    parts of a conversation's `messages`) made absolute.

    `folders` are the dataset files' folders, in order; only string paths and feature dicts without
    bytes change. No file is opened here: decoding is the job's. JSON-typed `word_times` become plain
    strings (see `_plain_word_times`).
    """
    import polars as pl

    table = _plain_word_times(table)
    table = _absolute_message_media(table, folders)
    for column in MEDIA_COLUMNS:
        if column not in table.columns or not folders:
            continue
        dtype = table.schema[column]
        if dtype == pl.Utf8:
            values = [_absolute(v, folders) for v in table[column].to_list()]
            table = table.with_columns(pl.Series(column, values, dtype=pl.Utf8))
        elif isinstance(dtype, pl.Struct) and "path" in dtype.to_schema():
            values = [_absolute(v, folders) if v is not None else None for v in table[column].to_list()]
            table = table.with_columns(pl.Series(column, values, dtype=dtype))
    return table


def check_first_media(sample, folders: list[Path]) -> list[str]:
    """Decode the first value of each media column of `sample` (polars rows, paths as the dataset wrote
    them): `validate --check-dataset` then catches a wrong folder or column before any job runs.

    Returns one line per media column; raises ConfigError naming the column and the file.
    """
    from shapsweep.errors import ConfigError

    sample = absolute_media_paths(sample, folders)
    lines = []
    for column in MEDIA_COLUMNS:
        if column not in sample.columns:
            continue
        values = [v for v in sample[column].to_list() if v is not None]
        if not values:
            continue
        try:
            if column == "image":
                pixels = decode_image(values[0])
                what = f"{pixels.shape[0]}x{pixels.shape[1]} pixels"
            else:
                samples, rate = decode_audio(values[0])
                what = f"{len(samples) / rate:.2f} s at {rate} Hz"
        except RowError as exc:
            raise ConfigError(
                f"dataset.columns.{column}: the first row's media cannot be used ({exc.message})"
            ) from None
        lines.append(f"{column}: first file decodes ({what})")
    return lines
