"""RGB <-> CIE Lab conversion and the L/ab normalisation constants (the one place).

Conversions use scikit-image (D65 white, sRGB gamma), the reference the tests
compare against. Ranges: L in [0, 100], a and b roughly in [-128, 127].

Networks never see raw Lab values. They see ``normalize_l(L)`` in [-0.5, 0.5]
and the regression model predicts ``normalize_ab(ab)`` in about [-1.2, 1.2];
the constants follow richzhang/colorization (l_cent=50, l_norm=100, ab_norm=110).
"""

import cv2
import numpy as np
from skimage import color as skcolor

L_CENT = 50.0
L_NORM = 100.0
AB_NORM = 110.0

# Rows converted per call in the large-image paths: bounds the float64
# temporaries scikit-image makes to a few tens of MB whatever the image size.
_CHUNK_PIXELS = 1 << 20


def _as_unit_float(rgb):
    """uint8 [0, 255] or float [0, 1] RGB -> float32 [0, 1]."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return rgb.astype(np.float32) / 255.0
    return np.clip(rgb.astype(np.float32), 0.0, 1.0)


def _chunked(fn, image, out_channels):
    """Apply a per-pixel conversion ``fn`` to ``image`` (..., 3) in row chunks."""
    flat = image.reshape(-1, image.shape[-1])
    out = np.empty((flat.shape[0], out_channels), np.float32)
    for start in range(0, flat.shape[0], _CHUNK_PIXELS):
        stop = start + _CHUNK_PIXELS
        out[start:stop] = fn(flat[start:stop][None])[0]
    return out.reshape(image.shape[:-1] + (out_channels,))


def rgb_to_lab(rgb):
    """RGB (..., 3) uint8 or float in [0, 1] -> Lab (..., 3) float32.

    Works on one image (H, W, 3) or a batch (N, H, W, 3); L in [0, 100].
    """
    return _chunked(skcolor.rgb2lab, _as_unit_float(rgb), 3)


def lab_to_rgb(lab):
    """Lab (..., 3) -> RGB (..., 3) float32 in [0, 1] (out-of-gamut values clipped).

    OpenCV's float32 Lab->RGB agrees with scikit-image to about 4e-4 (tested)
    and is about 5x faster, which matters for 12-megapixel outputs.
    """
    lab = np.ascontiguousarray(lab, np.float32)
    flat = lab.reshape(-1, 1, 3)
    out = np.empty_like(flat)
    for start in range(0, flat.shape[0], _CHUNK_PIXELS):
        stop = start + _CHUNK_PIXELS
        out[start:stop] = cv2.cvtColor(flat[start:stop], cv2.COLOR_Lab2RGB)
    return np.clip(out.reshape(lab.shape), 0.0, 1.0)


_LUMINANCE_WEIGHTS = np.array([0.212671, 0.715160, 0.072169], np.float32)


def _srgb_to_linear(rgb01):
    return np.where(rgb01 > 0.04045, ((rgb01 + 0.055) / 1.055) ** 2.4, rgb01 / 12.92)


# uint8 value -> linear-light value times its channel's luminance weight.
_WEIGHTED_LINEAR_LUT = (_srgb_to_linear(np.arange(256) / 255.0)[:, None] * _LUMINANCE_WEIGHTS).astype(np.float32)


def rgb_to_lightness(rgb):
    """RGB (..., 3) uint8 or float [0, 1] -> L (...) float32 in [0, 100].

    Cheaper than a full Lab conversion: L depends only on the luminance Y,
    and for uint8 input Y is three table look-ups and two additions a pixel.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        lut = _WEIGHTED_LINEAR_LUT
        y = lut[rgb[..., 0], 0] + lut[rgb[..., 1], 1] + lut[rgb[..., 2], 2]
    else:
        y = _srgb_to_linear(_as_unit_float(rgb)) @ _LUMINANCE_WEIGHTS
    return _y_to_l(y)


def _y_to_l(y):
    """Relative luminance Y in [0, 1] -> CIE L in [0, 100] (CIE 1976 formula)."""
    eps = (6.0 / 29.0) ** 3
    f = np.where(y > eps, np.cbrt(np.maximum(y, eps)), y / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    return (116.0 * f - 16.0).astype(np.float32)


def gray_to_lightness(gray):
    """A single-channel image (H, W), uint8 [0, 255] or float [0, 1] -> L (H, W)."""
    gray = _as_unit_float(gray)
    return rgb_to_lightness(np.repeat(gray[..., None], 3, axis=-1))


def rgb_to_l_ab(rgb):
    """RGB (..., 3) -> (L (..., 1), ab (..., 2)), both float32 in Lab units."""
    lab = rgb_to_lab(rgb)
    return lab[..., :1], lab[..., 1:]


def l_ab_to_rgb(lightness, ab):
    """L (..., H, W) or (..., H, W, 1) and ab (..., H, W, 2) -> uint8 RGB (..., H, W, 3).

    The hot path of every colorization (12-megapixel outputs included), so it
    stays in float32 OpenCV calls: one Lab->RGB conversion, then scaling to
    8 bits with rounding and saturation (negatives clamped first).
    """
    lightness = np.asarray(lightness, np.float32)
    if lightness.ndim == np.asarray(ab).ndim:
        lightness = lightness[..., 0]
    lab = np.empty(lightness.shape + (3,), np.float32)
    lab[..., 0] = lightness
    lab[..., 1:] = ab
    shape = lab.shape
    rgb = cv2.cvtColor(lab.reshape(-1, shape[-2], 3) if lab.ndim > 3 else lab, cv2.COLOR_Lab2RGB)
    rgb *= 255.0
    np.maximum(rgb, 0.0, out=rgb)
    return cv2.convertScaleAbs(rgb).reshape(shape)


def to_uint8(rgb01):
    """float RGB in [0, 1] -> uint8 [0, 255] (rounded, not truncated)."""
    return np.clip(np.rint(np.asarray(rgb01) * 255.0), 0, 255).astype(np.uint8)


def normalize_l(lightness):
    """L in [0, 100] -> network input in [-0.5, 0.5]."""
    return (np.asarray(lightness, np.float32) - L_CENT) / L_NORM


def normalize_ab(ab):
    """ab in Lab units -> regression target in about [-1.2, 1.2]."""
    return np.asarray(ab, np.float32) / AB_NORM


def denormalize_ab(ab_normalized):
    """Inverse of :func:`normalize_ab`: network units -> Lab units."""
    return np.asarray(ab_normalized, np.float32) * AB_NORM
