"""Shared fixtures: synthetic photos, tiny saved models, and a CLI runner."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("COLORIZE_SHARED_DATA", REPO.parent / "shared" / "data"))


def synthetic_photo(height=64, width=64, seed=0):
    """A colourful uint8 RGB test image: smooth gradients plus a few coloured blocks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.stack([xx, yy, 1 - xx * yy], axis=-1) * 200 + 20
    for _ in range(4):
        top, left = rng.integers(0, height - height // 4), rng.integers(0, width - width // 4)
        image[top : top + height // 4, left : left + width // 4] = rng.integers(0, 256, 3)
    return np.clip(image, 0, 255).astype(np.uint8)


def save_rgb(path, rgb):
    """Write uint8 RGB with OpenCV (which expects BGR)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture
def photo_folder(tmp_path):
    """A folder of 12 synthetic colour photos in two nested class folders, plus a gray and a broken file."""
    root = tmp_path / "photos"
    for index in range(12):
        save_rgb(root / f"class{index % 2}" / f"img{index:02d}.jpg", synthetic_photo(48, 56, seed=index))
    gray = np.repeat(synthetic_photo(48, 56, seed=99).mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    save_rgb(root / "class0" / "gray.png", gray)
    (root / "class1" / "broken.jpg").write_bytes(b"not really a jpeg")
    return root


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Small untrained simple and complex models saved as .keras files."""
    import keras

    from colorize.losses import RebalancedSoftCrossEntropy
    from colorize.models.simple import build_simple_model
    from colorize.models.zhang import build_zhang_model

    folder = tmp_path_factory.mktemp("models")
    simple = build_simple_model(width=0.125)
    simple.compile(optimizer="adam", loss="mean_squared_error")
    simple.save(folder / "simple.keras")
    complex_model = build_zhang_model(width=0.125, middle_blocks=1)
    complex_model.compile(optimizer="adam", loss=RebalancedSoftCrossEntropy())
    complex_model.save(folder / "complex.keras")
    keras.backend.clear_session()
    return {"simple": folder / "simple.keras", "complex": folder / "complex.keras"}


def run_script(script, *args, cwd=None, timeout=300):
    """Run one of the repository's scripts in a subprocess; returns CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    command = [sys.executable, str(REPO / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
