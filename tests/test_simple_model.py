"""The L2 regression model: any batch size and size, save/load, real learning."""

import keras
import numpy as np
import pytest

import colorize  # noqa: F401  (registers custom objects)
from colorize.train.data import LabBatches
from colorize.models.losses import AbMeanSquaredError
from colorize.models.simple import build_simple_model
from conftest import synthetic_photo


@pytest.mark.parametrize("batch,height,width", [(1, 8, 8), (3, 32, 48), (2, 64, 40)])
def test_any_batch_and_size(batch, height, width):
    model = build_simple_model(width=0.125)
    out = model(np.zeros((batch, height, width, 1), np.float32))
    assert tuple(out.shape) == (batch, height, width, 2)


def test_report_size_and_width_multiplier():
    assert 3.8e6 < build_simple_model().count_params() < 4.0e6  # the report's 3,896,530
    assert build_simple_model(width=0.5).count_params() < 1.1e6
    assert all(not isinstance(layer, keras.layers.MaxPooling2D) for layer in build_simple_model(0.125).layers)


def test_save_load_identical_output(tmp_path):
    model = build_simple_model(width=0.125)
    model.compile(optimizer="adam", loss=AbMeanSquaredError())
    x = np.random.default_rng(0).uniform(0, 100, (2, 24, 16, 1)).astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


@pytest.mark.slow
def test_short_training_lowers_the_loss():
    keras.utils.set_random_seed(0)
    images = np.stack([synthetic_photo(32, 32, seed=i) for i in range(16)])
    batches = LabBatches(images, batch_size=8, shuffle=True)
    model = build_simple_model(width=0.25)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=AbMeanSquaredError())
    before = model.evaluate(LabBatches(images, batch_size=16), verbose=0)
    model.fit(batches, epochs=15, verbose=0)
    after = model.evaluate(LabBatches(images, batch_size=16), verbose=0)
    assert after < 0.7 * before, (before, after)
