"""A conversation row (`messages`): turns with roles, players from the turns `features.players_from` names.

The whole conversation goes through the model's chat template; only the chosen turns' text holds players,
every other turn (system, earlier assistant replies, other users) stays whole in every coalition. The
conversation is tokenized once, like a text row: token ids of the rendered prompt, the player owning each
token (-1 = always kept), the players. Player spans index the *conversation text*, the turns' contents
joined by a blank line (`conversation_text`), so reports can show the conversation turn by turn with the
players tinted in place.

A last turn by the assistant is the reply being explained: it is taken off the prompt and becomes the row's
reference reply when the row has no `reference` column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shapsweep.errors import RowError
from shapsweep.features.text import Player, assign_tokens
from shapsweep.features.tokenized import TokenizedRow, row_players

# `features.players_from`: a name, or a mapping {roles: [...]} / {turns: [...]}.
PLAYERS_FROM = ("last_user", "user")
TURN_SEPARATOR = "\n\n"  # between turns in the conversation text player spans index
# Stands for turn i's content while the chat template is rendered (split on it to find the content's place).
_SLOT = "SHAPSWEEPTURN{}SLOT9c2e"


@dataclass(frozen=True)
class Turn:
    role: str
    content: str  # the turn's text
    media_kind: str | None = None  # image | audio: the turn also holds the row's media item (before its text)
    media: Any = None  # that item: a path, bytes or a HF feature dict, as an `image` / `audio` column holds


def _media_value(part: dict, kind: str):
    for key in (kind, "path", "url"):
        if part.get(key) is not None:
            return part[key]
    return None


def _content(content, index: int, media_kinds: tuple[str, ...]) -> tuple[str, str | None, Any]:
    """(text, media kind, media item) of a turn: a string, or a list of parts (text, image, audio)."""
    if isinstance(content, str):
        return content, None, None
    if isinstance(content, np.ndarray):
        content = content.tolist()
    if not isinstance(content, list):
        raise RowError("bad_input", f"`messages`[{index}].content must be text or a list of parts")
    texts, kind, item = [], None, None
    for part in content:
        part_kind = part.get("type") if isinstance(part, dict) else None
        if part_kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part_kind in ("image", "audio"):
            if part_kind not in media_kinds:
                hint = (
                    "use hf_multimodal_lm with features.modalities naming it"
                    if not media_kinds
                    else f"this run's connector takes {' or '.join(media_kinds)} items"
                )
                raise RowError("bad_input", f"`messages`[{index}] holds a {part_kind} part: {hint}")
            if kind is not None:
                raise RowError("bad_input", f"`messages`[{index}] holds more than one media item; a row takes one")
            kind, item = part_kind, _media_value(part, part_kind)
            if item is None:
                raise RowError(
                    "bad_input", f"`messages`[{index}]: a {part_kind} part needs `{part_kind}`, `path` or `url`"
                )
        else:
            raise RowError("bad_input", f"`messages`[{index}].content: a part must be {{type: 'text', text}}")
    return "".join(texts), kind, item


def row_conversation(row: dict, media_kinds: tuple[str, ...] = ()) -> tuple[list[Turn], str | None]:
    """(the prompt's turns, the reply) of a row's `messages`; the reply is the last turn's content when the
    assistant speaks last (then it is not part of the prompt), else None. Media parts are taken for the
    kinds in `media_kinds` (the connector's), one item per conversation, and refused otherwise."""
    messages = row.get("messages")
    if messages is None:
        raise RowError("missing_column", "the row has no `messages` (map it with dataset.columns)")
    if isinstance(messages, np.ndarray):
        messages = messages.tolist()
    if not isinstance(messages, list) or not messages:
        raise RowError("bad_input", "`messages` must be a non-empty list of {role, content}")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise RowError("bad_input", f"`messages`[{i}] must be a mapping with a `role` and a `content`")
        turns.append(Turn(message["role"], *_content(message.get("content"), i, media_kinds)))
    if sum(t.media_kind is not None for t in turns) > 1:
        raise RowError("bad_input", "`messages` holds more than one media item; a conversation row takes one")
    reply = None
    if turns[-1].role == "assistant":
        last = turns.pop()
        if last.media_kind is not None:
            raise RowError("bad_input", "the assistant's last turn (the reply explained) holds a media item")
        reply = last.content
        if not turns:
            raise RowError("bad_input", "`messages` holds only an assistant reply: there is no prompt to explain")
    return turns, reply


def player_turns(turns: list[Turn], players_from) -> list[int]:
    """Indexes of the turns that hold players under `features.players_from`."""
    if players_from == "last_user":
        chosen = [i for i, t in enumerate(turns) if t.role == "user"][-1:]
    elif players_from == "user":
        chosen = [i for i, t in enumerate(turns) if t.role == "user"]
    elif isinstance(players_from, dict) and "roles" in players_from:
        chosen = [i for i, t in enumerate(turns) if t.role in players_from["roles"]]
    elif isinstance(players_from, dict) and "turns" in players_from:
        outside = [i for i in players_from["turns"] if i >= len(turns)]
        if outside:
            raise RowError(
                "bad_input",
                f"features.players_from.turns names turn {outside[0]}, but the prompt has {len(turns)} turns",
            )
        chosen = sorted(set(players_from["turns"]))
    else:
        raise ValueError(f"features.players_from: {players_from!r} is not understood")
    if not chosen:
        raise RowError("empty_input", f"no turn of the conversation matches features.players_from = {players_from!r}")
    return chosen


def conversation_text(turns: list[Turn]) -> tuple[str, list[tuple[int, int]]]:
    """The turns' contents joined by a blank line, and each turn's [start, end) in it."""
    offsets, cursor = [], 0
    for i, turn in enumerate(turns):
        if i:
            cursor += len(TURN_SEPARATOR)
        offsets.append((cursor, cursor + len(turn.content)))
        cursor += len(turn.content)
    return TURN_SEPARATOR.join(t.content for t in turns), offsets


def render_with_contents(turns: list[Turn], render: Callable[[list[dict]], str]) -> tuple[str, list[int]]:
    """The rendered prompt and where each turn's content starts in it.

    `render` (the connector's chat template) is called once on placeholder contents; the real contents
    then replace the placeholders, so a content that happens to look like template markup stays text.
    """
    slots = [_SLOT.format(i) for i in range(len(turns))]
    rendered = render([{"role": t.role, "content": slot} for t, slot in zip(turns, slots)])
    found = []
    for i, slot in enumerate(slots):
        if rendered.count(slot) != 1:
            raise ValueError(f"model.path_or_id: the chat template does not place turn {i}'s content exactly once")
        found.append((rendered.index(slot), i))
    pieces, starts, cursor, length = [], [0] * len(turns), 0, 0
    for position, i in sorted(found):
        pieces.append(rendered[cursor:position])
        length += position - cursor
        starts[i] = length
        pieces.append(turns[i].content)
        length += len(turns[i].content)
        cursor = position + len(slots[i])
    pieces.append(rendered[cursor:])
    return "".join(pieces), starts


@dataclass
class ConversationPart:
    """A conversation tokenized once; players are the chosen turns' words (or tokens, sentences).

    `tokenized.players` carry spans into `text` (the conversation text); `mask` returns the coalitions:
    the connector turns them into token ids (`features.masking`), as for a text part.
    """

    tokenized: TokenizedRow
    turns: list[Turn]
    player_turns: list[int]
    text: str  # conversation_text(turns)
    turn_spans: list[tuple[int, int]]
    kind: str = "conversation"

    @property
    def players(self) -> list[str]:
        return [p.text for p in self.tokenized.players]

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [(p.start, p.end) for p in self.tokenized.players]

    regions = None

    def mask(self, coalitions: np.ndarray) -> np.ndarray:
        return np.asarray(coalitions, dtype=bool)


def tokenize_conversation(
    tokenizer,
    turns: list[Turn],
    features: dict,
    render: Callable[[list[dict]], str],
    *,
    add_special_tokens: bool = False,
    prepend_ids: tuple[int, ...] = (),
    spans=None,
) -> ConversationPart:
    """Render `turns` with `render`, tokenize the prompt once and split the chosen turns into players.

    `spans` (granularity 'spans'): [start, end) pairs indexing the conversation text (`conversation_text`,
    as player spans do), each inside one of the chosen turns. Raises RowError for a turn selection that
    matches nothing (`empty_input`), a span outside the chosen turns (`bad_spans`) and more than
    `features.max_players`.
    """
    chosen = player_turns(turns, features.get("players_from", "last_user"))
    text, turn_spans = conversation_text(turns)
    by_turn = spans_by_turn(spans, turn_spans, chosen) if features["granularity"] == "spans" else {}
    full, starts = render_with_contents(turns, render)
    encoded = tokenizer(
        full, add_special_tokens=add_special_tokens, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    ids = np.asarray(encoded["input_ids"], dtype=np.int64)
    offsets = list(encoded["offset_mapping"])
    special = np.asarray(encoded["special_tokens_mask"], dtype=bool)
    if prepend_ids:
        ids = np.concatenate([np.asarray(prepend_ids, dtype=np.int64), ids])
        offsets = [(0, 0)] * len(prepend_ids) + offsets
        special = np.concatenate([np.ones(len(prepend_ids), dtype=bool), special])

    players, in_prompt = [], []  # spans into the conversation text / into the rendered prompt
    budget = dict(features, max_players=10**9)  # counted over all turns below
    for i in chosen:
        content, start = turns[i].content, starts[i]
        if not content.strip() or (features["granularity"] == "spans" and i not in by_turn):
            continue
        token_offsets = None
        if features["granularity"] == "token":
            end = start + len(content)
            token_offsets = [
                (s - start, e - start) for (s, e), sp in zip(offsets, special) if not sp and s < end and e > start
            ]
        try:
            local = row_players(content, budget, spans=by_turn.get(i), token_offsets=token_offsets)
        except RowError as error:
            if error.kind == "empty_input":
                continue  # a turn of punctuation only: its tokens simply stay
            raise
        shift = turn_spans[i][0]
        players += [Player(p.text, p.start + shift, p.end + shift) for p in local]
        in_prompt += [Player(p.text, p.start + start, p.end + start) for p in local]
    if not players:
        raise RowError("empty_input", "the turns features.players_from names have no players at this granularity")
    if len(players) > features["max_players"]:
        raise RowError(
            "too_many_players",
            f"{len(players)} players exceed features.max_players = {features['max_players']}; raise it, use a "
            "coarser features.granularity or fewer turns in features.players_from",
        )
    owners = assign_tokens(in_prompt, offsets, 0, len(full), special_mask=special)
    return ConversationPart(TokenizedRow(ids, owners, players), turns, chosen, text, turn_spans)


def spans_by_turn(spans, turn_spans: list[tuple[int, int]], chosen: list[int]) -> dict[int, list[tuple[int, int]]]:
    """The row's spans (indexing the conversation text) per chosen turn, relative to that turn's content."""
    if spans is None:
        raise RowError("missing_column", "features.granularity 'spans' needs a `spans` column in the row")
    by_turn: dict[int, list[tuple[int, int]]] = {}
    for k, span in enumerate(spans):
        if span is None or len(span) != 2:
            raise RowError("bad_spans", f"spans[{k}] = {span!r} is not a [start, end) pair")
        start, end = int(span[0]), int(span[1])
        turn = next((i for i in chosen if turn_spans[i][0] <= start < end <= turn_spans[i][1]), None)
        if turn is None:
            raise RowError(
                "bad_spans",
                f"spans[{k}] = [{start}, {end}) is not inside one of the turns features.players_from names "
                "(spans index the turns' contents joined by a blank line)",
            )
        by_turn.setdefault(turn, []).append((start - turn_spans[turn][0], end - turn_spans[turn][0]))
    return by_turn
