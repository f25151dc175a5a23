"""The README's worked sweep stays honest: the ```jsonnet block it shows passes `shapsweep validate`."""

import re
from pathlib import Path

from shapsweep.cli import main

REPO = Path(__file__).resolve().parents[2]


def readme_sweep() -> str:
    blocks = re.findall(r"^```jsonnet\n(.*?)^```", (REPO / "README.md").read_text(), flags=re.S | re.M)
    sweeps = [b for b in blocks if "experiment_set_id" in b]  # other blocks are fragments of one
    assert len(sweeps) == 1, f"README.md should show one whole ```jsonnet sweep, found {len(sweeps)}"
    return sweeps[0]


def test_the_readme_sweep_validates(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing the sweep reads may depend on the repository's own files
    (tmp_path / "my_set.jsonnet").write_text(readme_sweep())
    assert main(["validate", "my_set.jsonnet"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    runs = int(re.search(r"ok: sst2-minilm: (\d+) runs", out).group(1))
    # the comments promise: exact + 6 (grid) + 2 (zip) + 3 (group: 2 leverage + 1 kernel) + random
    assert runs == 13, out
