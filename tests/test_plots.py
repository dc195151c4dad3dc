"""colorize.plots: every figure is written atomically as a readable, non-trivial PNG."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from colorize import plots
from conftest import REPO

CSV_LOG = """epoch,loss,val_loss,mae,val_mae,learning_rate
0,1.00,1.20,0.50,0.60,0.001
1,0.70,0.90,0.40,0.50,0.001
2,0.50,0.60,0.30,0.45,0.001
3,0.40,0.75,0.25,0.48,0.0005
"""


def _read_rgb(path):
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a readable image"
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _colour_pixels(rgb, spread=60):
    """Pixels whose channels differ by more than ``spread``: strongly coloured ones."""
    rgb = rgb.astype(int)
    return int(np.count_nonzero(rgb.max(-1) - rgb.min(-1) > spread))


def _no_temporaries(folder):
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_learning_curves_png(tmp_path):
    log = tmp_path / "train.csv"
    log.write_text(CSV_LOG)
    written = plots.plot_learning_curves(log, tmp_path / "curves.png")
    image = _read_rgb(written)
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert _colour_pixels(image) > 200  # coloured curves and the best-epoch star, not a blank canvas
    _no_temporaries(tmp_path)


def test_read_training_log_keeps_last_row_of_resumed_epochs(tmp_path):
    log = tmp_path / "resumed.csv"
    log.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.8,0.9\n1,0.7,0.85\n2,0.6,0.8\n")
    data = plots.read_training_log(log)
    np.testing.assert_array_equal(data["epoch"], [0, 1, 2])
    np.testing.assert_allclose(data["loss"], [1.0, 0.7, 0.6])


def test_learning_curves_without_validation(tmp_path):
    log = tmp_path / "train.csv"
    log.write_text("epoch,loss\n0,2.0\n1,1.5\n")
    assert _read_rgb(plots.plot_learning_curves(log, tmp_path / "c.png")).size > 0


@pytest.mark.parametrize("content", [None, "", "a,b\n1,2\n"])
def test_learning_curves_bad_log(tmp_path, content):
    log = tmp_path / "bad.csv"
    if content is not None:
        log.write_text(content)
    with pytest.raises(plots.ColorizeError):
        plots.plot_learning_curves(log, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_plots_cli(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text(CSV_LOG)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "colorize.cli.plots", str(log)], capture_output=True, text=True,
                            cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    assert _read_rgb(tmp_path / "run.png").size > 0
    missing = subprocess.run(
        [sys.executable, "-m", "colorize.cli.plots", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "x.png")],
        capture_output=True, text=True, cwd=REPO, env=env,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "nope.csv" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_comparison_grid_has_colour_only_in_colour_columns(tmp_path):
    gray = np.full((40, 60), 128, np.uint8)
    red = np.zeros((40, 60, 3), np.uint8)
    red[..., 0] = 230
    rows = [[gray, red, red], [gray, red, red]]
    written = plots.comparison_grid(rows, ["input", "model", "truth"], tmp_path / "grid.png")
    image = _read_rgb(written)
    width = image.shape[1]
    # The first third (gray input column) has no strong colour, the other columns are red.
    assert _colour_pixels(image[:, : width // 3 - 5]) == 0
    assert _colour_pixels(image[:, width // 3 + 5 :]) > 0.3 * image[:, width // 3 + 5 :].shape[0] * (2 * width // 3)
    with pytest.raises(ValueError):
        plots.comparison_grid([[gray, red]], ["a", "b", "c"], tmp_path / "bad.png")


def test_temperature_sweep(tmp_path):
    results = [
        {"model": "gray baseline", "head": "gray", "temperature": None, "auc": 0.89, "colourfulness_ratio": 0.0},
        {"model": "unet", "head": "regression", "temperature": None, "auc": 0.90, "colourfulness_ratio": 0.4},
    ] + [
        {"model": "zhang", "head": "bins", "temperature": t, "auc": a, "colourfulness_ratio": r}
        for t, a, r in [(1.0, 0.91, 0.5), (0.38, 0.90, 0.8), (0.1, 0.87, 1.1)]
    ]
    image = _read_rgb(plots.temperature_sweep(results, tmp_path / "sweep.png"))
    assert image.shape[0] > 200
    assert _colour_pixels(image) > 100
    _no_temporaries(tmp_path)


def test_compare_figure_two_and_three_panels(tmp_path):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (50, 80, 3)).astype(np.uint8)
    three = _read_rgb(plots.compare_figure(colour, colour, colour, tmp_path / "three.png"))
    two = _read_rgb(plots.compare_figure(colour[..., 0], colour, None, tmp_path / "two.png"))
    assert three.shape[1] > two.shape[1]
    # The input panel (a colour input shown as its grayscale) is gray; the others have colour.
    third = three.shape[1] // 3
    assert _colour_pixels(three[:, 5 : third - 5]) == 0
    assert _colour_pixels(three[:, third + 5 :]) > 1000


def test_existing_file_replaced_atomically(tmp_path):
    target = tmp_path / "sweep.png"
    target.write_bytes(b"old")
    plots.temperature_sweep(
        [{"model": "g", "head": "gray", "temperature": None, "auc": 0.5, "colourfulness_ratio": 0.0}], target
    )
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _no_temporaries(tmp_path)
