"""The report's input digests: what must re-render a page changes them, float noise does not."""

from __future__ import annotations

import polars as pl

from shapsweep.report.incremental import digest


def test_float_noise_in_the_last_bits_keeps_the_digest_and_a_real_change_does_not():
    # 0.1 + 0.2 is 0.30000000000000004: a mean computed in another order lands there or on 0.3.
    run = {"run_id": "r1", "budget": 0.1 + 0.2, "params": {"steps": [0.7 + 0.1, 2]}}
    same = {"run_id": "r1", "budget": 0.3, "params": {"steps": [0.8, 2]}}
    assert digest(run) == digest(same)
    assert digest(run) != digest({**same, "budget": 0.31})
    assert digest(run) != digest({**same, "params": {"steps": [0.8, 3]}})
    frame = pl.DataFrame({"x": [0.1 + 0.2, 1.0]})
    assert digest(frame, run) == digest(pl.DataFrame({"x": [0.3, 1.0]}), same)
