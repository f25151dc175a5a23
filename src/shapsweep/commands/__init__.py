"""Subcommands of the `shapsweep` CLI: one module per subcommand.

Each module listed in COMMAND_MODULES has a one-line docstring (the help text),
`add_arguments(parser)` and `run(args) -> int`. Add a subcommand by adding its module
here (the command is its name with `-` for `_`: train_explainer -> train-explainer); keep module-level
imports light (torch, transformers... inside `run`) so that `shapsweep --help` and the cheap subcommands
start fast.
"""

COMMAND_MODULES = [
    "validate",
    "plan",
    "rows",
    "explain",
    "aggregate",
    "compare",
    "status",
    "report",
    "show",
    "evaluate",
    "track",
    "export",
    "schema",
    "results",
    "prune",
    "train_explainer",
    "trace",
    "sum_steps",
]
