"""Class rebalancing: empirical prior, smoothing and the loss weights."""

import numpy as np
import pytest

from colorize.color import rgb_to_lab
from colorize.quantize import ab_bins, nearest_bins
from colorize.rebalance import (
    class_weights,
    empirical_prior,
    prior_from_rgb,
    rebalance_weights,
    smooth_prior,
)

Q = len(ab_bins())


def _bin(a, b):
    return int(np.flatnonzero((ab_bins() == [a, b]).all(-1))[0])


def _random_prior(seed, sparsity=0.0):
    rng = np.random.default_rng(seed)
    p = rng.exponential(1.0, Q) ** 3  # heavy-tailed, like real colour statistics
    p[rng.random(Q) < sparsity] = 0.0
    return p / p.sum()


def test_empirical_prior_counts_nearest_bins():
    # 3 pixels near (0, 0), 1 near (50, 50): p = 3/4 and 1/4.
    ab = np.array([[[1.0, -2.0], [0.0, 0.0], [-3.0, 4.0], [52.0, 47.0]]])
    p = empirical_prior(ab)
    assert p.shape == (Q,) and p.sum() == pytest.approx(1.0)
    assert p[_bin(0, 0)] == pytest.approx(0.75) and p[_bin(50, 50)] == pytest.approx(0.25)
    assert np.count_nonzero(p) == 2


def test_empirical_prior_streams_batches():
    rng = np.random.default_rng(0)
    batches = [rng.uniform(-60, 60, (4, 8, 8, 2)) for _ in range(3)]
    streamed = empirical_prior(iter(batches))
    np.testing.assert_allclose(streamed, empirical_prior(np.concatenate(batches)))
    with pytest.raises(ValueError):
        empirical_prior([])


def test_prior_from_rgb_subsamples_but_matches_the_full_prior():
    rng = np.random.default_rng(1)
    palette = rng.integers(0, 256, (6, 3), dtype=np.uint8)
    images = palette[rng.integers(0, 6, (40, 32, 32))]  # (40, 32, 32, 3)
    full = empirical_prior(rgb_to_lab(images)[..., 1:])
    sampled = prior_from_rgb(images, max_pixels=5000, seed=3)
    assert sampled.sum() == pytest.approx(1.0)
    assert np.abs(sampled - full).sum() < 0.08  # total variation of a 5000-pixel sample
    np.testing.assert_array_equal(sampled, prior_from_rgb(images, max_pixels=5000, seed=3))
    np.testing.assert_allclose(prior_from_rgb(images, max_pixels=10**9), full)
    np.testing.assert_allclose(prior_from_rgb(list(images), max_pixels=10**9), full)


@pytest.mark.parametrize("lam", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed,sparsity", [(0, 0.0), (1, 0.5), (2, 0.9)])
def test_weights_have_unit_expectation_under_the_prior(lam, seed, sparsity):
    p = _random_prior(seed, sparsity)
    w = rebalance_weights(p, lam=lam)
    assert w.shape == (Q,) and w.dtype == np.float32
    assert np.sum(p * w) == pytest.approx(1.0, rel=1e-5)
    assert (w > 0).all() and np.isfinite(w).all()


def test_lambda_one_gives_uniform_weights():
    np.testing.assert_allclose(rebalance_weights(_random_prior(3), lam=1.0), 1.0, rtol=1e-6)


def test_rarer_classes_get_larger_weights():
    p = _random_prior(4, sparsity=0.3)
    w = rebalance_weights(p, lam=0.5)
    order = np.argsort(p, kind="stable")
    assert (np.diff(w[order]) <= 1e-6).all()  # weight falls as frequency rises
    assert w[np.argmin(p)] > 1.0 > w[np.argmax(p)]
    # The weight ratio is bounded by the mix with the uniform distribution.
    assert w.max() / w.min() <= (0.5 * p.max() + 0.5 / Q) / (0.5 / Q) + 1e-3


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError):
        rebalance_weights(_random_prior(0), lam=0.0)
    with pytest.raises(ValueError):
        rebalance_weights(-_random_prior(0))
    with pytest.raises(ValueError):
        smooth_prior(np.ones(Q - 1) / (Q - 1))


def test_smoothing_preserves_mass_and_spreads_it():
    centre = _bin(0, 0)
    delta = np.zeros(Q)
    delta[centre] = 1.0
    smoothed = smooth_prior(delta, sigma=5.0)
    assert smoothed.sum() == pytest.approx(1.0)
    assert 0.3 < smoothed[centre] < 0.9
    neighbours = [_bin(10, 0), _bin(-10, 0), _bin(0, 10), _bin(0, -10)]
    assert all(smoothed[i] > 0.05 for i in neighbours)
    np.testing.assert_allclose(smoothed[neighbours], smoothed[neighbours[0]])  # isotropic
    far = np.linalg.norm(ab_bins() - ab_bins()[centre], axis=-1) > 30
    assert smoothed[far].max() < 1e-6
    # Wider kernel spreads more; sigma 0 is the identity.
    assert smooth_prior(delta, sigma=10.0)[centre] < smoothed[centre]
    np.testing.assert_allclose(smooth_prior(delta, sigma=0.0), delta)
    random = _random_prior(5, sparsity=0.5)
    assert smooth_prior(random).sum() == pytest.approx(1.0)
    assert np.count_nonzero(smooth_prior(random) > 1e-12) > np.count_nonzero(random)


def test_class_weights_is_smooth_then_rebalance():
    p = empirical_prior(np.random.default_rng(6).normal(0, 20, (1000, 2)))
    np.testing.assert_allclose(class_weights(p, lam=0.3, sigma=5.0), rebalance_weights(smooth_prior(p, 5.0), 0.3))
    # Gray-dominated data: saturated colours are up-weighted relative to gray.
    w = class_weights(p)
    assert w[nearest_bins(np.array([60.0, 60.0]))] > 2 * w[_bin(0, 0)]
