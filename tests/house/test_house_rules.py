"""House rules that keep the package easy to extend: no import cycles, imports point down the layers,
and the generated schema and config reference match the fields they are generated from."""

import pytest
from import_graph import cycles, graph

from shapsweep.commands.schema import generated_files

# Bottom up (../shared/DESIGN.md): a module may import its own layer or a lower one, never a higher one.
LAYERS = [
    (
        "leaf",
        {
            "errors",
            "file_schemas",
            "layout",
            "fields",
            "atomic_outputs",
            "allocator",
            "hashing",
            "provenance",
            "version",
            "run_spec",
        },
    ),
    ("estimators", {"estimators"}),
    ("inputs", {"data", "features"}),
    ("models", {"models", "values"}),
    ("store", {"store"}),
    ("stages", {"explain", "row_explainers", "evaluation", "empirical", "training"}),
    ("config", {"config"}),
    ("fan-in", {"aggregate", "compare", "report", "export", "plots", "tracking", "results_log", "outcomes", "api"}),
    ("cli", {"commands", "cli"}),
]


def layer_of(module: str) -> int | None:
    """Layer index of a shapsweep module; None for the package root (it only holds __version__)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    for i, (_, names) in enumerate(LAYERS):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS (and to ../shared/DESIGN.md's map)")


def test_no_import_cycles_inside_the_package():
    edges = graph()
    assert cycles(edges) == []
    packages: dict[str, set[str]] = {}
    for module, deps in edges.items():
        top = ".".join(module.split(".")[:2])
        packages.setdefault(top, set()).update(".".join(d.split(".")[:2]) for d in deps)
        packages[top].discard(top)
    assert cycles(packages) == []


def test_imports_point_down_the_layers():
    upward = []
    for module, deps in graph().items():
        here = layer_of(module)
        for dep in deps:
            there = layer_of(dep)
            if here is not None and there is not None and there > here:
                upward.append(f"{module} ({LAYERS[here][0]}) imports {dep} ({LAYERS[there][0]})")
    assert upward == []


def test_the_root_package_only_re_exports_the_public_api():
    # `import shapsweep` stays light: the root imports shapsweep.api lazily (module __getattr__) and nothing else.
    assert graph()["shapsweep"] <= {"shapsweep.api", "shapsweep.version"}


def test_a_cycle_is_found_when_there_is_one():
    # The checker itself: a two-module loop and a self-contained triangle are reported, a chain is not.
    edges = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(cycles(edges)) == [["a", "b"], ["c", "d", "e"]]


@pytest.mark.parametrize("path", list(generated_files()), ids=lambda p: p.name)
def test_generated_schema_and_reference_are_up_to_date(path):
    assert path.read_text() == generated_files()[path], f"{path} is stale: run `shapsweep schema --write`"
