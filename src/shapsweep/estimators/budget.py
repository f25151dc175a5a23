"""One budget number from the knobs users know: a plain cap, or MLLM-SHAP's `num_samples`/`fraction`/`linear`.

The budget everywhere in shapsweep is the number of *distinct coalitions evaluated, empty and full
included*. MLLM-SHAP counts sampled masks excluding the all-players mask, so its knobs map to
`masks + 1` here:
- `num_samples=m`  -> m + 1
- `fraction=f`     -> floor(f * (2^n - 1)) + 1   (f of the 2^n - 1 masks other than the full one)
- `linear=f`       -> ceil(f * n^2) rounded up to an even number, + 1
Each result is capped at 2^n (there are no more coalitions than that).
"""

from __future__ import annotations

import math

# The knobs a run may set to size its budget (exactly one of them); the config layer and explain read this.
BUDGET_KNOBS = ("budget", "num_samples", "fraction", "linear")


def resolve_budget(
    n: int,
    budget: int | None = None,
    num_samples: int | None = None,
    fraction: float | None = None,
    linear: float | None = None,
) -> int:
    """Turn exactly one of the budget knobs into a count of distinct coalitions (at most 2^n)."""
    knobs = dict(zip(BUDGET_KNOBS, (budget, num_samples, fraction, linear)))
    given = {k: v for k, v in knobs.items() if v is not None}
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(BUDGET_KNOBS)} (got {sorted(given) or 'none'})")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n_players must be a positive integer, got {n!r}")
    total = 2**n
    ((knob, value),) = given.items()
    if knob in ("budget", "num_samples"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{knob} must be a positive integer, got {value!r}")
        resolved = value if knob == "budget" else value + 1
    elif knob == "fraction":
        if not 0 < float(value) <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {value!r}")
        resolved = math.floor(float(value) * (total - 1)) + 1
    else:
        if not float(value) > 0:
            raise ValueError(f"linear must be positive (masks = linear * n^2), got {value!r}")
        masks = math.ceil(float(value) * n * n)
        resolved = masks + (masks % 2) + 1
    return int(min(resolved, total))
