"""Chroma upsampling: ab predicted at the network's grid -> ab at the photo's full resolution, strip by strip.

    bilinear  cv2.resize's bilinear interpolation of ab (colour bleeds across
              edges: the grid is 2-8x coarser than the photo, more for big photos)
    guided    edge-aware, steered by the photo's full-resolution L with the
              local linear model of He, Sun & Tang's guided filter (ECCV 2010 /
              TPAMI 2013) in its fast form for upsampling (He & Sun 2015,
              "Fast Guided Filter": fit at the coarse grid, apply at full
              resolution). At the grid, the slope a = d ab / d L of ab against
              the grid's L is fitted in box windows (radius GUIDED_RADIUS,
              regularised by GUIDED_EPS); at full resolution

                  ab = bilinear(ab) + bilinear(a) * (L - bilinear(L at the grid))

              i.e. the L detail the grid cannot hold (an edge inside a grid
              cell) moves the colour along the fitted slope, so a colour edge
              lands on the photo's own L edge (Cheng, Yang & Sheng 2015 refine
              chroma with a joint bilateral filter for the same reason). Where
              L is flat at the window's scale (a = 0), or where full-res L has
              no detail beyond the grid's, the result is exactly bilinear: the
              grid's colours are not smoothed (the plain fast guided filter's
              A * L + B output box-averages them, which costs accuracy).
              O(N): box filters at the grid, a few multiply-adds a full-res pixel.

Why not ``cv2.ximgproc.guidedFilter``: the project depends on opencv-python,
which has no ximgproc (installing opencv-contrib-python beside it replaces
the ``cv2`` package and breaks it), and ximgproc's filter runs at full
resolution on a full-size bilinear upsampling (four full-size float images for
a 12 MP photo) and returns the filtered image, not the slopes that the fast
form upsamples. The slopes are five ``cv2.boxFilter`` calls at the grid
(:func:`guided_slopes`), a few lines.

Both methods work in horizontal strips of rows: the bilinear interpolation
of a strip is exactly that of one full-size ``cv2.resize`` (same taps and
float32 arithmetic), so memory stays bounded whatever the photo's size.
"""

import cv2
import numpy as np

from colorize.color import L_NORM

METHODS = ("bilinear", "guided")
DEFAULT_METHOD = "bilinear"
# Window radius in grid pixels (a 3x3 window: both sides of an edge, still local). eps in (L / 100)^2: a
# window whose L varies by less than about sqrt(eps) * 100 = 10 L units counts as flat (texture and
# shading are not copied into the colours); stronger L edges carry the colour edge (He et al. use
# eps = 0.1^2 for edge-preserving smoothing). Measured on 60 diverse/unseen photos (README, "Edge-aware
# upsampling"): smaller eps or radius 2 copied more L shading into the colours and lowered AuC and PSNR.
GUIDED_RADIUS = 1
GUIDED_EPS = 1e-2


def check_method(method):
    """ValueError naming the methods unless ``method`` is one of METHODS."""
    if method not in METHODS:
        raise ValueError(f"upsampling method must be one of {', '.join(METHODS)}, got {method!r}")


def guided_slopes(guide_small, ab_small, radius=GUIDED_RADIUS, eps=GUIDED_EPS):
    """The guided filter's local linear slopes at the grid: d ab / d guide, fitted in box windows.

    a = cov(guide, ab) / (var(guide) + eps) in each (2 radius + 1)^2 window
    (He et al.), then box-averaged as the filter averages its coefficients.

    Args:
        guide_small: float32 (h, w), the guide (L / 100, in [0, 1]) at the grid.
        ab_small: float32 (h, w, C) (C = 2: a and b in Lab units).
        radius: box window radius in grid pixels.
        eps: regularisation, in guide units squared.

    Returns float32 (h, w, C), Lab units per guide unit.
    """
    size = (2 * radius + 1, 2 * radius + 1)

    def box(x):  # normalised box mean; reflected borders (OpenCV's default) keep the borders unbiased
        return cv2.boxFilter(x, cv2.CV_32F, size).reshape(x.shape)

    guide = np.ascontiguousarray(guide_small, np.float32)
    ab = np.ascontiguousarray(ab_small, np.float32)
    mean_g = box(guide)[..., None]
    var_g = box(guide * guide)[..., None] - mean_g * mean_g
    cov = box(ab * guide[..., None]) - box(ab) * mean_g
    return box(np.ascontiguousarray(cov / (var_g + np.float32(eps))))


def ab_strips(lightness, ab_small, method=DEFAULT_METHOD, strip_pixels=1 << 21):
    """Yield (rows slice, ab (rows, W, 2) float32 in Lab units) covering full-res L (H, W) top to bottom.

    ``lightness``: float32 (H, W) in [0, 100]. ``ab_small``: float32 (h, w, 2)
    at the network's grid. ``strip_pixels``: about how many pixels a strip has.
    """
    check_method(method)
    height, width = lightness.shape
    small = np.ascontiguousarray(ab_small, np.float32)
    planes = [small]
    if method == "guided":
        grid = (small.shape[1], small.shape[0])
        # The guide at the grid as the network saw L there (area average), in [0, 1] like eps assumes.
        guide_small = cv2.resize(lightness, grid, interpolation=cv2.INTER_AREA) / np.float32(L_NORM)
        planes += [guided_slopes(guide_small, small), guide_small[..., None]]
    if method == "bilinear" and height * width <= strip_pixels:  # one strip: OpenCV's own pass, 5x faster
        yield slice(0, height), cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(
            height, width, small.shape[-1])
        return
    rows_of, weights = _vertical_taps(small.shape[0], height)
    # The horizontal half of cv2.resize's bilinear pass, at the grid's few rows (cheap). Separate
    # contiguous planes: NumPy is several times slower on interleaved channel slices.
    wide = [cv2.resize(plane, (width, plane.shape[0]), interpolation=cv2.INTER_LINEAR).reshape(
        plane.shape[0], width, plane.shape[-1]) for plane in planes]
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
        if method == "guided":
            # ab = bilinear ab + slope * (L's detail the grid does not have), in place in the first strip.
            ab, slope, guide_up = strips
            guide_up -= lightness[rows, :, None] / np.float32(L_NORM)
            slope *= guide_up
            ab -= slope
        yield rows, strips[0]


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
