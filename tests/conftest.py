"""Shared fixtures: synthetic photos, tiny saved models, and a CLI runner."""

import ast
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


def make_tiny_colorizer(family_name, training_size=None, seed=0):
    """An untrained Colorizer of a registered family at its tiny test config."""
    import keras

    from colorize import models
    from colorize.models.colorizer import make_colorizer

    keras.utils.set_random_seed(seed)
    family = models.get(family_name)
    return make_colorizer(family, family.build(**family.tiny), training_size=training_size, options=family.tiny)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Small untrained colorizers saved as .keras files: "simple" (regression) and "complex" (Zhang bins)."""
    import keras

    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for key, family in (("simple", "simple"), ("complex", "zhang")):
        paths[key] = folder / f"{key}.keras"
        make_tiny_colorizer(family).save(paths[key])
    keras.backend.clear_session()
    return paths


def call_entry(capsys, command, argv):
    """Run a command's entry point in this process -> (status, stdout, stderr); argparse's exits included."""
    try:
        status = command([str(a) for a in argv])
    except SystemExit as exit_info:
        status = exit_info.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def interruptible():
    """preexec_fn for a child that a test interrupts with SIGINT: the default disposition back.

    A shell starts background jobs with SIGINT ignored and children inherit that; Python then never
    raises KeyboardInterrupt, and the child would ignore the test's Ctrl-C (as a CI run started with
    ``nohup ... &`` did)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_script(script, *args, cwd=None, timeout=300):
    """Run one of the repository's scripts in a subprocess; returns CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    command = [sys.executable, str(REPO / script), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


_RUN_AND_LIST_MODULES = r"""
import runpy, sys
modules = sys.argv[1].split(",")
script = sys.argv[2]
sys.argv = [script] + sys.argv[3:]
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as stop:
    assert stop.code in (0, None), stop.code
print("LOADED", sorted(m for m in modules if m in sys.modules))
"""


def run_listing_modules(script, *args, modules=("keras", "tensorflow"), timeout=300):
    """Run one of the repository's scripts in a fresh interpreter; returns (CompletedProcess, the
    ``modules`` it had imported by the end, a sorted list). The script must exit with status 0."""
    command = [sys.executable, "-c", _RUN_AND_LIST_MODULES, ",".join(modules), str(REPO / script), *map(str, args)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = next(line for line in result.stdout.splitlines() if line.startswith("LOADED "))
    return result, ast.literal_eval(loaded[len("LOADED "):])
