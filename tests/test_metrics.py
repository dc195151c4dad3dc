"""Hand-computed cases for colorize.evaluation.metrics (no model, no Keras use)."""

import math

import numpy as np
import pytest

from colorize.evaluation import metrics
from colorize.quantize import ab_bins, nearest_bins


def ab_mse(ab_out, ab_true):
    """Reference: mean squared ab error per component, Lab units squared (what RegressionSums must give)."""
    diff = np.asarray(ab_out, np.float64) - np.asarray(ab_true, np.float64)
    return float(np.mean(diff * diff))


def ab_r2(ab_out, ab_true):
    """Reference: 1 - SS_res / SS_tot of ab (both channels pooled) in one pass over one array."""
    out, true = np.asarray(ab_out, np.float64).reshape(-1, 2), np.asarray(ab_true, np.float64).reshape(-1, 2)
    return float(1 - ((out - true) ** 2).sum() / ((true - true.mean(axis=0)) ** 2).sum())


def _ab_with_errors(errors_and_counts):
    """Truth ab = 0 everywhere and an output whose ab error is each given value for the given pixel count."""
    out = []
    for error, count in errors_and_counts:
        # (0.6, 0.8) * error has length exactly ``error``.
        out.extend([(0.6 * error, 0.8 * error)] * count)
    out = np.asarray(out, np.float32).reshape(1, -1, 2)
    return out, np.zeros_like(out)


def _brute_force_auc(ab_out, ab_true):
    error = np.sqrt(((np.asarray(ab_out, np.float64) - ab_true) ** 2).sum(-1)).ravel()
    return np.mean([(error <= t).mean() for t in range(151)])


# ----------------------------------------------------------------------------- AuC
def test_perfect_prediction_has_auc_one():
    rng = np.random.default_rng(0)
    ab = rng.uniform(-80, 80, (16, 16, 2)).astype(np.float32)
    assert metrics.auc(ab, ab) == 1.0
    hist = metrics.AucHistogram.of_image(ab, ab)
    assert hist.auc() == 1.0
    assert hist.rebalanced_auc() == 1.0


def test_auc_half_exact_half_error_100():
    ab_out, ab_true = _ab_with_errors([(0, 50), (100, 50)])
    expected = 0.5 * 1 + 0.5 * (51 / 151)  # error 100 is within t = 100..150: 51 of 151 thresholds
    assert metrics.auc(ab_out, ab_true) == pytest.approx(expected, abs=1e-12)
    assert metrics.AucHistogram.of_image(ab_out, ab_true).auc() == pytest.approx(expected, abs=1e-12)


def test_gray_baseline_auc_on_known_truth():
    # The truth has colour (error 100 from gray) on half the pixels: the gray output (ab = 0) gets the same score.
    colourful, gray = _ab_with_errors([(0, 8), (100, 8)])
    assert metrics.auc(gray, colourful) == pytest.approx(0.5 + 0.5 * 51 / 151, abs=1e-12)


def test_auc_errors_beyond_150_and_fractional_errors():
    ab_out, ab_true = _ab_with_errors([(200, 1), (150, 1), (0.5, 1)])
    # 200 -> never within; 150 -> only t = 150; 0.5 -> t = 1..150 (150 thresholds).
    expected = (0 + 1 / 151 + 150 / 151) / 3
    assert metrics.auc(ab_out, ab_true) == pytest.approx(expected, abs=1e-12)


def test_auc_matches_brute_force_definition():
    rng = np.random.default_rng(1)
    ab_true = rng.uniform(-90, 90, (20, 30, 2))
    ab_out = ab_true + rng.normal(0, 60, ab_true.shape)
    assert metrics.auc(ab_out, ab_true) == pytest.approx(_brute_force_auc(ab_out, ab_true), abs=1e-9)
    assert metrics.AucHistogram.of_image(ab_out, ab_true).auc() == pytest.approx(
        _brute_force_auc(ab_out, ab_true), abs=1e-9
    )


