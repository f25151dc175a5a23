"""Diverging colour scale centred on 0: blue for negative attributions, white at 0, red for positive.

The scale is symmetric (`-limit .. +limit`) so that equal magnitudes get equal intensity whatever their
sign, which is what a reader compares on a heatmap. The colours are plain hex strings so a page needs no
script or stylesheet from the network to show them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# End points of the scale (ColorBrewer RdBu extremes) and its centre.
NEGATIVE = (33, 102, 172)
CENTRE = (255, 255, 255)
POSITIVE = (178, 24, 43)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class DivergingScale:
    """Maps a value in `[-limit, limit]` to a colour; values beyond the limit are clipped."""

    limit: float

    @classmethod
    def for_values(cls, values) -> DivergingScale:
        """A scale whose limit is the largest finite |value| (1.0 when there is none, so 0 stays white)."""
        finite = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v))]
        top = max(finite, default=0.0)
        return cls(limit=top if top > 0 else 1.0)

    def position(self, value: float | None) -> float:
        """Signed position in [-1, 1]; 0 for a missing or non-finite value."""
        if value is None or not math.isfinite(float(value)):
            return 0.0
        return max(-1.0, min(1.0, float(value) / self.limit))

    def colour(self, value: float | None) -> str:
        t = self.position(value)
        return _hex(_mix(CENTRE, POSITIVE if t > 0 else NEGATIVE, abs(t)))

    def text_colour(self, value: float | None) -> str:
        """Black on light cells, white on saturated ones, so the player's text stays readable."""
        return "#ffffff" if abs(self.position(value)) > 0.6 else "#111111"

    def legend_gradient(self) -> str:
        """A CSS linear-gradient from -limit (left) through 0 (middle) to +limit (right)."""
        return f"linear-gradient(to right, {_hex(NEGATIVE)}, {_hex(CENTRE)}, {_hex(POSITIVE)})"

    def legend_ticks(self) -> list[float]:
        return [-self.limit, -self.limit / 2, 0.0, self.limit / 2, self.limit]
