"""A results log: the runs of any number of experiment sets, output roots and W&B runs in one table.

Sources are `runs.parquet` files (a set folder holds one; an output root holds several sets, also
other machines' results copied or mounted side by side) and W&B runs logged by the `track` rule
(offline run folders, or a project through the public API). Every source gives the columns of
`runs.parquet` (compare.runs_table) plus `set` and `source`.

Merging keeps one row per run id. A run id is the hash of everything that changes its numbers, so
its copies must agree: two copies whose results differ are a *conflict*, reported and never resolved
by picking one. Columns that differ between two executions of the same run by nature (times,
durations, provenance, the set it sits in) are not compared; `ref_*` errors are compared only
between copies measured against the same reference run. The merged row takes each column's first
non-null value, in the order the sources were given, and lists every source it was found in.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shapsweep.compare import PROVENANCE_COLUMNS, runs_table

RUNS_FILE = "runs.parquet"
SOURCE_SEP = "; "
# Folders of a set that never hold another set's runs.parquet (a walk into them would read every shard).
_NOT_SETS = {"runs", "data", "report", "logs", "wandb", "export"}
# Columns two copies of one run may differ in while its numbers agree: which set it sits in (and whether
# it is that set's reference), where, when and how long it was executed.
_NOT_RESULTS = {"set", "source", "sources", "reference", "compared_to", *PROVENANCE_COLUMNS.values()}


def is_result_column(column: str) -> bool:
    """True for a run's identity and numbers; False for times, durations, provenance and set membership."""
    return not (column in _NOT_RESULTS or "runtime" in column or column.endswith("_s"))


# ---- sources -------------------------------------------------------------------------------------


