"""The two error types every layer shares (a leaf module: it imports nothing of shapsweep).

- `ConfigError`: a bad experiment set; the whole message names the config path and the fix.
- `RowError`: one dataset row that cannot be explained; its `kind` becomes the shard row's `status`
  and the rest of the shard goes on.
"""


class ConfigError(ValueError):
    """A config problem the user must fix; `str(err)` is the whole message (`path: what is wrong`)."""


class RowError(Exception):
    """A row that cannot be explained (the rest of the shard goes on).

    kind: `empty_input`, `too_many_players`, `missing_column`, `bad_spans`, `too_long`, ...
    """

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
