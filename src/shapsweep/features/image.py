"""Image players (grid patches or SLIC superpixels) and their masker (fill with a baseline in pixel space).

Absence is realised on the decoded image at its own resolution, before the model's image processor
runs (resizing, normalisation): every masked image then goes through exactly the processor call a
user's image goes through. Grid patch (r, c) of an H x W image on an R x C grid covers pixel rows
floor(r*H/R) to floor((r+1)*H/R) and columns likewise; players are row-major, named `patch(r,c)`,
with region [y0, x0, y1, x1] (end-exclusive). Superpixels (Achanta et al. 2012, SLIC, as LIME uses
them) come from scikit-image; each is named `superpixel(k)` with region [k], its label in
`segment_labels(...)`, which the report recomputes the same way.
"""

from __future__ import annotations

import numpy as np

from shapsweep.errors import RowError
from shapsweep.fields import Field, defaults, enum

IMAGE_PLAYERS = ("grid", "superpixels")
IMAGE_BASELINES = ("zero", "mean", "blur")
IMAGE_FIELDS = (
    Field("players", enum(IMAGE_PLAYERS), "grid", "grid patches or SLIC superpixels"),
    Field(
        "grid",
        {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2},
        [4, 4],
        "players 'grid': [rows, columns] of patches",
    ),
    Field("n_segments", {"type": "integer", "minimum": 1}, 16, "players 'superpixels': SLIC's target count"),
    Field("compactness", {"type": "number", "exclusiveMinimum": 0}, 10.0, "players 'superpixels': SLIC compactness"),
    Field(
        "baseline",
        {
            "oneOf": [
                enum(IMAGE_BASELINES),
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0, "maximum": 255},
                    "minItems": 3,
                    "maxItems": 3,
                },
            ]
        },
        "zero",
        "what fills an absent region, before the processor: zero (black), mean colour, blur, or [r, g, b]",
    ),
)
IMAGE_DEFAULTS = defaults(IMAGE_FIELDS)
# Gaussian blur baseline: sigma as a fraction of the longer side (wide enough to wash out objects).
BLUR_SIGMA_FRACTION = 1 / 16


def grid_boxes(height: int, width: int, rows: int, cols: int) -> list[list[int]]:
    """[y0, x0, y1, x1] of each grid patch, row-major."""
    ys = [(r * height) // rows for r in range(rows + 1)]
    xs = [(c * width) // cols for c in range(cols + 1)]
    return [[ys[r], xs[c], ys[r + 1], xs[c + 1]] for r in range(rows) for c in range(cols)]


def segment_labels(pixels: np.ndarray, cfg: dict) -> tuple[np.ndarray, list[str], list[list[float]]]:
    """(labels (H, W) int player index, player names, regions) for `features.image` block `cfg`."""
    height, width = pixels.shape[:2]
    if cfg["players"] == "grid":
        rows, cols = cfg["grid"]
        if rows > height or cols > width:
            raise RowError("bad_media", f"the image is {height}x{width} pixels, smaller than features.image.grid")
        boxes = grid_boxes(height, width, rows, cols)
        labels = np.empty((height, width), dtype=np.int64)
        for index, (y0, x0, y1, x1) in enumerate(boxes):
            labels[y0:y1, x0:x1] = index
        names = [f"patch({r},{c})" for r in range(rows) for c in range(cols)]
        return labels, names, [list(map(float, b)) for b in boxes]
    from skimage.segmentation import slic

    raw = slic(pixels, n_segments=cfg["n_segments"], compactness=cfg["compactness"], start_label=0, channel_axis=-1)
    ids, labels = np.unique(raw, return_inverse=True)  # consecutive 0..k-1, in label order
    labels = labels.reshape(height, width).astype(np.int64)
    return labels, [f"superpixel({k})" for k in range(len(ids))], [[float(k)] for k in range(len(ids))]


def baseline_image(pixels: np.ndarray, baseline) -> np.ndarray:
    """(H, W, 3) uint8 image an absent region shows: black, the mean colour, a blur, or an [r, g, b]."""
    if isinstance(baseline, list):
        return np.broadcast_to(np.asarray(baseline, dtype=np.uint8), pixels.shape).copy()
    if baseline == "zero":
        return np.zeros_like(pixels)
    if baseline == "mean":
        mean = pixels.reshape(-1, 3).mean(axis=0)
        return np.broadcast_to(np.round(mean).astype(np.uint8), pixels.shape).copy()
    if baseline == "blur":
        from scipy.ndimage import gaussian_filter

        sigma = max(pixels.shape[:2]) * BLUR_SIGMA_FRACTION
        blurred = gaussian_filter(pixels.astype(np.float64), sigma=(sigma, sigma, 0), mode="nearest")
        return np.clip(np.round(blurred), 0, 255).astype(np.uint8)
    raise ValueError(f"features.image.baseline: {baseline!r} is not one of {', '.join(IMAGE_BASELINES)} or [r, g, b]")


class ImagePart:
    """A row's image as players; `mask` fills absent players' pixels with the baseline."""

    kind = "image"
    spans = None

    def __init__(self, pixels: np.ndarray, cfg: dict):
        self.pixels = pixels
        self.labels, self.players, self.regions = segment_labels(pixels, cfg)
        self.baseline = baseline_image(pixels, cfg["baseline"])
        self.boxes = [tuple(map(int, r)) for r in self.regions] if cfg["players"] == "grid" else None

    def mask(self, coalitions: np.ndarray) -> np.ndarray:
        """(b, H, W, 3) uint8: each coalition's image."""
        coalitions = np.asarray(coalitions, dtype=bool)
        if self.boxes is None:
            return np.where(coalitions[:, self.labels][..., None], self.pixels[None], self.baseline[None])
        # Grid patches are rectangles: pasting them costs a copy, not a per-pixel gather.
        out = np.repeat(self.baseline[None], len(coalitions), axis=0)
        for image, coalition in zip(out, coalitions):
            for k in np.flatnonzero(coalition):
                y0, x0, y1, x1 = self.boxes[k]
                image[y0:y1, x0:x1] = self.pixels[y0:y1, x0:x1]
        return out