def test_histograms_add_over_images():
    rng = np.random.default_rng(2)
    a_true, b_true = rng.uniform(-60, 60, (2, 8, 8, 2))
    a_out, b_out = a_true + rng.normal(0, 40, a_true.shape), b_true + rng.normal(0, 40, b_true.shape)
    summed = metrics.AucHistogram.of_image(a_out, a_true) + metrics.AucHistogram.of_image(b_out, b_true)
    joint = metrics.AucHistogram.of_image(np.concatenate([a_out, b_out]), np.concatenate([a_true, b_true]))
    np.testing.assert_array_equal(summed.pixels, joint.pixels)
    np.testing.assert_array_equal(summed.within, joint.within)
    assert summed.within.shape == (len(ab_bins()), 151)
    assert summed.pixels.sum() == 128
    # within is cumulative over thresholds and bounded by the bin's pixel count
    assert np.all(np.diff(summed.within, axis=1) >= 0)
    assert np.all(summed.within[:, -1] <= summed.pixels)


def test_rebalanced_auc_weights_rare_colours_up():
    # 90 gray pixels predicted perfectly, 10 red pixels (60, 40) predicted gray.
    truth = np.zeros((1, 100, 2), np.float32)
    truth[0, 90:] = (60.0, 40.0)
    output = np.zeros_like(truth)
    hist = metrics.AucHistogram.of_image(output, truth)
    red_score = (151 - math.ceil(math.hypot(60, 40))) / 151  # error 72.1 -> within t = 73..150
    assert hist.auc() == pytest.approx(0.9 + 0.1 * red_score, abs=1e-12)
    # Inverse-frequency weights make each occurring bin count equally.
    assert hist.rebalanced_auc() == pytest.approx(0.5 * (1 + red_score), abs=1e-12)
    assert hist.rebalanced_auc() < hist.auc() - 0.15


def test_rebalancing_uses_frequencies_over_all_images():
    # Image 1 all gray, image 2 all red: per image each is one bin, but over both the red bin is rare.
    gray = np.zeros((1, 9, 2), np.float32)
    red = np.full((1, 1, 2), (60.0, 40.0), np.float32)
    total = metrics.AucHistogram.of_image(gray, gray) + metrics.AucHistogram.of_image(np.zeros_like(red), red)
    red_score = (151 - math.ceil(math.hypot(60, 40))) / 151
    assert total.rebalanced_auc() == pytest.approx(0.5 * (1 + red_score), abs=1e-12)
    assert total.auc() == pytest.approx((9 + red_score) / 10, abs=1e-12)


# ----------------------------------------------------------------------------- RGB quality
def test_psnr_of_known_perturbation():
    rng = np.random.default_rng(3)
    truth = rng.integers(10, 246, (12, 10, 3)).astype(np.uint8)
    signs = np.where(rng.random(truth.shape) < 0.5, -5, 5)
    output = (truth.astype(int) + signs).astype(np.uint8)
    assert metrics.psnr(output, truth) == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)
    assert metrics.psnr(truth, truth) == math.inf


