"""RGB <-> Lab conversion agrees with scikit-image; normalisation round-trips."""

import numpy as np
import pytest
from skimage import color as skcolor

from colorize import color


@pytest.mark.parametrize("shape", [(17, 23, 3), (3, 8, 8, 3)])
def test_rgb_to_lab_matches_skimage(shape):
    rgb = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    np.testing.assert_allclose(color.rgb_to_lab(rgb), skcolor.rgb2lab(rgb), atol=1e-3)


def test_round_trip_matches_skimage_and_input():
    rgb = np.random.default_rng(2).random((32, 32, 3)).astype(np.float32)
    lab = color.rgb_to_lab(rgb)
    np.testing.assert_allclose(color.lab_to_rgb(lab), skcolor.lab2rgb(skcolor.rgb2lab(rgb)), atol=1e-3)
    np.testing.assert_allclose(color.lab_to_rgb(lab), rgb, atol=1e-3)


def test_lightness_shortcut_equals_full_conversion():
    rgb = np.random.default_rng(3).integers(0, 256, (4, 40, 40, 3), dtype=np.uint8)
    np.testing.assert_allclose(color.rgb_to_lightness(rgb), skcolor.rgb2lab(rgb)[..., 0], atol=1e-3)
    gray = rgb[0, ..., 0]
    np.testing.assert_allclose(
        color.gray_to_lightness(gray), skcolor.rgb2lab(np.repeat(gray[..., None], 3, -1))[..., 0], atol=1e-3
    )


def test_ranges_and_split():
    rgb = np.random.default_rng(4).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    lightness, ab = color.rgb_to_l_ab(rgb)
    assert lightness.shape == (64, 64, 1) and ab.shape == (64, 64, 2)
    assert 0 <= lightness.min() and lightness.max() <= 100
    assert -128 <= ab.min() and ab.max() <= 127
    # What the convolutions see: the models' in-graph normalisation maps [0, 100] onto [-0.5, 0.5].
    from colorize.models.colorizer import lightness_input

    import keras

    inputs, normalised = lightness_input()
    x = np.asarray(keras.Model(inputs, normalised).predict_on_batch(lightness[None]))
    np.testing.assert_allclose(x[0], (lightness - color.L_CENT) / color.L_NORM, atol=1e-5)
    assert -0.5 <= x.min() and x.max() <= 0.5


def test_l_ab_to_rgb_round_trip_uint8():
    rgb = np.random.default_rng(5).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    lightness, ab = color.rgb_to_l_ab(rgb)
    back = color.l_ab_to_rgb(lightness[..., 0], ab)
    assert back.dtype == np.uint8 and np.abs(back.astype(int) - rgb).max() <= 1


def test_large_image_is_converted_in_chunks_identically(monkeypatch):
    rgb = np.random.default_rng(6).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    whole = color.rgb_to_lab(rgb)
    monkeypatch.setattr(color, "_CHUNK_PIXELS", 333)
    np.testing.assert_array_equal(color.rgb_to_lab(rgb), whole)


def test_saturated_colours_keep_their_lightness():
    rng = np.random.default_rng(7)
    lightness = rng.uniform(0, 100, (64, 64)).astype(np.float32)
    ab = rng.uniform(-110, 110, (64, 64, 2)).astype(np.float32)  # mostly out of the sRGB gamut
    out = color.l_ab_to_rgb(lightness, ab)
    drift = np.abs(color.rgb_to_lightness(out) - lightness)
    assert drift.max() < 1.0 and drift.mean() < 0.3, (drift.max(), drift.mean())
    # hue is kept: the output's ab points the same way as the requested ab where it has colour
    _, out_ab = color.rgb_to_l_ab(out)
    chroma = np.linalg.norm(out_ab, axis=-1)
    cosine = (out_ab * ab).sum(-1) / (chroma * np.linalg.norm(ab, axis=-1) + 1e-6)
    assert np.median(cosine[chroma > 10]) > 0.95


