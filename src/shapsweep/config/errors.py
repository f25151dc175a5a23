"""The one error type a bad experiment set raises: its message names the config path and the fix."""


class ConfigError(ValueError):
    """A config problem the user must fix; `str(err)` is the whole message (`path: what is wrong`)."""
