"""Write config/data/reviews.jsonl: 600 short product and place reviews, templated by this project.

Empirical explainers (config/examples/empirical.jsonnet) learn from hundreds of explained rows, more than
the 32 sentences of the embedded default; nothing may come from a hub, so the texts are composed here from
hand-written parts (domains, aspects, opinions, hedges) with a fixed seed. The file is committed; a test
regenerates it and checks it is unchanged. Run: `python config/data/generate_reviews.py`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

N_TEXTS = 600
SEED = 0
OUT = Path(__file__).with_name("reviews.jsonl")

DOMAINS = {
    "phone": ["battery", "screen", "camera", "speaker", "charger", "case", "keyboard", "fingerprint reader"],
    "hotel": ["room", "breakfast", "staff", "pool", "bed", "shower", "view", "location"],
    "restaurant": ["pasta", "soup", "service", "dessert", "coffee", "bread", "waiter", "menu"],
    "film": ["plot", "soundtrack", "ending", "lead actor", "dialogue", "pacing", "camera work", "villain"],
    "bike": ["frame", "brakes", "saddle", "gears", "tyres", "chain", "handlebar", "lights"],
    "book": ["story", "characters", "prose", "first chapter", "translation", "cover", "index", "twist"],
}
POSITIVE = ["excellent", "wonderful", "reliable", "superb", "lovely", "fantastic", "solid", "impressive"]
NEGATIVE = ["terrible", "awful", "flimsy", "disappointing", "noisy", "broken", "dull", "useless"]
INTENSIFIERS = ["really", "truly", "quite", "surprisingly", "rather", "absolutely", "", ""]
OPENERS = ["Honestly,", "Overall,", "To be fair,", "Sadly,", "Frankly,", "", "", ""]
TIMES = ["after a week", "from day one", "by the second visit", "within an hour", "in the end", "at first"]

TEMPLATES = [
    "{opener} the {a} was {i} {o1}.",
    "The {a} was {o1}, but the {b} felt {o2}.",
    "The {a} seemed {o1} {t}.",
    "I found the {a} {i} {o1}.",
    "{opener} the {a} turned out {o1}.",
    "The {a} was {o1} and the {b} {o2}.",
    "Such {i} {o1} {a}, {t}.",
    "My friend called the {a} {o1}.",
]


def _text(rng: random.Random) -> tuple[str, str, str]:
    domain = rng.choice(sorted(DOMAINS))
    a, b = rng.sample(DOMAINS[domain], 2)
    first = rng.choice(["positive", "negative"])
    second = rng.choice(["positive", "negative"])
    words = {"positive": POSITIVE, "negative": NEGATIVE}
    fill = {
        "opener": rng.choice(OPENERS),
        "a": a,
        "b": b,
        "i": rng.choice(INTENSIFIERS),
        "o1": rng.choice(words[first]),
        "o2": rng.choice(words[second]),
        "t": rng.choice(TIMES),
    }
    text = " ".join(rng.choice(TEMPLATES).format(**fill).split())  # drop the gaps empty slots leave
    return text[0].upper() + text[1:], domain, first


def generate(n: int = N_TEXTS, seed: int = SEED) -> list[dict]:
    """`n` distinct reviews (id, text, domain, sentiment of the first opinion), the same for the same seed."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows = []
    while len(rows) < n:
        text, domain, sentiment = _text(rng)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"id": f"r{len(rows):03d}", "text": text, "domain": domain, "sentiment": sentiment})
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


if __name__ == "__main__":
    OUT.write_text(render(generate()))
    print(f"wrote {N_TEXTS} reviews to {OUT}")