def test_gamut_fit_keeps_nearly_all_the_chroma_that_fits():
    """The table-bracketed fit (two checks a pixel) against a 20-step bisection from [0, 1]."""
    rng = np.random.default_rng(11)
    count = 20000
    lab = np.stack([rng.uniform(0, 100, count), rng.uniform(-110, 110, count), rng.uniform(-110, 110, count)], 1)
    lab = lab.astype(np.float32)
    lab[:200, 0] = rng.choice([0.0, 0.5, 99.5, 100.0], 200)  # where the gamut narrows to the gray axis
    fitted = color._fit_chroma_to_gamut(lab)
    assert color._in_gamut(fitted).all()
    np.testing.assert_array_equal(fitted[:, 0], lab[:, 0])
    outside = np.flatnonzero(~color._in_gamut(lab))
    exact = color._bisect_factor(lab[outside], np.zeros(len(outside), np.float32), np.ones(len(outside), np.float32),
                                 20)
    exact_chroma = exact * np.hypot(lab[outside, 1], lab[outside, 2])
    chroma = np.hypot(fitted[outside, 1], fitted[outside, 2])
    assert (chroma >= exact_chroma * 0.99 - 0.51).all(), (chroma - exact_chroma).min()
    inside = np.setdiff1d(np.arange(count), outside)
    np.testing.assert_array_equal(fitted[inside], lab[inside])  # colours in gamut are left alone


def test_lightness_of_uint8_rgb_matches_the_reference():
    rgb = np.random.default_rng(12).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    np.testing.assert_allclose(color.rgb_to_lightness(rgb), color.rgb_to_lab(rgb)[..., 0], atol=2e-3)


def test_l_ab_to_rgb_rounds_in_gamut_colours_exactly():
    """Every in-gamut colour comes out as the rounded scikit-image conversion, dark ones included."""
    rng = np.random.default_rng(13)
    # Channels kept off 0 and 255, away from the gamut's surface, so float32 cannot push a colour out.
    rgb = rng.integers(3, 253, (60, 80, 3), dtype=np.uint8)
    rgb[:20] = rng.integers(3, 14, (20, 80, 3))  # the CIE curve's linear segment (L below 8)
    lab = skcolor.rgb2lab(rgb)
    exact = np.clip(np.rint(skcolor.lab2rgb(lab) * 255), 0, 255)
    out = color.l_ab_to_rgb(lab[..., 0].astype(np.float32), lab[..., 1:].astype(np.float32))
    np.testing.assert_array_equal(out, exact)


def test_black_and_white_stay_neutral_and_pixels_do_not_depend_on_their_neighbours():
    """L 0 and 100 have one colour each (black, white) whatever ab asks; a pixel's colour does not change
    when dark pixels (the CIE curve's other branch) join it in the image."""
    rng = np.random.default_rng(14)
    ab = rng.uniform(-60, 60, (2, 50, 2)).astype(np.float32)
    ends = color.l_ab_to_rgb(np.array([[0.0] * 50, [100.0] * 50], np.float32), ab)
    assert (ends[0] == 0).all() and (ends[1] == 255).all()
    bright = rng.uniform(40, 90, (1, 50)).astype(np.float32)
    alone = color.l_ab_to_rgb(bright, ab[:1])
    with_dark = color.l_ab_to_rgb(np.concatenate([bright, np.full((1, 50), 2.0, np.float32)]), ab)
    np.testing.assert_array_equal(with_dark[:1], alone)


def test_gray_images_take_the_table_and_agree_with_the_colour_path():
    """R = G = B everywhere: L by one 256-entry table, equal to the weighted-sum path; one coloured pixel
    outside the rows sampled first sends the image the colour way."""
    rng = np.random.default_rng(15)
    gray = rng.integers(0, 256, (33, 47), dtype=np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    assert color._gray_plane(rgb) is not None
    table_path = color.rgb_to_lightness(rgb)
    np.testing.assert_allclose(table_path, skcolor.rgb2lab(rgb)[..., 0], atol=1e-3)
    y = color._WEIGHTED_LINEAR_LUT[rgb[..., 0], 0] + color._WEIGHTED_LINEAR_LUT[rgb[..., 1], 1] + \
        color._WEIGHTED_LINEAR_LUT[rgb[..., 2], 2]
    np.testing.assert_allclose(table_path, color._y_to_l(y), atol=1e-4)
    tinted = rgb.copy()
    tinted[5, 9] = (200, 10, 10)  # row 5 is not among the sampled rows (every 4th)
    assert color._gray_plane(tinted) is None
    np.testing.assert_allclose(color.rgb_to_lightness(tinted), skcolor.rgb2lab(tinted)[..., 0], atol=1e-3)
