"""ab quantisation: the bin set, nearest bins, soft encoding, annealed-mean decoding."""

import keras
import numpy as np
import pytest
from scipy.spatial import Delaunay

from colorize.color import rgb_to_lab
from colorize.quantize import (
    DEFAULT_TEMPERATURE,
    ab_bins,
    annealed_mean,
    bins_from_rgb,
    derive_ab_bins,
    nearest_bins,
    soft_encode,
    soft_encode_sparse,
)

Q = 261  # all 8-bit sRGB colours, scikit-image Lab (D65), 10-unit grid


def _to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _random_ab(n, seed=0, spread=130.0):
    """ab values inside and well outside the gamut."""
    return np.random.default_rng(seed).uniform(-spread, spread, (n, 2)).astype(np.float32)


def test_bins_are_a_sorted_unique_subset_of_the_10_grid():
    bins = ab_bins()
    assert bins.shape == (Q, 2) and bins.dtype == np.float32
    np.testing.assert_array_equal(bins, np.round(bins / 10) * 10)
    assert len(np.unique(bins, axis=0)) == Q
    assert [tuple(b) for b in bins] == sorted(tuple(b) for b in bins)  # by a, then b
    assert bins is ab_bins()  # cached
    with pytest.raises(ValueError):
        bins[0, 0] = 1.0  # shared and read-only


def test_every_colour_falls_in_a_bin():
    rgb = np.random.default_rng(1).integers(0, 256, (20000, 3), dtype=np.uint8)
    cells = np.round(rgb_to_lab(rgb)[:, 1:] / 10) * 10
    known = {tuple(b) for b in ab_bins()}
    assert all(tuple(c) in known for c in cells)


@pytest.mark.slow
def test_bins_equal_the_full_enumeration_of_8_bit_rgb():
    levels = np.arange(256, dtype=np.uint8)
    found = []
    for red in range(0, 256, 16):  # 16 chunks of 1M colours
        grid = np.stack(np.meshgrid(levels[red : red + 16], levels, levels, indexing="ij"), -1)
        found.append(bins_from_rgb(grid))
    full = np.unique(np.concatenate(found), axis=0)
    np.testing.assert_array_equal(full, ab_bins())


def test_nearest_bins_equals_brute_force():
    ab = _random_ab(5000)
    expected = np.argmin(((ab[:, None, :] - ab_bins()[None]) ** 2).sum(-1), axis=-1)
    np.testing.assert_array_equal(nearest_bins(ab), expected)
    assert nearest_bins(ab.reshape(50, 100, 2)).shape == (50, 100)
    # A bin centre maps to itself.
    np.testing.assert_array_equal(nearest_bins(ab_bins()), np.arange(Q))


def test_soft_encoding_is_a_distribution_peaked_at_the_nearest_bin():
    ab = _random_ab(500, seed=2).reshape(10, 50, 2)
    encoded = soft_encode(ab)
    assert encoded.shape == (10, 50, Q) and encoded.dtype == np.float32
    np.testing.assert_allclose(encoded.sum(-1), 1.0, atol=1e-5)
    assert (np.count_nonzero(encoded, axis=-1) <= 5).all()
    assert (encoded >= 0).all()
    np.testing.assert_array_equal(encoded.argmax(-1), nearest_bins(ab))
    # Exactly on a centre with k=1 it is one-hot.
    np.testing.assert_array_equal(soft_encode(ab_bins()[7], k=1), np.eye(Q, dtype=np.float32)[7])


def test_soft_encoding_hand_case():
    # ab = (2, 0) sits between bins (0, 0) and (10, 0): distances 2 and 8 (k=2).
    weights = soft_encode(np.array([2.0, 0.0]), k=2, sigma=5.0)
    bins = ab_bins()
    i0 = np.flatnonzero((bins == [0, 0]).all(-1))[0]
    i1 = np.flatnonzero((bins == [10, 0]).all(-1))[0]
    g0, g1 = np.exp(-4 / 50), np.exp(-64 / 50)
    assert weights[i0] == pytest.approx(g0 / (g0 + g1), abs=1e-6)
    assert weights[i1] == pytest.approx(g1 / (g0 + g1), abs=1e-6)


