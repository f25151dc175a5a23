"""Parameter groups ("components"): which trainable tensors a component score sums over.

`tensor` keeps each parameter tensor; `layer` joins a module's weight and bias; `block` joins everything
under the same numbered block (`...layer.3.*`, `...h.3.*`), the embeddings and the head staying apart.
"""

from __future__ import annotations

import re

GROUPINGS = ("tensor", "layer", "block")
_NUMBERED = re.compile(r"^(.*?\.\d+)(\.|$)")


def component_of(name: str, grouping: str) -> str:
    if grouping == "tensor":
        return name
    if grouping == "layer":
        return name.rsplit(".", 1)[0] if "." in name else name
    if grouping == "block":
        numbered = _NUMBERED.match(name)
        if numbered:
            return numbered.group(1)
        return name.rsplit(".", 1)[0] if "." in name else name
    raise ValueError(f"options.components {grouping!r} is not a grouping; use one of {list(GROUPINGS)}")


def group_parameters(names: list[str], grouping: str) -> dict[str, list[str]]:
    """Component -> its parameter names, components in the order their first parameter appears."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(component_of(name, grouping), []).append(name)
    return groups
