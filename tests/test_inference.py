"""The any-resolution inference path: shapes, kept lightness, working size, model checks."""

import cv2
import numpy as np
import pytest

from colorize import color

from colorize.predict import engine
from colorize.predict import pipeline as inference
from colorize.errors import ColorizeError
from conftest import make_tiny_colorizer, synthetic_photo


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
    model = engine.load_colorizer(tiny_models[kind])
    assert inference.default_working_size(model) == inference.DEFAULT_SIZE  # no training size recorded
    for shape in [(37, 53, 3), (64, 64), (20, 200, 3)]:
        image = synthetic_photo(shape[0], shape[1])
        image = image if len(shape) == 3 else image[..., 0]
        out = inference.colorize_image(image, model, size=32)
        assert out.shape == shape[:2] + (3,)
    raw = inference.predict_raw(model, [np.full((30, 40), 50.0, np.float32)] * 3, size=32)
    # 30 x 40 at working size 32: short side 32, long side 42.7 rounded to the input multiple, 40.
    stride = model.output_stride
    channels = 2 if model.head == "regression" else len(model.bins)
    assert len(raw) == 3 and raw[0].shape == (32 // stride, 40 // stride, channels)


def test_recorded_training_size_becomes_the_working_size(tmp_path):
    path = tmp_path / "m.keras"
    make_tiny_colorizer("simple", training_size=48).save(path)
    model = engine.load_colorizer(path)
    assert model.training_size == 48 and inference.default_working_size(model) == 48
    assert inference.predict_raw(model, [np.zeros((10, 10), np.float32)])[0].shape == (48, 48, 2)


def test_wrong_family_and_missing_model_raise_colorize_error(tiny_models, tmp_path):
    with pytest.raises(ColorizeError, match="simple model"):
        engine.load_colorizer(tiny_models["simple"], families=["zhang"])
    with pytest.raises(ColorizeError, match="not found"):
        engine.load_colorizer(tmp_path / "none.keras")


def test_annealed_decoding_is_more_colourful_at_low_temperature(tiny_models):
    model = engine.load_colorizer(tiny_models["complex"])
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (8, 8, len(model.bins))).astype(np.float32)
    chroma = {t: np.linalg.norm(inference.decode(model, logits, t), axis=-1).mean() for t in (0.1, 0.38, 1.0)}
    assert chroma[0.1] > chroma[0.38] > chroma[1.0]
    # The model's own default temperature is the one used without an argument, and it can be set.
    assert model.temperature == pytest.approx(0.38)
    np.testing.assert_allclose(inference.decode(model, logits), inference.decode(model, logits, 0.38), atol=1e-5)
    model.temperature = 0.1
    np.testing.assert_allclose(inference.decode(model, logits), inference.decode(model, logits, 0.1), atol=1e-5)
    with pytest.raises(ValueError):
        model.temperature = float("nan")


def test_network_shape_keeps_the_training_scale_and_aspect():
    assert inference.network_shape(3000, 4000, 64) == (64, 88)
    assert inference.network_shape(4000, 3000, 64) == (88, 64)
    assert inference.network_shape(224, 224, 64) == (64, 64)
    assert inference.network_shape(20, 2000, 64) == (64, 256)  # at most MAX_ASPECT times longer
    assert inference.network_shape(3000, 4000, 64, keep_aspect=False) == (64, 64)


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_mirror_averaging_is_exactly_mirror_equivariant(kind, tiny_models):
    model = engine.load_colorizer(tiny_models[kind])
    lightness = inference.lightness_of(synthetic_photo(40, 56, seed=5))
    mirrored = np.ascontiguousarray(lightness[:, ::-1])
    plain, averaged, of_mirrored = (
        inference.predict_raw(model, [lum], size=32, mirror=mirror)[0]
        for lum, mirror in ((lightness, False), (lightness, True), (mirrored, True))
    )
    # Averaged with its mirror image, the prediction of a mirrored photo is the mirrored prediction.
    np.testing.assert_allclose(of_mirrored, averaged[:, ::-1], atol=1e-5)
    # Without mirroring it is the network's own output on the resized L (32 x 48 here) ...
    net_input = cv2.resize(lightness, (48, 32), interpolation=cv2.INTER_AREA)
    direct = np.asarray(model.network.predict_on_batch(net_input[None, ..., None]))[0]
    np.testing.assert_allclose(plain, direct, rtol=1e-5, atol=1e-4)
    # ... which, for an asymmetric photo, the mirror average changes.
    assert np.abs(plain - averaged).max() > 1e-4
