"""The Zhang et al. classifier: shapes, architecture, gradients, save/load, real learning."""

import keras
import numpy as np
import pytest
from keras import ops

import colorize  # noqa: F401  (registers custom objects)
from colorize import models
from colorize.color import rgb_to_l_ab
from colorize.models.losses import RebalancedSoftCrossEntropy
from colorize.models.zhang import build_zhang_model
from colorize.quantize import ab_bins, annealed_mean
from colorize.rebalance import class_weights, empirical_prior
from colorize.models.optimizers import make_adamw

Q = len(ab_bins())
OUTPUT_STRIDE = models.get("zhang").output_stride
INPUT_MULTIPLE = models.get("zhang").input_multiple


@pytest.fixture(scope="module")
def tiny_model():
    keras.utils.set_random_seed(0)
    return build_zhang_model(width=0.125, middle_blocks=4)


@pytest.mark.parametrize("batch,height,width", [(1, 16, 16), (3, 32, 48), (3, 64, 64), (1, 64, 40)])
def test_any_batch_and_size(tiny_model, batch, height, width):
    out = tiny_model(np.zeros((batch, height, width, 1), np.float32))
    assert tuple(out.shape) == (batch, height // OUTPUT_STRIDE, width // OUTPUT_STRIDE, Q)
    assert height % INPUT_MULTIPLE == 0 and width % INPUT_MULTIPLE == 0


def test_architecture_follows_the_paper():
    full = build_zhang_model(width=1.0, middle_blocks=4)
    assert full.name == "colorize_zhang" and full.output_shape[-1] == Q
    assert 31e6 < full.count_params() < 33e6  # the paper's ~32 M
    names = [layer.name for layer in full.layers]
    for block, convs in [("conv1", 2), ("conv2", 2), ("conv3", 3), ("conv4", 3), ("conv5", 3), ("conv6", 3), ("conv7", 3)]:
        assert [f"{block}_{i}" for i in range(1, convs + 1)] + [f"{block}_bn"] == [n for n in names if n.startswith(block)]
    assert full.get_layer("conv5_2").dilation_rate == (2, 2) and full.get_layer("conv6_3").dilation_rate == (2, 2)
    assert full.get_layer("conv4_1").dilation_rate == (1, 1) and full.get_layer("conv7_1").dilation_rate == (1, 1)
    assert [full.get_layer(f"conv{i}_{n}").strides for i, n in [(1, 2), (2, 2), (3, 3)]] == [(2, 2)] * 3
    assert isinstance(full.get_layer("conv8_1"), keras.layers.Conv2DTranspose)
    assert full.get_layer("conv4_1").filters == 512 and full.get_layer("conv8_3").filters == 256
    assert not any("pool" in type(layer).__name__.lower() for layer in full.layers)


def test_width_and_middle_blocks():
    report = build_zhang_model(width=0.5, middle_blocks=2)
    names = {layer.name for layer in report.layers}
    assert {"conv4_1", "conv5_1"} <= names and not {"conv6_1", "conv7_1"} & names
    assert report.get_layer("conv5_1").dilation_rate == (2, 2)  # a dilated block survives
    assert report.get_layer("conv4_1").filters == 256
    assert build_zhang_model(width=0.01, middle_blocks=0).get_layer("conv1_1").filters == 8
    counts = [build_zhang_model(width=w, middle_blocks=m).count_params() for w, m in [(0.5, 2), (0.25, 2), (0.25, 1)]]
    assert counts[0] > 3 * counts[1] > 3 * counts[2] / 2
    with pytest.raises(ValueError):
        build_zhang_model(middle_blocks=5)


@pytest.mark.slow
def test_every_weight_learns_in_one_step():
    keras.utils.set_random_seed(1)
    model = build_zhang_model(width=0.125, middle_blocks=2)  # every layer type, dilated conv5 included
    # Adam with a tiny epsilon moves every weight whose gradient is non-zero by ~lr.
    model.compile(optimizer=keras.optimizers.Adam(1e-2, epsilon=1e-12), loss=RebalancedSoftCrossEntropy())
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    y = rng.uniform(-60, 60, (2, 32, 32, 2)).astype(np.float32)
    before = [np.array(w) for w in model.trainable_weights]
    model.train_on_batch(x, y)
    unchanged = [
        w.path for w, old in zip(model.trainable_weights, before) if np.array_equal(ops.convert_to_numpy(w), old)
    ]
    assert not unchanged
    assert len(before) == len(model.trainable_weights) > 30


def test_save_load_identical_output_and_loss_weights(tmp_path):
    keras.utils.set_random_seed(2)
    model = build_zhang_model(width=0.125, middle_blocks=2)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, Q).astype(np.float32)
    model.compile(optimizer="adam", loss=RebalancedSoftCrossEntropy(weights=weights))
    x = np.random.default_rng(3).uniform(0, 100, (2, 24, 16, 1)).astype(np.float32)
    model.optimizer.build(model.trainable_variables)  # a saved model carries optimizer state
    path = tmp_path / "zhang.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == "colorize_zhang"
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5)
    assert isinstance(loaded.loss, RebalancedSoftCrossEntropy)
    np.testing.assert_allclose(loaded.loss.class_weights, weights)


PALETTE = np.array([(220, 30, 30), (40, 190, 40), (30, 60, 220), (240, 220, 30)], np.uint8)  # distinct L


def _quadrant_images(count, seed, size=32):
    """Images of 4 flat quadrants, each a palette colour: the colour follows from L."""
    rng = np.random.default_rng(seed)
    half = size // 2
    images = np.empty((count, size, size, 3), np.uint8)
    for image in images:
        for top in (0, half):
            for left in (0, half):
                image[top : top + half, left : left + half] = PALETTE[rng.integers(len(PALETTE))]
    return images


@pytest.mark.slow
def test_training_learns_confident_saturated_colours():
    """Guards against the CS 512 report's failure: a near-uniform output that decodes to gray."""
    keras.utils.set_random_seed(0)
    lightness, ab = rgb_to_l_ab(_quadrant_images(32, seed=0))
    weights = class_weights(empirical_prior(ab))
    model = build_zhang_model(width=0.25, middle_blocks=1)
    model.compile(
        optimizer=make_adamw(1e-3),  # the optimizer train_complex.py uses
        loss=RebalancedSoftCrossEntropy(weights=weights),
    )
    model.fit(lightness, ab, batch_size=4, epochs=60, verbose=0)

    # New layouts, inference mode (BatchNorm moving statistics).
    test_lightness, test_ab = rgb_to_l_ab(_quadrant_images(8, seed=1))
    logits = model.predict_on_batch(test_lightness)
    probs = ops.convert_to_numpy(ops.softmax(logits))
    entropy = -(probs * np.log(np.maximum(probs, 1e-12))).sum(-1).mean()
    assert entropy < 0.35 * np.log(Q), entropy  # measured about 1.3 nats; uniform is log Q = 5.56

    decoded = ops.convert_to_numpy(annealed_mean(logits))
    truth = test_ab.reshape(8, 8, 4, 8, 4, 2).mean((2, 4))  # the logits' grid
    error = np.linalg.norm(decoded - truth, axis=-1).mean()
    assert error < 15.0, error
    chroma, true_chroma = np.linalg.norm(decoded, axis=-1).mean(), np.linalg.norm(truth, axis=-1).mean()
    assert chroma > 0.5 * true_chroma, (chroma, true_chroma)
