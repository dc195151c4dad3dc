"""Chroma upsampling (colorize.predict.upsample): bilinear as cv2.resize, guided keeps colour edges on L edges."""

import cv2
import numpy as np
import pytest

from colorize.predict import upsample
from colorize.predict.pipeline import compose



def upsample_ab(lightness, ab_small, method=upsample.DEFAULT_METHOD):
    """ab (h, w, 2) -> ab (H, W, 2) float32 at L's resolution: the strips joined into one array."""
    result = np.empty(lightness.shape + (ab_small.shape[-1],), np.float32)
    for rows, ab in upsample.ab_strips(lightness, ab_small, method):
        result[rows] = ab
    return result


def edge_scene(height=96, width=128, edge=53, factor=4):
    """Full-res L with a sharp vertical edge at column ``edge`` (not on the grid), the true ab changing
    sign at the same column, and that ab area-averaged to a grid ``factor`` times coarser (what a
    perfect network predicts at the working size)."""
    lightness = np.full((height, width), 30.0, np.float32)
    lightness[:, edge:] = 70.0
    ab = np.zeros((height, width, 2), np.float32)
    ab[:, :edge] = (40.0, 20.0)
    ab[:, edge:] = (-40.0, -10.0)
    small = cv2.resize(ab, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    return lightness, ab, small


def test_guided_keeps_a_colour_edge_on_the_lightness_edge_where_bilinear_bleeds():
    lightness, truth, small = edge_scene()
    near = slice(45, 61)  # two grid cells either side of the edge
    errors = {}
    for method in upsample.METHODS:
        ab = upsample_ab(lightness, small, method)
        assert ab.shape == truth.shape
        errors[method] = np.abs(ab - truth)[:, near].mean()
    assert errors["bilinear"] > 4  # colour bleeds over several pixels
    assert errors["guided"] < errors["bilinear"] / 1.8, errors
    guided = upsample_ab(lightness, small, "guided")
    # The sign of a flips exactly at the L edge, not a pixel before or after.
    assert (guided[:, 52, 0] > 20).all() and (guided[:, 53, 0] < -20).all()


def test_guided_changes_nothing_where_there_is_nothing_to_align():
    lightness = np.random.default_rng(0).uniform(0, 100, (40, 56)).astype(np.float32)
    constant = np.full((10, 14, 2), (12.0, -7.0), np.float32)
    np.testing.assert_allclose(upsample_ab(lightness, constant, "guided"), np.broadcast_to(
        constant[:1, :1], (40, 56, 2)), atol=1e-3)
    gray = np.zeros((10, 14, 2), np.float32)
    assert not upsample_ab(lightness, gray, "guided").any()


def test_bilinear_is_cv2_resize_and_strips_join_exactly():
    rng = np.random.default_rng(1)
    lightness = rng.uniform(0, 100, (75, 130)).astype(np.float32)
    small = rng.uniform(-60, 60, (19, 33, 2)).astype(np.float32)
    np.testing.assert_array_equal(upsample_ab(lightness, small, "bilinear"),
                                  cv2.resize(small, (130, 75), interpolation=cv2.INTER_LINEAR))
    for method in upsample.METHODS:
        whole = compose(lightness, small, upsample=method)
        for strip in (130, 7 * 130, 1):
            np.testing.assert_array_equal(compose(lightness, small, strip_pixels=strip, upsample=method), whole)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="bilinear, guided"):
        upsample_ab(np.zeros((8, 8), np.float32), np.zeros((2, 2, 2), np.float32), "bicubic")


def test_command_line_choices_match_the_library():
    from colorize.cli import colorize as cli

    assert cli.UPSAMPLE_METHODS == upsample.METHODS and cli.DEFAULT_UPSAMPLE == upsample.DEFAULT_METHOD


def test_colorize_upsample_option(tiny_models, tmp_path, capsys):
    from conftest import save_rgb, synthetic_photo

    from colorize.cli.colorize import colorize_command
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import colorize_image

    source = save_rgb(tmp_path / "photo.png", synthetic_photo(96, 120, seed=3))
    model = load_colorizer(tiny_models["simple"])
    image = cv2.cvtColor(cv2.imread(str(source)), cv2.COLOR_BGR2RGB)
    outputs = {}
    for method in upsample.METHODS:
        out = tmp_path / method
        assert colorize_command("simple", [str(source), "-o", str(out), "-m", str(tiny_models["simple"]), "-q",
                                           "--size", "32", "--upsample", method]) == 0
        outputs[method] = cv2.cvtColor(cv2.imread(str(out / "photo.png")), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(outputs[method], colorize_image(image, model, size=32, upsample=method))
    assert not np.array_equal(outputs["bilinear"], outputs["guided"])
    with pytest.raises(SystemExit) as exit_info:
        colorize_command("simple", [str(source), "--upsample", "bicubic"])
    assert exit_info.value.code == 2 and "--upsample" in capsys.readouterr().err
