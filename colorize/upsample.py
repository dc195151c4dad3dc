"""Chroma upsampling: ab predicted at the network's grid -> ab at the photo's full resolution, strip by strip.

    bilinear  cv2.resize's bilinear interpolation of ab (colour bleeds across
              edges: the grid is 2-4x coarser than the photo, and more for big photos)
    guided    He, Sun & Tang's guided filter (ECCV 2010 / TPAMI 2013) guided by
              the photo's full-resolution L, in its fast form for upsampling
              (He & Sun 2015, "Fast Guided Filter"): the local linear model
              ab ~ a * L + b is fitted at the grid (box windows of radius
              GUIDED_RADIUS grid pixels, regularised by GUIDED_EPS), the
              coefficients a, b are upsampled bilinearly, and ab = A * L + B
              at full resolution. Every colour edge then follows the photo's
              own L edges (Cheng, Yang & Sheng 2015 refine chroma the same way
              with a joint bilateral filter). O(N): box filters at the grid,
              two multiply-adds a pixel at full resolution.

Why not ``cv2.ximgproc.guidedFilter``: the project depends on opencv-python,
which has no ximgproc (installing opencv-contrib-python beside it replaces
the ``cv2`` package and breaks it), and ximgproc's filter runs at full
resolution on a full-size bilinear upsampling (four full-size float images for
a 12 MP photo) and returns the filtered image, not the coefficients a, b that
the fast form upsamples. The coefficients are six ``cv2.boxFilter`` calls at
the grid (:func:`guided_coefficients`), a few lines.

Both methods work in horizontal strips of rows: the bilinear interpolation
of a strip is exactly that of one full-size ``cv2.resize`` (same taps and
float32 arithmetic), so memory stays bounded whatever the photo's size.
"""

import cv2
import numpy as np

from colorize.color import L_NORM

METHODS = ("bilinear", "guided")
DEFAULT_METHOD = "bilinear"
# Window radius in grid pixels (a 5x5 window): large enough to hold both sides of an edge, small enough to
# keep the fit local. eps in (L / 100)^2: below it a window's L variance counts as flat (noise, texture
# of one colour), above it L edges carry the colour edge. Chosen on diverse/unseen (README, "Edge-aware
# upsampling").
GUIDED_RADIUS = 2
GUIDED_EPS = 1e-3


def check_method(method):
    """ValueError naming the methods unless ``method`` is one of METHODS."""
    if method not in METHODS:
        raise ValueError(f"upsampling method must be one of {', '.join(METHODS)}, got {method!r}")


def guided_coefficients(guide_small, ab_small, radius=GUIDED_RADIUS, eps=GUIDED_EPS):
    """The guided filter's mean coefficients at the grid: ab ~ A * guide + B.

    Args:
        guide_small: float32 (h, w), the guide (L / 100, in [0, 1]) at the grid.
        ab_small: float32 (h, w, C) (C = 2: a and b in Lab units).
        radius: box window radius in grid pixels.
        eps: regularisation, in guide units squared.

    Returns float32 (h, w, 2C): the box means of a (C channels) then of b
    (C channels), ready to be upsampled and applied as A * guide + B.
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x):  # normalised box mean; reflected borders (OpenCV's default) keep the borders unbiased
        return cv2.boxFilter(x, cv2.CV_32F, size)

    guide = np.ascontiguousarray(guide_small, np.float32)
    ab = np.ascontiguousarray(ab_small, np.float32)
    mean_g = box(guide)
    var_g = box(guide * guide) - mean_g * mean_g
    mean_ab = box(ab).reshape(ab.shape)
    cov = box(ab * guide[..., None]).reshape(ab.shape) - mean_ab * mean_g[..., None]
    a = cov / (var_g[..., None] + np.float32(eps))
    b = mean_ab - a * mean_g[..., None]
    return np.concatenate([box(a).reshape(ab.shape), box(b).reshape(ab.shape)], axis=-1)


def ab_strips(lightness, ab_small, method=DEFAULT_METHOD, strip_pixels=1 << 21):
    """Yield (rows slice, ab (rows, W, 2) float32 in Lab units) covering full-res L (H, W) top to bottom.

    ``lightness``: float32 (H, W) in [0, 100]. ``ab_small``: float32 (h, w, 2)
    at the network's grid. ``strip_pixels``: about how many pixels a strip has.
    """
    check_method(method)
    height, width = lightness.shape
    small = np.ascontiguousarray(ab_small, np.float32)
    channels = small.shape[-1]
    if method == "guided":
        grid = (small.shape[1], small.shape[0])
        # The guide at the grid as the network saw L there (area average), in [0, 1] like eps assumes.
        guide_small = cv2.resize(lightness, grid, interpolation=cv2.INTER_AREA) / np.float32(L_NORM)
        coefficients = guided_coefficients(guide_small, small)
        planes = [np.ascontiguousarray(coefficients[..., :channels]), np.ascontiguousarray(coefficients[..., channels:])]
    else:
        planes = [small]
    rows_of, weights = _vertical_taps(small.shape[0], height)
    # The horizontal half of cv2.resize's bilinear pass, at the grid's few rows (cheap). Separate
    # contiguous planes (ab, or A and B): NumPy is several times slower on interleaved channel slices.
    wide = [cv2.resize(plane, (width, plane.shape[0]), interpolation=cv2.INTER_LINEAR).reshape(
        plane.shape[0], width, channels) for plane in planes]
    step = max(1, strip_pixels // max(width, 1))
    for top in range(0, height, step):
        rows = slice(top, min(top + step, height))
        # The vertical half, as cv2.resize computes it (float32 products, then their sum),
        # so the strips join into exactly cv2.resize(plane, (width, height)).
        upper, lower = rows_of[rows].T
        strips = []
        for plane in wide:
            values = plane[upper] * weights[rows, 0, None, None]
            values += plane[lower] * weights[rows, 1, None, None]
            strips.append(values)
        if method == "guided":  # ab = A * L + B, in place in A's strip
            values, offsets = strips
            values *= lightness[rows, :, None] / np.float32(L_NORM)
            values += offsets
        yield rows, strips[0]


def upsample_ab(lightness, ab_small, method=DEFAULT_METHOD):
    """ab (h, w, 2) at the grid -> ab (H, W, 2) float32 at L's full resolution (one array; for small photos)."""
    result = np.empty(lightness.shape + (ab_small.shape[-1],), np.float32)
    for rows, ab in ab_strips(lightness, ab_small, method):
        result[rows] = ab
    return result


def _vertical_taps(source, target):
    """cv2.resize's bilinear source rows and weights for ``target`` rows from ``source`` rows.

    Returns (rows (target, 2) int, weights (target, 2) float32): row y of the
    result is ``weights[y, 0] * src[rows[y, 0]] + weights[y, 1] * src[rows[y, 1]]``.
    OpenCV maps pixel centres (y + 0.5) * scale - 0.5 in float32 and clamps
    the rows at the borders while keeping the weights.
    """
    position = ((np.arange(target) + 0.5) * (source / target) - 0.5).astype(np.float32)
    first = np.floor(position)
    fraction = (position - first).astype(np.float32)
    first = first.astype(np.int64)
    rows = np.stack([np.clip(first, 0, source - 1), np.clip(first + 1, 0, source - 1)], axis=1)
    return rows, np.stack([np.float32(1) - fraction, fraction], axis=1)
