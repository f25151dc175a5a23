"""Media rows drawn for the report: the image with each player region tinted, or the waveform with each
segment tinted (word labels when aligned) and the clip itself in an `<audio>` element.

Everything is inline: the picture and the clip are data: URIs, regions are SVG shapes whose fill is the
report's diverging colour of the player's attribution and whose `<title>` (and `data-tip`) is the same
"value ± stderr" text as a text player's hover. A row's media are decoded once per page (`row_media`);
each run then gets its own `MediaView` over the same picture, on the row's shared colour scale.
Superpixel outlines are recomputed from the image with the run's `features.image` block (SLIC is
deterministic), as the shard stores only the superpixel ids.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np

from shapsweep.data.media import decode_audio, decode_image, resample
from shapsweep.errors import RowError
from shapsweep.report.heatmap import Segment

# Display sizes: large enough to read regions, small enough that a page of many runs stays light.
IMAGE_MAX_SIDE = 320
WAVEFORM_WIDTH, WAVEFORM_HEIGHT = 720, 120
AUDIO_EMBED_RATE = 16000  # the embedded clip: speech stays clear, a minute costs ~2.5 MB of page
REGION_OPACITY = 0.55


@dataclass
class RowMedia:
    """A row's decoded media, prepared once per page."""

    kind: str  # image | audio
    pixels: np.ndarray | None = None  # image at its own resolution
    picture_uri: str = ""  # image: the displayed (downscaled) picture
    width: int = 0
    height: int = 0
    factor: float = 1.0  # displayed pixels per image pixel
    samples: np.ndarray | None = None
    rate: int = 0
    duration: float = 0.0
    waveform: str = ""  # SVG path of the envelope
    audio_uri: str = ""


@dataclass
class Region:
    index: int  # the player's index in the game
    name: str
    tip: str
    value: float | None
    stderr: float | None
    colour: str
    rect: tuple[float, float, float, float] | None = None  # x, y, width, height in display pixels
    path: str | None = None  # superpixel outline
    label: str | None = None  # audio word label


@dataclass
class MediaView:
    media: RowMedia
    regions: list[Region] = field(default_factory=list)
    opacity: float = REGION_OPACITY


def _jpeg_uri(pixels: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _wav_uri(samples: np.ndarray, rate: int) -> str:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(samples, -1, 1), rate, format="WAV", subtype="PCM_16")
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _envelope(samples: np.ndarray) -> str:
    """SVG path of the min/max envelope, one column per display pixel."""
    columns = np.array_split(samples, WAVEFORM_WIDTH) if len(samples) >= WAVEFORM_WIDTH else [samples]
    peak = float(np.abs(samples).max()) or 1.0
    middle = WAVEFORM_HEIGHT / 2
    step = WAVEFORM_WIDTH / len(columns)
    tops, bottoms = [], []
    for i, column in enumerate(columns):
        x = (i + 0.5) * step
        hi = float(column.max()) if column.size else 0.0
        lo = float(column.min()) if column.size else 0.0
        tops.append(f"{x:.1f},{middle - hi / peak * (middle - 4):.1f}")
        bottoms.append(f"{x:.1f},{middle - lo / peak * (middle - 4):.1f}")
    return "M" + " L".join(tops + bottoms[::-1]) + " Z"


def row_media(record: dict) -> RowMedia | None:
    """The row's image or audio decoded for display; None when it has none or it cannot be decoded
    (the shard row then says why)."""
    try:
        if record.get("image") is not None:
            from PIL import Image

            pixels = decode_image(record["image"])
            height, width = pixels.shape[:2]
            factor = min(1.0, IMAGE_MAX_SIDE / max(height, width))
            shown = Image.fromarray(pixels)
            if factor < 1:
                shown = shown.resize((max(1, round(width * factor)), max(1, round(height * factor))), Image.LANCZOS)
            return RowMedia(
                "image",
                pixels=pixels,
                picture_uri=_jpeg_uri(np.asarray(shown)),
                width=shown.width,
                height=shown.height,
                factor=shown.width / width,
            )
        if record.get("audio") is not None:
            samples, rate = decode_audio(record["audio"])
            if rate > AUDIO_EMBED_RATE:
                samples, rate = resample(samples, rate, AUDIO_EMBED_RATE), AUDIO_EMBED_RATE
            return RowMedia(
                "audio",
                samples=samples,
                rate=rate,
                duration=len(samples) / rate,
                waveform=_envelope(samples),
                audio_uri=_wav_uri(samples, rate),
                width=WAVEFORM_WIDTH,
                height=WAVEFORM_HEIGHT,
            )
    except RowError:
        return None
    return None


def _outline(mask: np.ndarray, factor: float) -> str:
    """SVG path (even-odd) around the True pixels of `mask`, in display pixels."""
    from skimage.measure import approximate_polygon, find_contours

    padded = np.pad(mask, 1).astype(np.float64)
    pieces = []
    for contour in find_contours(padded, 0.5):
        contour = approximate_polygon(contour, tolerance=0.75)
        points = " L".join(f"{(c - 1) * factor:.1f},{(r - 1) * factor:.1f}" for r, c in contour)
        pieces.append(f"M{points} Z")
    return " ".join(pieces)


def media_view(media: RowMedia | None, row: dict, features: dict, segs) -> MediaView | None:
    """One run's picture of a media row: each media player's region in its attribution's colour.

    `row`: the shard row (players, player_regions); `segs`: the run's heatmap segments, whose
    tips and colours the regions reuse so text and media players read the same.
    """
    regions = row.get("player_regions")
    if media is None or not regions or row.get("status") not in (None, "ok"):
        return None
    by_index = {s.index: s for s in segs if isinstance(s, Segment) and s.is_player}
    labels = None
    if media.kind == "image" and (features.get("image") or {}).get("players") == "superpixels":
        from shapsweep.features.image import segment_labels

        labels = segment_labels(media.pixels, features["image"])[0]
    words = media.kind == "audio" and (features.get("audio") or {}).get("players") == "words"
    view = MediaView(media)
    for index, region in enumerate(regions):
        segment = by_index.get(index)
        if region is None or segment is None:
            continue  # a text player of a mixed row: drawn by the heatmap
        shape = {}
        if media.kind == "image" and labels is not None:
            shape["path"] = _outline(labels == int(region[0]), media.factor)
        elif media.kind == "image":
            y0, x0, y1, x1 = (float(v) * media.factor for v in region)
            shape["rect"] = (x0, y0, x1 - x0, y1 - y0)
        else:
            start, end = (float(v) / media.duration * media.width for v in region)
            shape["rect"] = (start, 0.0, max(end - start, 0.5), float(media.height))
            if words:
                shape["label"] = segment.text
        view.regions.append(
            Region(
                index=index,
                name=segment.text,
                tip=f"{segment.text}: {segment.tip}",
                value=segment.value,
                stderr=segment.stderr,
                colour=segment.colour,
                **shape,
            )
        )
    return view
