"""The per-row error a game builder raises; its `kind` becomes the shard row's `status`."""


class RowError(Exception):
    """A row that cannot be explained (the rest of the shard goes on).

    kind: `empty_input`, `too_many_players`, `missing_column`, `bad_spans`, `too_long`, ...
    """

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
