"""`shapsweep results` over real set folders (made by the pipeline's own aggregate and compare commands):
two sets, two output roots standing for two machines, a conflict, filters, a pivot and the formats."""

import json
import shutil

import numpy as np
import polars as pl
import pytest
from hand_sets import make_set, recompute

from shapsweep import layout
from shapsweep.cli import main
from shapsweep.results_log import pivot, to_markdown, where


def machine(host, commit, device="cpu", gpus=()):
    return {
        "host": host,
        "code": {"commit": commit, "dirty": False},
        "device": device,
        "cpu": "Xeon",
        "gpus": list(gpus),
        "gpu_count": len(gpus),
        "started_at": "2026-12-01T10:00:00+00:00",
        "finished_at": "2026-12-01T10:00:01+00:00",
        "duration_s": 1.0,
    }


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """Root A holds sets `a` (kernel 64/128 x seeds 0/1, permutation 64 x seeds 0/1) and `b` (kernel 64
    and 256, seed 0); root B holds set `a` again, computed on another machine. All read one data file."""
    tmp = tmp_path_factory.mktemp("log")
    data = tmp / "data.jsonl"
    a = {"methods": {"kernel": [64, 128], "permutation": [64]}, "seeds": [0, 1], "data_file": data}
    make_set(tmp / "rootA" / "a", provenance=machine("hostA", "aaa"), **a)
    make_set(tmp / "rootA" / "b", methods={"kernel": [64, 256]}, provenance=machine("hostA", "aaa"), data_file=data)
    make_set(tmp / "rootB" / "a", provenance=machine("hostB", "bbb", "cuda:0", ["H200"]), **a)
    return tmp


def results(*args, out, capfd=None):
    code = main(["results", *map(str, args), "--to", "parquet", "--out", str(out)])
    return code, (pl.read_parquet(out) if code == 0 else None)


def run_ids(set_dir):
    return pl.read_parquet(set_dir / "runs.parquet")["run_id"].to_list()


def test_two_sets_and_two_roots_merge_by_run_id(roots, tmp_path):
    code, table = results(roots / "rootA", roots / "rootB", out=tmp_path / "log.parquet")
    assert code == 0
    a, b = run_ids(roots / "rootA" / "a"), run_ids(roots / "rootA" / "b")
    assert run_ids(roots / "rootB" / "a") == a
    assert len(a) == 7 and len(b) == 3 and len(set(a) & set(b)) == 2  # exact and kernel 64 seed 0 are in both
    assert table["run_id"].to_list() == list(dict.fromkeys(a + b))  # each run once, in source order
    by_run = {r["run_id"]: r for r in table.iter_rows(named=True)}
    for run_id in a:
        row = by_run[run_id]
        sources = row["sources"].split("; ")
        assert sources[0] == str(roots / "rootA" / "a" / "runs.parquet")
        assert str(roots / "rootB" / "a" / "runs.parquet") in sources
        assert row["set"] == "a" and row["hosts"] == "hostA"  # the first copy's provenance, the others listed
    only_b = next(r for r in b if r not in a)
    assert by_run[only_b]["set"] == "b" and by_run[only_b]["shap.budget"] == 256
    runs_a = pl.read_parquet(roots / "rootA" / "a" / "runs.parquet")
    for column in ("ref_rel_l2", "abs_mass_entropy_mean", "rows_ok", "code_commits"):
        assert [by_run[r][column] for r in a] == runs_a[column].to_list(), column
    # root B alone: the other machine's provenance
    _, only_root_b = results(roots / "rootB" / "a" / "runs.parquet", out=tmp_path / "b.parquet")
    assert set(only_root_b["hosts"]) == {"hostB"} and set(only_root_b["devices"]) == {"cuda:0 (H200 x1)"}


def test_copies_that_disagree_are_a_conflict(roots, tmp_path, capfd):
    other = tmp_path / "rootC" / "a"
    shutil.copytree(roots / "rootB" / "a", other)
    victim = next(r for r in run_ids(other) if r.startswith("kernel_budget-128_seed-1"))
    shard = layout.shard_file(other, victim, "00001")
    frame = pl.read_parquet(shard)
    frame = frame.with_columns(pl.col("attribution").list.eval(pl.element() * 2))
    frame.write_parquet(shard)
    recompute(other)  # the pipeline's own aggregate and compare over the edited shard
    out = tmp_path / "log.parquet"
    code, _ = results(roots / "rootA", other.parent, out=out)
    err = capfd.readouterr().err
    assert code == 1 and not out.exists()
    assert f"conflict: run {victim}: ref_rel_l2 differs" in err
    assert str(roots / "rootA" / "a" / "runs.parquet") in err and str(other / "runs.parquet") in err
    assert "1 run(s) have copies that disagree" in err
    # provenance (host, device, commit) differs between roots A and B without being a conflict: one run is named
    assert {line.split(":")[2].strip().split()[1] for line in err.splitlines() if "conflict: run" in line} == {victim}
    code = main(
        ["results", str(roots / "rootA"), str(other.parent), "--keep-conflicts", "--to", "parquet", "--out", str(out)]
    )
    kept = pl.read_parquet(out)
    assert code == 0
    copies = kept.filter(pl.col("run_id") == victim)
    assert copies.height == 2 and copies["conflict"].to_list() == [True, True]
    assert copies["ref_rel_l2"][0] != copies["ref_rel_l2"][1]
    assert kept.filter(pl.col("run_id") != victim)["conflict"].sum() == 0
    assert kept.filter(pl.col("run_id") != victim)["run_id"].is_unique().all()


