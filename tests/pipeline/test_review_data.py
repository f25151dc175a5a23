"""config/data/reviews.jsonl: the shipped training set of the empirical example is what its generator writes."""

import importlib.util
import json

from workflow_runs import REPO


def test_the_shipped_reviews_are_regenerated_exactly_and_are_enough_to_train_on():
    spec = importlib.util.spec_from_file_location("generate_reviews", REPO / "config/data/generate_reviews.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = (REPO / "config/data/reviews.jsonl").read_text()
    assert module.render(module.generate()) == shipped  # run the script after editing its templates
    rows = [json.loads(line) for line in shipped.splitlines()]
    assert len(rows) >= 500
    assert len({r["text"] for r in rows}) == len(rows) and len({r["id"] for r in rows}) == len(rows)
