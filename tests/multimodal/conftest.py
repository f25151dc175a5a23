"""Media fixtures (real photos bundled with scikit-image, speech spoken by espeak-ng) and tiny media
classifiers, built once per test session."""

import shutil
import subprocess

import numpy as np
import pytest
import skimage.data
from PIL import Image


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """A folder of media files: photos (PNG, JPEG), a corrupt PNG, speech (WAV 22.05 kHz, FLAC 8 kHz stereo)."""
    folder = tmp_path_factory.mktemp("media")
    Image.fromarray(skimage.data.chelsea()).save(folder / "chelsea.png")
    Image.fromarray(skimage.data.coffee()).save(folder / "coffee.jpg", quality=95)
    Image.fromarray(skimage.data.camera()).save(folder / "camera.png")  # greyscale
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 8)
    subprocess.run(["espeak-ng", "-w", str(folder / "speech.wav"), "the cat sat on the mat"], check=True)
    # 8 kHz stereo FLAC: decoding averages channels and the connector resamples to the model's rate
    sox = shutil.which("sox")
    assert sox, "sox is needed to build the FLAC fixture"
    subprocess.run([sox, str(folder / "speech.wav"), "-r", "8000", "-c", "2", str(folder / "speech.flac")], check=True)
    return folder


@pytest.fixture(scope="session")
def tiny_vit_path(tmp_path_factory) -> str:
    from tiny_media_models import build_tiny_vit_classifier

    return build_tiny_vit_classifier(tmp_path_factory.mktemp("tiny_vit"))


@pytest.fixture(scope="session")
def tiny_wav2vec2_path(tmp_path_factory) -> str:
    from tiny_media_models import build_tiny_wav2vec2_classifier

    return build_tiny_wav2vec2_classifier(tmp_path_factory.mktemp("tiny_wav2vec2"))


def all_coalitions(n: int) -> list[frozenset]:
    from itertools import combinations

    return [frozenset(s) for size in range(n + 1) for s in combinations(range(n), size)]


def brute_force_shapley(values: dict, n: int) -> np.ndarray:
    """Shapley values from the definition, given the value of every coalition (frozenset -> float)."""
    from itertools import combinations
    from math import factorial

    def v(s):
        return values[s]

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for s in combinations(others, size):
                s = frozenset(s)
                phi[i] += weight * (v(s | {i}) - v(s))
    return phi


@pytest.fixture(scope="session")
def tiny_llava_path(tmp_path_factory) -> str:
    from tiny_media_models import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny_llava"))


@pytest.fixture(scope="session")
def tiny_qwen2_audio_path(tmp_path_factory) -> str:
    from tiny_media_models import build_tiny_qwen2_audio

    return build_tiny_qwen2_audio(tmp_path_factory.mktemp("tiny_qwen2_audio"))


@pytest.fixture(scope="session")
def tiny_ctc_path(tmp_path_factory) -> str:
    from tiny_media_models import build_tiny_wav2vec2_ctc

    return build_tiny_wav2vec2_ctc(tmp_path_factory.mktemp("tiny_ctc"))