def test_pivot_is_the_mean_per_cell(roots, tmp_path):
    out = tmp_path / "pivot.parquet"
    code = main(
        [
            "results",
            str(roots / "rootA" / "a"),
            "--pivot",
            "method",
            "shap.budget",
            "ref_rel_l2",
            "--to",
            "parquet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pl.read_parquet(out)
    runs = pl.read_parquet(roots / "rootA" / "a" / "runs.parquet").to_dicts()
    assert table.columns == ["method", "64", "128", "null"]  # budgets in order; exact has none
    assert table["method"].to_list() == ["exact", "kernel", "permutation"]
    for row in table.iter_rows(named=True):
        for budget in (64, 128):
            cell = [r["ref_rel_l2"] for r in runs if r["method"] == row["method"] and r["shap.budget"] == budget]
            expected = np.mean(cell) if cell else None
            assert row[str(budget)] == pytest.approx(expected), (row["method"], budget)
    assert main(["results", str(roots / "rootA" / "a"), "--pivot", "method", "method", "ref_rel_l2"]) == 2
    assert (
        main(["results", str(roots / "rootA" / "a"), "--pivot", "method", "shap.budget", "slug"]) == 2
    )  # not a number
    by_hand = pl.DataFrame({"m": ["k", "k", "p", "k"], "b": [128, 64, 64, 64], "v": [1.0, 2.0, 3.0, 6.0]})
    assert pivot(by_hand, ["m"], "b", "v").to_dicts() == [
        {"m": "k", "64": 4.0, "128": 1.0},
        {"m": "p", "64": 3.0, "128": None},
    ]


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("method == 'kernel'", 4),
        ("method == 'kernel' and shap.budget >= 128", 2),
        ("method in ('kernel', 'permutation') and not shap.seed == 1", 3),
        ("(method == 'exact' or shap.budget < 100) and ref_rel_l2 is not null", 4),
        ("shap.budget is null", 1),
        ("`shap.seed` != 0", 3),
        ("reference == true", 1),
    ],
)
def test_where_filters(roots, expr, expected):
    table = pl.read_parquet(roots / "rootA" / "a" / "runs.parquet")
    assert where(table, expr).height == expected


@pytest.mark.parametrize(
    "expr, message",
    [
        ("methd == 'kernel'", "no column 'methd'"),
        ("method = 'kernel'", "(equality is ==)"),
        ("__import__('os').system('true')", "cannot read"),
        ("method == kernel", "expected a number, a quoted string"),
        ("method == 'kernel' and", "unexpected end"),
        ("method == 3", "--where 'method == 3'"),
    ],
)
def test_where_rejects_bad_filters_with_the_reason(roots, expr, message, capfd):
    assert main(["results", str(roots / "rootA" / "a"), "--where", expr]) == 2
    assert message in capfd.readouterr().err


def test_formats_and_columns(roots, tmp_path, capfd):
    args = [
        "results",
        str(roots / "rootA" / "b"),
        "--where",
        "method == 'kernel'",
        "--columns",
        "run_id,shap.budget,ref_rel_l2",
    ]
    assert main([*args, "--to", "tsv", "--out", str(tmp_path / "t.tsv")]) == 0
    assert main([*args, "--to", "parquet", "--out", str(tmp_path / "t.parquet")]) == 0
    tsv = pl.read_csv(tmp_path / "t.tsv", separator="\t")
    table = pl.read_parquet(tmp_path / "t.parquet")
    assert tsv.columns == table.columns == ["run_id", "shap.budget", "ref_rel_l2"]
    assert tsv["shap.budget"].to_list() == table["shap.budget"].to_list() == [64, 256]
    assert tsv["ref_rel_l2"].to_list() == pytest.approx(table["ref_rel_l2"].to_list())
    capfd.readouterr()
    assert main([*args, "--to", "markdown"]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines[:2] == ["| run_id | shap.budget | ref_rel_l2 |", "| --- | ---: | ---: |"]
    assert lines[2].startswith(f"| {table['run_id'][0]} | 64 | {table['ref_rel_l2'][0]:.6g} |")
    assert to_markdown(pl.DataFrame({"a": ["x|y"]})).splitlines()[2] == "| x\\|y |"
    assert main(["results", str(roots / "rootA" / "b"), "--to", "parquet"]) == 2
    assert main(["results", str(tmp_path / "nothing-here")]) == 2
    (tmp_path / "not.parquet").write_text("run_id\tx\n")
    assert main(["results", str(tmp_path / "not.parquet")]) == 2
    assert "not a readable runs.parquet" in capfd.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["results", str(tmp_path / "empty")]) == 2
    assert "no runs.parquet" in capfd.readouterr().err


def test_set_name_comes_from_the_config(roots, tmp_path):
    renamed = tmp_path / "copied-by-hand"
    shutil.copytree(roots / "rootA" / "b", renamed)
    _, table = results(renamed, out=tmp_path / "log.parquet")
    assert set(table["set"]) == {"b"}
    assert json.loads((renamed / "config.json").read_text())["experiment_set_id"] == "b"
