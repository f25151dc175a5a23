"""Training options: one table of defaults, filled and checked with errors naming shap.options.<key>."""

import subprocess
import sys

import pytest

from shapsweep.empirical.options import TRAINING_FIELDS, TRAINING_OPTIONS, validate_training_options


def test_defaults_fill_every_option():
    assert validate_training_options({}) == TRAINING_OPTIONS
    assert set(TRAINING_OPTIONS) == {f.name for f in TRAINING_FIELDS} == {
        "scale", "train_fraction", "validation_fraction", "encoder", "epochs", "learning_rate", "batch_size",
        "patience", "max_length", "pooling", "seed",
    }  # fmt: skip
    filled = validate_training_options({"epochs": 3, "learning_rate": 1, "pooling": "sum"})
    assert filled["epochs"] == 3 and filled["learning_rate"] == 1.0 and filled["pooling"] == "sum"
    assert filled["scale"] == "normalized"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"epochz": 3}, "epochz"),
        ({"target": "exact"}, "target"),  # the config's field, not a training option
        ({"epochs": 0}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"scale": "log"}, "scale"),
        ({"pooling": "max"}, "pooling"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"train_fraction": 0}, "train_fraction"),
        ({"train_fraction": 1.5}, "train_fraction"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"max_length": 4}, "max_length"),
        ({"seed": -1}, "seed"),
        ({"encoder": ""}, "encoder"),
        ({"batch_size": "16"}, "batch_size"),
    ],
)
def test_bad_options_name_their_field(options, key):
    with pytest.raises(ValueError, match=rf"^shap\.options\.{key}: "):
        validate_training_options(options)


def test_the_options_import_without_torch():
    code = "import sys, shapsweep.empirical.options; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
