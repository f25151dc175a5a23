"""Issue 15 item 1: atomic writes end with the mode a plain `open()` gives under the umask (mkstemp's 0600
made every report page, shard and export private to its owner)."""

import os
import stat

import polars as pl
import pytest

from shapsweep import atomic_outputs
from shapsweep.report.pages import write_bytes


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _plain_open_mode(tmp_path) -> int:
    probe = tmp_path / "plain-open"
    with open(probe, "w") as handle:
        handle.write("x")
    return _mode(probe)


WRITERS = {
    "text": lambda p: atomic_outputs.write_text(p, "hello\n"),
    "json": lambda p: atomic_outputs.write_json(p, {"a": 1}),
    "parquet": lambda p: atomic_outputs.write_parquet(p, pl.DataFrame({"a": [1, 2]})),
    "bytes (report plots)": lambda p: write_bytes(p, b"\x89PNG"),
    "atomic_path + polars csv (runs.tsv, sweep.tsv)": lambda p: _csv(p),
    "link_file (shard files, linked to their finished file)": lambda p: _linked(p),
}


def _linked(path):
    source = path.with_name(f".{path.name}.finished")
    atomic_outputs.write_parquet(source, pl.DataFrame({"a": [1]}))
    atomic_outputs.link_file(source, path)
    assert os.stat(path).st_ino == os.stat(source).st_ino  # the same file, not a copy
    source.unlink()  # as the job does once its outputs are written


def _csv(path):
    with atomic_outputs.atomic_path(path) as tmp:
        pl.DataFrame({"a": [1]}).write_csv(tmp, separator="\t")


@pytest.fixture(params=[0o022, 0o027], ids=["umask0022", "umask0027"])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_atomic_writer_gives_a_plain_open_mode(tmp_path, umask, writer):
    out = tmp_path / "out" / "file"
    WRITERS[writer](out)
    expected = 0o666 & ~umask
    assert _mode(out) == expected == _plain_open_mode(tmp_path)
    assert [p.name for p in out.parent.iterdir()] == ["file"]  # no temp file left beside it


def test_rewriting_a_private_file_gives_the_umask_mode(tmp_path, umask):
    out = tmp_path / "summary.json"
    out.write_text("{}")
    out.chmod(0o600)
    atomic_outputs.write_json(out, {"b": 2})
    assert _mode(out) == 0o666 & ~umask


def test_export_lines_are_readable(tmp_path, umask):
    """export.py writes through atomic_path with its own open(): the mode is fixed after the caller wrote."""
    out = tmp_path / "export" / "run.jsonl"
    with atomic_outputs.atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write("{}\n")
    assert _mode(out) == 0o666 & ~umask
