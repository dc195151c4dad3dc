"""The model, loss, optimizer and decoding run on the JAX and PyTorch backends too.

A lent GPU machine has JAX and PyTorch but no TensorFlow. Each backend's test
is skipped where that backend is not installed (neither is a dependency);
``pip install jax`` or ``pip install torch`` checks the keras.ops-only promise.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = r"""
import numpy as np, keras
import sys
assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
import colorize
from colorize.train.data import LabBatches
from colorize import models
from colorize.predict.pipeline import decode, predict_ab
from colorize.models.losses import AbMeanSquaredError, RebalancedSoftCrossEntropy
from colorize.models.colorizer import make_colorizer
from colorize.models.simple import build_simple_model
from colorize.models.zhang import build_zhang_model
from colorize.quantize import ab_bins
from colorize.models.optimizers import make_adamw
rng = np.random.default_rng(0)
images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
batches = LabBatches(images, 4, augment=True, shuffle=True)
model = build_zhang_model(width=0.125, middle_blocks=1)
model.compile(optimizer=make_adamw(1e-3), loss=RebalancedSoftCrossEntropy(weights=np.ones(len(ab_bins()))))
history = model.fit(batches, epochs=2, verbose=0)
assert all(np.isfinite(history.history["loss"]))
colorizer = make_colorizer(models.get("zhang"), model)
ab = decode(colorizer, np.asarray(model.predict_on_batch(batches[0][0]))[0], 0.38)
assert ab.shape == (8, 8, 2) and np.isfinite(ab).all()
colorizer.save("/tmp/colorize_backend_test.keras")
reloaded = keras.saving.load_model("/tmp/colorize_backend_test.keras")
np.testing.assert_allclose(reloaded.predict_on_batch(batches[0][0]), colorizer.predict_on_batch(batches[0][0]), atol=1e-4)
lightness = [np.full((30, 40), 50.0, np.float32)]
assert predict_ab(reloaded, lightness, size=32)[0].shape == (8, 10, 2)
simple = build_simple_model(width=0.125)
simple.compile(optimizer="adam", loss=AbMeanSquaredError())
simple.fit(batches, epochs=1, verbose=0)
print(sys.argv[1], "backend ok")
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_training_and_decoding_on_other_backends(backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(REPO), JAX_PLATFORMS="cpu")
    command = [sys.executable, "-c", SCRIPT, backend]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{backend} backend ok" in result.stdout
