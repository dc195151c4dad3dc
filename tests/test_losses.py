"""The rebalanced soft cross-entropy against a hand computation, config and numerics."""

import keras
import numpy as np
import pytest

import colorize  # noqa: F401  (registers the loss)
from colorize.color import AB_NORM
from colorize.models.losses import AbMeanSquaredError, RebalancedSoftCrossEntropy
from colorize.quantize import ab_bins

Q = len(ab_bins())


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def _hand_loss(ab_true, logits, weights=None, downsample=4, k=5, sigma=5.0):
    """Per-sample loss in plain numpy, written from the paper's eq. 2 (ab in Lab units)."""
    ab = np.asarray(ab_true, np.float64)
    batch, height, width, _ = ab.shape
    ab = ab.reshape(batch, height // downsample, downsample, width // downsample, downsample, 2).mean((2, 4))
    bins = ab_bins().astype(np.float64)
    logits = np.asarray(logits, np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    out = np.zeros(batch)
    for b in range(batch):
        for i in range(ab.shape[1]):
            for j in range(ab.shape[2]):
                d2 = ((ab[b, i, j] - bins) ** 2).sum(-1)
                near = np.argsort(d2)[:k]
                z = np.exp(-d2[near] / (2 * sigma**2))
                z /= z.sum()
                weight = 1.0 if weights is None else weights[near[0]]
                out[b] += -weight * np.sum(z * log_probs[b, i, j, near])
    return out / (ab.shape[1] * ab.shape[2])


def _example(batch=1, height=4, width=4, seed=0):
    rng = np.random.default_rng(seed)
    ab = rng.uniform(-66, 66, (batch, height, width, 2)).astype(np.float32)
    logits = rng.normal(0, 2, (batch, height // 4, width // 4, Q)).astype(np.float32)
    return ab, logits


def test_single_pixel_equals_hand_computation():
    ab, logits = _example()
    weights = np.random.default_rng(1).uniform(0.2, 3.0, Q).astype(np.float32)
    loss = RebalancedSoftCrossEntropy(weights=weights)
    expected = _hand_loss(ab, logits, weights)
    assert float(loss(ab, logits)) == pytest.approx(expected[0], rel=1e-4)
    # Pooling really happens: the loss of the mean colour, not of one corner pixel.
    flat = np.broadcast_to(ab.mean((1, 2), keepdims=True), ab.shape)
    assert float(loss(flat, logits)) == pytest.approx(expected[0], rel=1e-4)


def test_per_sample_values_and_batch_mean():
    ab, logits = _example(batch=3, height=8, width=12, seed=2)
    loss = RebalancedSoftCrossEntropy()
    per_sample = _np(loss.call(keras.ops.convert_to_tensor(ab), keras.ops.convert_to_tensor(logits)))
    assert per_sample.shape == (3,)
    np.testing.assert_allclose(per_sample, _hand_loss(ab, logits), rtol=1e-4)
    assert float(loss(ab, logits)) == pytest.approx(per_sample.mean(), rel=1e-5)


def test_other_downsample_k_and_sigma():
    ab, _ = _example(batch=2, height=4, width=6, seed=3)
    logits = np.random.default_rng(3).normal(0, 1, (2, 2, 3, Q)).astype(np.float32)
    loss = RebalancedSoftCrossEntropy(downsample=2, k=3, sigma=8.0)
    expected = _hand_loss(ab, logits, downsample=2, k=3, sigma=8.0).mean()
    assert float(loss(ab, logits)) == pytest.approx(expected, rel=1e-4)


def test_weights_matter_and_none_means_ones():
    ab, logits = _example(batch=2, height=8, width=8, seed=4)
    plain = float(RebalancedSoftCrossEntropy()(ab, logits))
    assert float(RebalancedSoftCrossEntropy(weights=np.ones(Q))(ab, logits)) == pytest.approx(plain, rel=1e-6)
    assert float(RebalancedSoftCrossEntropy(weights=2 * np.ones(Q))(ab, logits)) == pytest.approx(2 * plain, rel=1e-5)
    skewed = np.random.default_rng(5).uniform(0.1, 5.0, Q)
    assert abs(float(RebalancedSoftCrossEntropy(weights=skewed)(ab, logits)) - plain) > 1e-3
    with pytest.raises(ValueError):
        RebalancedSoftCrossEntropy(weights=np.ones(Q - 1))


def test_config_round_trip_carries_the_weights():
    weights = np.random.default_rng(6).uniform(0.5, 2.0, Q).astype(np.float32)
    loss = RebalancedSoftCrossEntropy(weights=weights, downsample=2, k=4, sigma=6.0, reduction="sum")
    config = loss.get_config()
    assert isinstance(config["weights"], list) and len(config["weights"]) == Q
    restored = RebalancedSoftCrossEntropy.from_config(config)
    np.testing.assert_array_equal(restored.class_weights, weights)
    assert (restored.downsample, restored.k, restored.sigma, restored.reduction) == (2, 4, 6.0, "sum")
    # Through Keras' registry, as a .keras file does it.
    serialized = keras.saving.serialize_keras_object(loss)
    revived = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(revived, RebalancedSoftCrossEntropy)
    ab, _ = _example(batch=2, height=4, width=4)
    logits = np.random.default_rng(7).normal(0, 1, (2, 2, 2, Q)).astype(np.float32)
    assert float(revived(ab, logits)) == pytest.approx(float(loss(ab, logits)), rel=1e-6)
    assert RebalancedSoftCrossEntropy.from_config(RebalancedSoftCrossEntropy().get_config()).class_weights is None


def test_large_logits_stay_finite():
    ab, _ = _example(batch=2, height=8, width=8, seed=8)
    logits = np.random.default_rng(8).choice([-1e4, 0.0, 1e4], (2, 2, 2, Q)).astype(np.float32)
    value = float(RebalancedSoftCrossEntropy()(ab, logits))
    assert np.isfinite(value) and value > 0
    np.testing.assert_allclose(value, _hand_loss(ab, logits).mean(), rtol=1e-4)


def _gradient(fn, x):
    """d fn(x) / dx on whichever backend Keras runs (tests only)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = fn(x)
        return tape.gradient(value, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(fn)(x))
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        fn(x).backward()
        return x.grad.numpy()
    pytest.skip(f"no gradient helper for backend {backend}")


def test_gradient_wrt_logits_is_weighted_softmax_minus_target():
    ab, logits = _example(batch=1, height=8, width=8, seed=9)
    weights = np.random.default_rng(9).uniform(0.5, 2.0, Q).astype(np.float32)
    loss = RebalancedSoftCrossEntropy(weights=weights)
    grad = _gradient(lambda z: loss(ab, z), logits)
    assert grad.shape == logits.shape and np.isfinite(grad).all() and np.abs(grad).max() > 0
    # Analytic: w_pixel * (softmax(logits) - z) / pixels, with z the soft target.
    from colorize.quantize import nearest_bins, soft_encode

    pooled = ab.reshape(1, 2, 4, 2, 4, 2).mean((2, 4))
    target = soft_encode(pooled)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    expected = weights[nearest_bins(pooled)][..., None] * (probs - target) / 4
    np.testing.assert_allclose(grad, expected, atol=1e-5)


def test_ab_mean_squared_error_is_the_l2_loss_on_normalised_ab():
    rng = np.random.default_rng(10)
    truth, prediction = rng.uniform(-100, 100, (2, 2, 4, 6, 2)).astype(np.float32)
    loss = AbMeanSquaredError()
    expected = (((prediction - truth) / AB_NORM) ** 2).mean()
    assert float(loss(truth, prediction)) == pytest.approx(expected, rel=1e-5)
    revived = AbMeanSquaredError.from_config(loss.get_config())
    assert float(revived(truth, prediction)) == pytest.approx(expected, rel=1e-5)


def test_lab_to_rgb_in_the_graph_matches_the_reference_conversion():
    from colorize import color
    from colorize.models.losses import lab_to_rgb

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    lab = color.rgb_to_lab(rgb)
    out = np.asarray(lab_to_rgb(lab[None, ..., :1], lab[None, ..., 1:]))[0]
    np.testing.assert_allclose(out, rgb.astype(np.float32), atol=0.6)


def test_neutral_penalty_and_class_divergence():
    from colorize.models.losses import class_distribution_divergence, neutral_chroma_penalty

    truth = np.zeros((1, 2, 2, 2), np.float32)
    truth[0, 0, 0] = (40.0, 0.0)  # colourful: free to paint
    pred = np.zeros_like(truth)
    assert float(neutral_chroma_penalty(pred, truth)) == pytest.approx(0.0, abs=1e-4)
    pred[0, 0, 0] = (0.0, 60.0)  # on colourful truth: no cost
    assert float(neutral_chroma_penalty(pred, truth)) == pytest.approx(0.0, abs=1e-4)
    pred[0, 1, 1] = (0.0, 39.0)  # one of three neutral pixels painted, 33 above the threshold
    assert float(neutral_chroma_penalty(pred, truth)) == pytest.approx(33.0 / 3 / 110, rel=1e-3)
    logits = np.array([[2.0, 0.0, -1.0]], np.float32)
    assert float(class_distribution_divergence(logits, logits)) == pytest.approx(0.0, abs=1e-6)
    assert float(class_distribution_divergence(logits, logits[:, ::-1])) > 0.5