def find_runs_files(path: str | Path) -> list[Path]:
    """The runs.parquet files at `path`: the file itself, a set folder's, or every set's under an output
    root (any depth; set folders' own subfolders and hidden folders are not searched)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if (path / RUNS_FILE).is_file():
        return [path / RUNS_FILE]
    found = []
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in _NOT_SETS:
            found.extend(find_runs_files(entry.path))
    return found


def set_name(runs_file: Path) -> str:
    """The experiment set of a runs.parquet: its config.json's experiment_set_id, else its folder's name."""
    config = runs_file.parent / "config.json"
    try:
        return json.loads(config.read_text())["experiment_set_id"]
    except (OSError, ValueError, KeyError):
        return runs_file.parent.name


def _with_source(frame: pl.DataFrame, set_names: list[str], source: str) -> pl.DataFrame:
    return frame.with_columns(pl.Series("set", set_names, dtype=pl.Utf8), pl.lit(source).alias("source"))


def read_runs_file(runs_file: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(runs_file)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ValueError(f"{runs_file}: not a readable runs.parquet ({exc})".splitlines()[0]) from None
    if "run_id" not in frame.columns:
        raise ValueError(f"{runs_file} has no run_id column: not a shapsweep runs.parquet")
    return _with_source(frame, [set_name(runs_file)] * frame.height, str(runs_file))


def wandb_summary_record(config: dict, summary: dict) -> dict | None:
    """A summary.json-like record of a W&B run logged by `track` (its config is the run spec, its summary
    the run's metrics and `rows_<status>` counts); None for a W&B run that shapsweep did not log."""
    if not isinstance(config.get("explain"), dict) or "run_id" not in config:
        return None
    metrics = {
        k: v
        for k, v in summary.items()
        if not k.startswith("_") and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return {
        "run_id": config["run_id"],
        "slug": config.get("slug"),
        "variant": config.get("variant"),
        "method": config["explain"].get("shap", {}).get("method"),
        "reference": config.get("reference"),
        "params": config.get("params") or {},
        "metrics": metrics,
        "provenance": config.get("provenance"),
    }


def _wandb_frame(runs: list[tuple[str, str, dict, dict]]) -> pl.DataFrame:
    """(W&B run name, source, config, summary) of each run -> runs.parquet columns + set + source."""
    records, sets, sources = [], [], []
    for name, source, config, summary in runs:
        record = wandb_summary_record(config, summary)
        if record is None:
            continue
        suffix = f"__{record['run_id']}"
        records.append(record)
        sets.append(name[: -len(suffix)] if name.endswith(suffix) else None)
        sources.append(source)
    if not records:
        return pl.DataFrame()
    table = runs_table(records, {}, {})
    return table.with_columns(pl.Series("set", sets, dtype=pl.Utf8), pl.Series("source", sources, dtype=pl.Utf8))


def is_wandb_folder(path: Path) -> bool:
    """An offline W&B run folder (`offline-run-*` holding a run-*.wandb) or a folder of them (`<set>/wandb`)."""
    return path.is_dir() and (any(path.glob("run-*.wandb")) or any(path.glob("offline-run-*/run-*.wandb")))


def read_wandb_offline(path: str | Path) -> pl.DataFrame:
    """The shapsweep runs among the offline W&B runs at `path` (one run folder, or a folder of them)."""
    from shapsweep.tracking import read_offline_run

    path = Path(path)
    folders = (
        [path] if any(path.glob("run-*.wandb")) else sorted(p.parent for p in path.glob("offline-run-*/run-*.wandb"))
    )
    runs = []
    for folder in folders:
        run = read_offline_run(folder)
        runs.append((run.run.get("name", ""), str(folder), run.config, run.summary))
    return _wandb_frame(runs)


def read_wandb_project(project: str) -> pl.DataFrame:
    """The shapsweep runs of a W&B project (`entity/project`) through wandb's public API (needs a login)."""
    import wandb

    runs = [
        (run.name, f"wandb:{project}/{run.id}", dict(run.config), dict(run.summary))
        for run in wandb.Api().runs(project)
    ]
    return _wandb_frame(runs)


def gather(paths: list[str | Path], wandb_projects: list[str] = ()) -> pl.DataFrame:
    """Every run copy of every source, unmerged, in source order (columns: runs.parquet's + set, source)."""
    frames = []
    for path in paths:
        path = Path(path)
        if is_wandb_folder(path):
            frames.append(read_wandb_offline(path))
            continue
        files = find_runs_files(path)
        if not files:
            raise FileNotFoundError(f"{path}: no {RUNS_FILE} here or in any set folder below it")
        frames.extend(read_runs_file(f) for f in files)
    frames.extend(read_wandb_project(p) for p in wandb_projects)
    frames = [f for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema={"set": pl.Utf8, "run_id": pl.Utf8, "source": pl.Utf8})
    frame = pl.concat(frames, how="diagonal_relaxed")
    first = ["set", "run_id"]
    return frame.select(first + [c for c in frame.columns if c not in first])


# ---- merging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """Copies of one run that disagree about a result column."""

    run_id: str
    column: str
    values: tuple
    sources: tuple

    def __str__(self) -> str:
        pairs = ", ".join(f"{v!r} in {s}" for v, s in zip(self.values, self.sources))
        return f"run {self.run_id}: {self.column} differs: {pairs}"


def _same(a, b, rtol: float, atol: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= atol + rtol * abs(b)
    return a == b


def find_conflicts(frame: pl.DataFrame, rtol: float = 1e-9, atol: float = 1e-12) -> list[Conflict]:
    """Result columns on which copies of the same run id disagree (nulls are unknowns, never a conflict)."""
    compared = [c for c in frame.columns if is_result_column(c) and c != "run_id"]
    conflicts = []
    duplicated = frame.filter(pl.col("run_id").is_duplicated())
    for (run_id,), copies in duplicated.group_by("run_id", maintain_order=True):
        rows = copies.to_dicts()
        for column in compared:
            groups = [rows]
            if column.startswith("ref_"):  # errors against a reference: only comparable for the same one
                by_ref: dict = {}
                for r in rows:
                    by_ref.setdefault(r.get("compared_to"), []).append(r)
                groups = list(by_ref.values())
            for group in groups:
                have = [(r[column], r["source"]) for r in group if r[column] is not None]
                if any(not _same(v, have[0][0], rtol, atol) for v, _ in have[1:]):
                    conflicts.append(Conflict(run_id, column, tuple(v for v, _ in have), tuple(s for _, s in have)))
    return conflicts


def merge(frame: pl.DataFrame, keep_conflicting: bool = False, rtol: float = 1e-9, atol: float = 1e-12):
    """(one row per run id, conflicts). Each column takes its first non-null value across the copies;
    `sources` lists them all. With keep_conflicting, a conflicting run keeps one row per copy and a
    true `conflict` column; otherwise its first copy is merged like the others (callers must report)."""
    conflicts = find_conflicts(frame, rtol, atol)
    bad = sorted({c.run_id for c in conflicts})
    frame = frame.with_columns(
        pl.when(pl.col("run_id").is_in(bad)).then(pl.int_range(pl.len()).over("run_id")).otherwise(0).alias("_copy")
        if keep_conflicting
        else pl.lit(0).alias("_copy")
    )
    columns = [c for c in frame.columns if c not in ("run_id", "_copy", "source")]
    merged = frame.group_by(["run_id", "_copy"], maintain_order=True).agg(
        *[pl.col(c).drop_nulls().first() for c in columns],
        pl.col("source").str.join(SOURCE_SEP).alias("sources"),
    )
    merged = merged.drop("_copy")
    if keep_conflicting:
        merged = merged.with_columns(pl.col("run_id").is_in(bad).alias("conflict"))
    first = ["set", "run_id"]
    return merged.select(first + [c for c in merged.columns if c not in first]), conflicts


# ---- --where: a small filter language -------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|,)
    | (?P<name>`[^`]+`|[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.X,
)
_COMPARE = {
    "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
}
_WORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            rest = text[pos:].strip()
            hint = " (equality is ==)" if rest.startswith("=") else ""
            raise ValueError(f"--where {text!r}: cannot read {rest!r}{hint}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "name" and value.lower() in _WORDS:
            kind, value = "word", value.lower()
        out.append((kind, value))
        pos = match.end()
    return out


class _Where:
    """Recursive descent over: expr = and ('or' and)*; and = not ('and' not)*; not = 'not' not | atom;
    atom = '(' expr ')' | NAME (OP literal | ['not'] 'in' '(' literal, ... ')' | 'is' ['not'] 'null')."""

    def __init__(self, text: str, columns: list[str]):
        self.text, self.columns, self.toks, self.i = text, columns, _tokens(text), 0

    def error(self, what: str) -> ValueError:
        return ValueError(f"--where {self.text!r}: {what}")

    def peek(self, *want) -> bool:
        return self.i < len(self.toks) and self.toks[self.i][1] in want

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise self.error("unexpected end")
        self.i += 1
        return self.toks[self.i - 1]

    def accept(self, word: str) -> bool:
        """Take the next token when it is `word`."""
        if self.peek(word):
            self.i += 1
            return True
        return False

    def expect(self, value: str) -> None:
        _kind, got = self.take()
        if got != value:
            raise self.error(f"expected {value!r}, got {got!r}")

    def parse(self) -> pl.Expr:
        expr = self.expr()
        if self.i != len(self.toks):
            raise self.error(f"unexpected {self.toks[self.i][1]!r}")
        return expr

    def expr(self) -> pl.Expr:
        out = self.conj()
        while self.accept("or"):
            out = out | self.conj()
        return out

    def conj(self) -> pl.Expr:
        out = self.neg()
        while self.accept("and"):
            out = out & self.neg()
        return out

    def neg(self) -> pl.Expr:
        if self.accept("not"):
            return ~self.neg()
        return self.atom()

    def literal(self):
        kind, value = self.take()
        if kind == "num":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "word" and value in ("true", "false"):
            return value == "true"
        raise self.error(f"expected a number, a quoted string, true or false; got {value!r}")

    def atom(self) -> pl.Expr:
        if self.accept("("):
            inner = self.expr()
            self.expect(")")
            return inner
        kind, name = self.take()
        if kind != "name":
            raise self.error(f"expected a column name, got {name!r}")
        name = name.strip("`")
        if name not in self.columns:
            raise self.error(f"no column {name!r} (columns: {', '.join(self.columns)})")
        col = pl.col(name)
        if self.accept("is"):
            negate = self.accept("not")
            self.expect("null")
            return col.is_not_null() if negate else col.is_null()
        negate = self.accept("not")
        if self.accept("in"):
            self.expect("(")
            values = [self.literal()]
            while self.accept(","):
                values.append(self.literal())
            self.expect(")")
            return ~col.is_in(values) if negate else col.is_in(values)
        if negate:
            raise self.error(f"expected 'in' after {name} not")
        kind, op = self.take()
        if op not in _COMPARE:
            raise self.error(f"expected one of == != < <= > >= in is after {name}, got {op!r}")
        return _COMPARE[op](col, self.literal())


def where(table: pl.DataFrame, text: str) -> pl.DataFrame:
    """Rows of `table` matching `text`, e.g. `method == 'kernel' and shap.budget >= 64` (no eval: a small
    grammar of comparisons, `in (...)`, `is [not] null`, and/or/not and parentheses; `name` in backquotes)."""
    expr = _Where(text, table.columns).parse()
    try:
        return table.filter(expr)
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"--where {text!r}: {exc}".splitlines()[0]) from None


def pivot(table: pl.DataFrame, rows: list[str], cols: str, value: str) -> pl.DataFrame:
    """Mean of `value` per (rows..., cols) cell: one row per distinct `rows`, one column per `cols` value
    (both in sorted order; a cell with no number is null)."""
    for name in [*rows, cols, value]:
        if name not in table.columns:
            raise ValueError(f"--pivot: no column {name!r} (columns: {', '.join(table.columns)})")
    if not table.schema[value].is_numeric():
        raise ValueError(f"--pivot: {value!r} is {table.schema[value]}, not a number: nothing to average")
    if cols in rows:
        raise ValueError(f"--pivot: {cols!r} cannot be both ROWS and COLS")
    out = table.sort(cols, nulls_last=True).pivot(on=cols, index=rows, values=value, aggregate_function="mean")
    return out.sort(rows, nulls_last=True)


# ---- output --------------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(frame: pl.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned, floats to 6 significant digits)."""
    align = ["---:" if dtype.is_numeric() else "---" for dtype in frame.schema.values()]
    lines = ["| " + " | ".join(_cell(c) for c in frame.columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines) + "\n"


def to_tsv(frame: pl.DataFrame) -> str:
    """Tab-separated text; a nested column (none in runs.parquet's contract) is written as JSON text."""
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if nested:
        frame = frame.with_columns(
            pl.Series(c, [None if v is None else json.dumps(v) for v in frame[c].to_list()], dtype=pl.Utf8)
            for c in nested
        )
    return frame.write_csv(None, separator="\t")
