"""Class rebalancing for the ab classifier (Zhang et al. 2016, section 2.2).

Natural images are dominated by low-saturation ab, so an unweighted loss
pushes the classifier towards gray. The fix reweights each pixel by the
rarity of its nearest colour bin:

    p~ = Gaussian-smoothed empirical bin distribution (sigma = 5 Lab units)
    w  proportional to ((1 - lam) * p~ + lam / Q)^-1,   E_p~[w] = sum_q p~_q w_q = 1

with lam = 0.5 as in the paper. Everything here is numpy (data preparation).
"""

import numpy as np

from colorize.color import rgb_to_lab
from colorize.quantize import DEFAULT_SIGMA, ab_bins, nearest_bins

DEFAULT_LAMBDA = 0.5


def empirical_prior(ab_or_iterable, bins=None):
    """Empirical distribution of the nearest bin over all pixels.

    Args:
        ab_or_iterable: one array (..., 2) of ab in Lab units, or an iterable
            of such arrays (e.g. a stream of batches).
        bins: (Q, 2) centres; only its length is used (``nearest_bins``
            indexes ``ab_bins()``), defaults to ``ab_bins()``.

    Returns:
        float64 (Q,) probabilities summing to 1.
    """
    num_bins = len(ab_bins() if bins is None else bins)
    arrays = [ab_or_iterable] if isinstance(ab_or_iterable, np.ndarray) else ab_or_iterable
    counts = np.zeros(num_bins, np.int64)
    for ab in arrays:
        counts += np.bincount(nearest_bins(ab).ravel(), minlength=num_bins)
    total = counts.sum()
    if total == 0:
        raise ValueError("empirical_prior needs at least one pixel")
    return counts / total


def prior_from_rgb(images_uint8, max_pixels=2_000_000, seed=0):
    """Empirical bin distribution of a set of RGB images, from a pixel sample.

    Args:
        images_uint8: uint8 RGB (N, H, W, 3) array, or a list of (H, W, 3).
        max_pixels: at most this many pixels (sampled uniformly without
            replacement, seeded) are converted to Lab: a prior needs counts,
            not every pixel, and this bounds the time to about a second.
        seed: sampling seed.

    Returns:
        float64 (Q,) probabilities summing to 1.
    """
    if isinstance(images_uint8, np.ndarray):
        pixels = images_uint8.reshape(-1, 3)  # a view for contiguous input
    else:
        pixels = np.concatenate([np.asarray(image).reshape(-1, 3) for image in images_uint8])
    if len(pixels) > max_pixels:
        rng = np.random.default_rng(seed)
        pixels = pixels[np.sort(rng.choice(len(pixels), size=max_pixels, replace=False))]
    ab = rgb_to_lab(pixels.astype(np.uint8, copy=False))[..., 1:]
    return empirical_prior(ab)


def _gaussian_kernel(bins, sigma):
    """(Q, Q) kernel; column j spreads bin j's mass over bins, columns sum to 1."""
    bins = np.asarray(bins, np.float64)
    d2 = np.sum((bins[:, None, :] - bins[None, :, :]) ** 2, axis=-1)
    kernel = np.exp(-d2 / (2.0 * sigma**2))
    return kernel / kernel.sum(axis=0, keepdims=True)


def smooth_prior(p, sigma=DEFAULT_SIGMA, bins=None):
    """Gaussian smoothing of a bin distribution in ab space.

    Each bin's mass is spread over the bin centres with a Gaussian of width
    ``sigma`` (Lab units) on centre-to-centre distances, the kernel normalised
    per source bin so no mass leaks out of the gamut at its edges.

    Args:
        p: (Q,) non-negative, summing to 1 (renormalised anyway).
        sigma: kernel width in Lab units; 0 returns p unchanged.
        bins: (Q, 2) centres, defaults to ``ab_bins()``.

    Returns:
        float64 (Q,) summing to 1.
    """
    p = _as_distribution(p)
    if sigma <= 0:
        return p
    bins = ab_bins() if bins is None else bins
    if len(bins) != len(p):
        raise ValueError(f"prior has {len(p)} entries but there are {len(bins)} bins")
    smoothed = _gaussian_kernel(bins, sigma) @ p
    return smoothed / smoothed.sum()


def rebalance_weights(p_smoothed, lam=DEFAULT_LAMBDA):
    """Per-bin loss weights w proportional to ((1 - lam) p + lam / Q)^-1.

    Scaled so that sum_q p_q w_q = 1: on average over the training
    distribution a pixel keeps weight 1, so the loss scale (and learning rate)
    is comparable to the unweighted loss. lam = 1 gives all ones; lam = 0
    inverts the prior (unbounded for empty bins, hence lam > 0 in practice).

    Args:
        p_smoothed: (Q,) smoothed prior.
        lam: mixing weight with the uniform distribution, in (0, 1].

    Returns:
        float32 (Q,) weights.
    """
    if not 0.0 < lam <= 1.0:
        raise ValueError(f"lam must be in (0, 1], got {lam}")
    p = _as_distribution(p_smoothed)
    weights = 1.0 / ((1.0 - lam) * p + lam / len(p))
    weights /= np.sum(p * weights)
    return weights.astype(np.float32)


def class_weights(p, lam=DEFAULT_LAMBDA, sigma=DEFAULT_SIGMA):
    """Empirical prior (Q,) -> loss weights (Q,) float32: smooth, then rebalance."""
    return rebalance_weights(smooth_prior(p, sigma=sigma), lam=lam)


def _as_distribution(p):
    p = np.asarray(p, np.float64)
    if p.ndim != 1 or np.any(p < 0) or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError("expected a 1-D non-negative distribution with positive sum")
    return p / p.sum()