def test_sparse_ops_encoding_agrees_with_dense_numpy():
    ab = _random_ab(600, seed=3, spread=100.0).reshape(2, 3, 100, 2)
    indices, weights = soft_encode_sparse(ab, ab_bins(), k=5, sigma=5.0)
    indices, weights = _to_numpy(indices), _to_numpy(weights)
    assert indices.shape == weights.shape == (2, 3, 100, 5)
    np.testing.assert_array_equal(indices[..., 0], nearest_bins(ab))
    dense = np.zeros(ab.shape[:-1] + (Q,), np.float32)
    np.put_along_axis(dense, indices, weights, axis=-1)
    np.testing.assert_allclose(dense, soft_encode(ab), atol=1e-5)


def test_annealed_mean_at_t1_is_the_plain_mean():
    logits = np.random.default_rng(4).normal(0, 3, (2, 3, 4, Q)).astype(np.float32)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    decoded = _to_numpy(annealed_mean(logits, temperature=1.0))
    assert decoded.shape == (2, 3, 4, 2)
    np.testing.assert_allclose(decoded, probs @ ab_bins(), atol=1e-3)


def test_annealed_mean_equals_exp_log_over_t_definition():
    logits = np.random.default_rng(5).normal(0, 2, (7, Q))
    z = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    f = np.exp(np.log(z) / DEFAULT_TEMPERATURE)
    f /= f.sum(-1, keepdims=True)
    np.testing.assert_allclose(_to_numpy(annealed_mean(logits)), f @ ab_bins(), atol=1e-3)


def test_annealed_mean_tends_to_the_mode():
    rng = np.random.default_rng(6)
    logits = rng.normal(0, 1, (50, Q)).astype(np.float32)
    mode = logits.argmax(-1)
    decoded = _to_numpy(annealed_mean(logits, temperature=1e-3))
    np.testing.assert_allclose(decoded, ab_bins()[mode], atol=1e-2)
    # Between T=1 and the mode as T falls: the distance to the mode shrinks.
    distances = [
        np.linalg.norm(_to_numpy(annealed_mean(logits, t)) - ab_bins()[mode], axis=-1).mean() for t in (1.0, 0.38, 0.1)
    ]
    assert distances[0] > distances[1] > distances[2]


def test_annealed_mean_stays_in_the_convex_hull_and_finite():
    rng = np.random.default_rng(7)
    logits = np.concatenate(
        [
            rng.normal(0, 5, (200, Q)),
            rng.choice([-1e30, 0.0, 1e30], (20, Q)),  # extreme but finite
            np.full((1, Q), 3e38),
        ]
    ).astype(np.float32)
    hull = Delaunay(ab_bins())
    for temperature in (1e-3, 0.38, 1.0, 10.0):
        decoded = _to_numpy(annealed_mean(logits, temperature))
        assert np.isfinite(decoded).all(), temperature
        assert (hull.find_simplex(decoded, tol=1e-3) >= 0).all(), temperature
    with pytest.raises(ValueError):
        annealed_mean(logits, temperature=0.0)


def test_annealed_mean_hand_case():
    # Two equal logits, the rest far below: the midpoint of the two bins.
    bins = ab_bins()
    logits = np.full((Q,), -50.0, np.float32)
    logits[[0, 1]] = 5.0
    decoded = _to_numpy(annealed_mean(logits, 0.38))
    np.testing.assert_allclose(decoded, (bins[0] + bins[1]) / 2, atol=1e-3)


def test_frozen_bin_table_equals_its_derivation():
    """The package's frozen table (what saved models were trained with) is the rule's result today."""
    np.testing.assert_array_equal(derive_ab_bins(), ab_bins())
    assert ab_bins().dtype == np.float32 and not ab_bins().flags.writeable