def test_ssim_is_one_for_identical_and_lower_for_noise():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    assert metrics.ssim(truth, truth) == pytest.approx(1.0)
    noisy = np.clip(truth + rng.normal(0, 40, truth.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(noisy, truth) < 0.9


def test_colourfulness_hand_cases():
    gray = np.repeat(np.arange(64, dtype=np.uint8).reshape(8, 8, 1), 3, axis=-1)
    assert metrics.colourfulness(gray) == 0.0
    # One uniform colour: no spread, C = 0.3 * |mean|; (200, 100, 50): rg = 100, yb = 150 - 50 = 100.
    uniform = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    assert metrics.colourfulness(uniform) == pytest.approx(0.3 * math.hypot(100, 100), rel=1e-6)
    # Pure red and pure blue pixels: rg = (255, 0), yb = (127.5, -255).
    two = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    sigma = math.sqrt(127.5**2 + 191.25**2)  # std rg = 127.5, std yb = 191.25
    mu = math.sqrt(127.5**2 + 63.75**2)  # mean rg = 127.5, mean yb = -63.75
    assert metrics.colourfulness(two) == pytest.approx(sigma + 0.3 * mu, rel=1e-6)


def test_lightness_error():
    lum = np.linspace(0, 100, 48, dtype=np.float32).reshape(6, 8)
    assert metrics.lightness_error(lum, lum) == 0.0
    assert metrics.lightness_error(lum + 3, lum) == pytest.approx(3.0, abs=1e-5)


# ----------------------------------------------------------------------------- regression view
def test_mse_and_r2():
    rng = np.random.default_rng(5)
    truth = rng.uniform(-50, 50, (10, 10, 2))
    assert ab_r2(truth, truth) == 1.0
    assert ab_mse(truth, truth) == 0.0
    # Predicting the per-channel mean explains nothing: R^2 = 0.
    mean = np.broadcast_to(truth.reshape(-1, 2).mean(0), truth.shape)
    assert ab_r2(mean, truth) == pytest.approx(0.0, abs=1e-12)
    # A constant offset of (3, 4): squared error per component (9 + 16) / 2.
    assert ab_mse(truth + (3.0, 4.0), truth) == pytest.approx(12.5)


def test_regression_sums_pool_over_images():
    rng = np.random.default_rng(6)
    a_true, b_true = rng.uniform(-50, 50, (2, 6, 6, 2))
    a_out, b_out = a_true + rng.normal(0, 10, a_true.shape), b_true + rng.normal(0, 10, b_true.shape)
    sums = metrics.RegressionSums()
    sums.add(a_out, a_true)
    sums.add(b_out, b_true)
    both_out, both_true = np.concatenate([a_out, b_out]), np.concatenate([a_true, b_true])
    assert sums.r2() == pytest.approx(ab_r2(both_out, both_true), abs=1e-12)
    assert sums.mse() == pytest.approx(ab_mse(both_out, both_true), abs=1e-12)


# ----------------------------------------------------------------------------- classifier view
def test_pool_ab_averages_blocks():
    ab = np.zeros((8, 4, 2), np.float32)
    ab[:4, :, 0] = 40.0
    pooled = metrics.pool_ab(ab, 4)
    assert pooled.shape == (2, 1, 2)
    np.testing.assert_allclose(pooled[..., 0], [[40.0], [0.0]])
    with pytest.raises(ValueError):
        metrics.pool_ab(np.zeros((6, 8, 2)), 4)


def _bin(ab):
    return int(nearest_bins(np.asarray(ab, np.float64)))


def test_top_k_and_approximate_accuracy_hand_case():
    bins = ab_bins()
    q = len(bins)
    truth = np.array([[[0, 0], [30, 30], [-20, 60], [60, 0]]], np.float32)  # 4 grid pixels, at bin centres
    true_bins = [_bin(ab) for ab in truth[0]]
    logits = np.zeros((1, 4, q), np.float32)
    logits[0, 0, true_bins[0]] = 5.0  # pixel 0: true bin first -> top-1
    # pixel 1: three other bins beat the true bin -> top-5 but not top-1
    others = [i for i in range(q) if i != true_bins[1]][:3]
    logits[0, 1, others] = 5.0
    logits[0, 1, true_bins[1]] = 4.0
    logits[0, 2, true_bins[2]] = -5.0  # pixel 2: true bin last -> neither
    # pixel 3: neighbouring bin (70, 0), same coarse group "vivid red", wins and the true bin is ranked
    # last -> a top-1 and top-5 miss, but an approximate hit
    logits[0, 3, _bin((70, 0))] = 8.0
    logits[0, 3, true_bins[3]] = -5.0
    groups = metrics.coarse_groups()
    assert groups[_bin((70, 0))] == groups[true_bins[3]]
    sums = metrics.ClassifierSums()
    sums.add(logits, truth)
    result = sums.summary()
    assert result["top1"] == pytest.approx(1 / 4)
    assert result["top5"] == pytest.approx(2 / 4)
    # approximate: pixels 0 and 3 hit; pixel 1's mass is spread over 3 unrelated bins plus the true one;
    # pixel 2's mass is uniform, the biggest group wins.
    assert result["approx_accuracy"] >= 2 / 4
    assert result["approx_accuracy"] > result["top1"]


def test_coarse_groups_structure():
    groups = metrics.coarse_groups()
    bins = ab_bins()
    assert groups.shape == (len(bins),)
    assert groups.min() == 0 and groups.max() <= 2 * metrics.HUE_SECTORS
    chroma = np.hypot(bins[:, 0], bins[:, 1])
    assert np.all(groups[chroma < metrics.NEUTRAL_CHROMA] == 0)
    assert np.all(groups[chroma >= metrics.NEUTRAL_CHROMA] > 0)
    # opposite hues never share a group
    assert groups[_bin((60, 0))] != groups[_bin((-60, 0))]


def test_cross_entropy_hand_cases():
    q = len(ab_bins())
    truth = np.array([[[0, 0], [23, -37]]], np.float32)
    sums = metrics.ClassifierSums()
    sums.add(np.zeros((1, 2, q), np.float32), truth)  # uniform prediction
    assert sums.summary()["cross_entropy"] == pytest.approx(math.log(q), rel=1e-5)
    # The soft-encoded target itself as prediction: CE = its entropy, the minimum.
    index, weights = metrics.soft_encode(truth)
    target = np.full((1, 2, q), 1e-30, np.float64)
    np.put_along_axis(target, index, weights, axis=-1)
    entropy = float(-(weights * np.log(weights)).sum() / 2)
    best = metrics.ClassifierSums()
    best.add(np.log(target).astype(np.float32), truth)
    assert best.summary()["cross_entropy"] == pytest.approx(entropy, abs=1e-4)
    assert entropy < math.log(q)


def test_soft_encode_matches_quantize():
    from colorize.quantize import soft_encode as dense_soft_encode

    # In-gamut points (grid search) and far out-of-gamut ones (exhaustive fallback) alike.
    rng = np.random.default_rng(7)
    ab = rng.uniform(-127, 127, (20, 30, 2))
    index, weights = metrics.soft_encode(ab)
    dense = np.zeros(ab.shape[:-1] + (len(ab_bins()),), np.float32)
    np.put_along_axis(dense, index, weights, axis=-1)
    np.testing.assert_allclose(dense, dense_soft_encode(ab), atol=1e-5)


# ----------------------------------------------------------------------------- accumulator
def test_accumulator_perfect_and_gray_outputs():
    from colorize.color import l_ab_to_rgb

    rng = np.random.default_rng(8)
    photos = [rng.integers(0, 256, (24, 32, 3)).astype(np.uint8) for _ in range(3)]
    perfect, gray = metrics.MetricAccumulator(), metrics.MetricAccumulator()
    for photo in photos:
        truth = metrics.Truth.of(photo)
        perfect.add(photo, truth)
        gray.add(l_ab_to_rgb(truth.lightness, np.zeros_like(truth.ab)), truth)
    best, dull = perfect.summary(), gray.summary()
    assert best["images"] == 3
    assert best["auc"] > 0.999 and best["auc_rebalanced"] > 0.999
    assert best["ssim"] == pytest.approx(1.0) and best["psnr"] == math.inf
    assert best["colourfulness_ratio"] == pytest.approx(1.0)
    assert best["r2_ab"] > 0.999 and best["lightness_error"] < 0.05
    assert dull["colourfulness"] < 2.0 and dull["colourfulness_ratio"] < 0.05
    assert dull["lightness_error"] < 0.5
    assert dull["auc"] < best["auc"] and dull["auc_rebalanced"] < dull["auc"]
    assert "top1" not in dull


def test_false_colour_counts_neutral_pixels_given_a_clear_tint():
    truth = np.zeros((4, 5, 2), np.float32)
    truth[0] = (30.0, 0.0)  # a colourful row: never counted
    truth[1, :2] = (4.0, 3.0)  # chroma 5: still neutral
    output = np.zeros_like(truth)
    output[1] = (12.0, 9.0)  # chroma 15: not above the threshold
    output[2, :3] = (0.0, 20.0)  # painted
    output[0] = (0.0, 50.0)  # on colourful truth: irrelevant
    neutral, painted = metrics.false_colour_counts(output, truth)
    assert (neutral, painted) == (15, 3)
    accumulator = metrics.MetricAccumulator()
    rgb = np.full((8, 8, 3), 128, np.uint8)
    accumulator.add(rgb, metrics.Truth.of(rgb))
    assert accumulator.summary()["false_colour"] == 0.0
