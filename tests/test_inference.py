"""The any-resolution inference path: shapes, kept lightness, working size, model checks."""

import json

import cv2
import numpy as np
import pytest

from colorize import color, inference
from colorize.errors import ColorizeError
from conftest import synthetic_photo


def test_compose_keeps_the_original_lightness_and_resolution():
    rgb = synthetic_photo(90, 140, seed=3)
    lightness = inference.lightness_of(rgb)
    ab_small = np.random.default_rng(0).uniform(-40, 40, (16, 16, 2)).astype(np.float32)
    out = inference.compose(lightness, ab_small)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    drift = np.abs(color.rgb_to_lightness(out) - lightness)
    assert drift.mean() < 0.5, drift.mean()
    # ab = 0 is exactly the grayscale photo
    gray = inference.compose(lightness, np.zeros((4, 4, 2), np.float32))
    assert np.abs(gray.astype(int).max(-1) - gray.astype(int).min(-1)).max() <= 1


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_colorize_image_any_size_and_gray_input(kind, tiny_models):
    model = inference.load_colorizer(tiny_models[kind], kind=kind)
    assert model.working_size == inference.DEFAULT_SIZE  # no settings file beside it
    for shape in [(37, 53, 3), (64, 64), (20, 200, 3)]:
        image = synthetic_photo(shape[0], shape[1])
        image = image if len(shape) == 3 else image[..., 0]
        out = inference.colorize_image(image, model, size=32)
        assert out.shape == shape[:2] + (3,)
    raw = inference.predict_raw(model, [np.full((30, 40), 50.0, np.float32)] * 3, size=32)
    # 30 x 40 at working size 32: short side 32, long side 42.7 rounded to the stride, 40.
    expected = (32, 40, 2) if kind == "simple" else (8, 10, len(__import__("colorize.quantize").quantize.ab_bins()))
    assert len(raw) == 3 and raw[0].shape == expected


def test_recorded_training_size_becomes_the_working_size(tiny_models, tmp_path):
    model_path = tmp_path / "m.keras"
    model_path.write_bytes(tiny_models["simple"].read_bytes())
    (tmp_path / "m_settings.json").write_text(json.dumps({"size": 48}))
    model = inference.load_colorizer(model_path)
    assert model.working_size == 48
    assert inference.predict_raw(model, [np.zeros((10, 10), np.float32)])[0].shape == (48, 48, 2)
    (tmp_path / "m_settings.json").write_text("{broken")
    assert inference.load_colorizer(model_path).working_size == inference.DEFAULT_SIZE


def test_wrong_kind_and_missing_model_raise_colorize_error(tiny_models, tmp_path):
    with pytest.raises(ColorizeError, match="simple model"):
        inference.load_colorizer(tiny_models["simple"], kind="complex")
    with pytest.raises(ColorizeError, match="not found"):
        inference.load_colorizer(tmp_path / "none.keras")


def test_annealed_decoding_is_more_colourful_at_low_temperature(tiny_models):
    from colorize.quantize import ab_bins

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (8, 8, len(ab_bins()))).astype(np.float32)
    chroma = {t: np.linalg.norm(inference.decode(logits, "complex", t), axis=-1).mean() for t in (0.1, 0.38, 1.0)}
    assert chroma[0.1] > chroma[0.38] > chroma[1.0]


def test_network_shape_keeps_the_training_scale_and_aspect():
    assert inference.network_shape(3000, 4000, 64) == (64, 88)
    assert inference.network_shape(4000, 3000, 64) == (88, 64)
    assert inference.network_shape(224, 224, 64) == (64, 64)
    assert inference.network_shape(20, 2000, 64) == (64, 256)  # at most MAX_ASPECT times longer
    assert inference.network_shape(3000, 4000, 64, keep_aspect=False) == (64, 64)


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_mirror_averaging_is_exactly_mirror_equivariant(kind, tiny_models):
    model = inference.load_colorizer(tiny_models[kind], kind=kind)
    lightness = inference.lightness_of(synthetic_photo(40, 56, seed=5))
    mirrored = np.ascontiguousarray(lightness[:, ::-1])
    plain, averaged, of_mirrored = (
        inference.predict_raw(model, [lum], size=32, mirror=mirror)[0]
        for lum, mirror in ((lightness, False), (lightness, True), (mirrored, True))
    )
    # Averaged with its mirror image, the prediction of a mirrored photo is the mirrored prediction.
    np.testing.assert_allclose(of_mirrored, averaged[:, ::-1], atol=1e-5)
    # Without mirroring it is the network's own output on the resized L (32 x 48 here) ...
    net_input = color.normalize_l(cv2.resize(lightness, (48, 32), interpolation=cv2.INTER_AREA))
    direct = np.asarray(model.predict_on_batch(net_input[None, ..., None]))[0]
    expected = color.denormalize_ab(direct) if kind == "simple" else direct
    np.testing.assert_allclose(plain, expected, rtol=1e-5, atol=1e-5)
    # ... which, for an asymmetric photo, the mirror average changes.
    assert np.abs(plain - averaged).max() > 1e-4
