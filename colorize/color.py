"""RGB <-> CIE Lab conversion and the L/ab normalisation constants (the one place).

Conversions use scikit-image (D65 white, sRGB gamma), the reference the tests
compare against. Ranges: L in [0, 100], a and b roughly in [-128, 127].

Models take L in [0, 100] and return ab in Lab units; inside the graph the
convolutions see (L - L_CENT) / L_NORM in [-0.5, 0.5] and a regression head
learns ab / AB_NORM in about [-1.2, 1.2] (``colorize.models.colorizer``).
The constants follow richzhang/colorization (l_cent=50, l_norm=100, ab_norm=110).
"""

import functools

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
_WEIGHTED_LINEAR_LUT_3 = np.ascontiguousarray(_WEIGHTED_LINEAR_LUT.reshape(256, 1, 3))  # cv2.LUT's layout
_ONES_1x3 = np.ones((1, 3), np.float32)


def rgb_to_lightness(rgb):
    """RGB (..., 3) uint8 or float [0, 1] -> L (...) float32 in [0, 100].

    Cheaper than a full Lab conversion: L depends only on the luminance Y,
    and for uint8 input Y is three table look-ups and two additions a pixel.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        if rgb.ndim == 3 and rgb.shape[0] * rgb.shape[1] > _CHUNK_PIXELS:
            # Row strips: the float32 temporaries of a 99-megapixel photo would take about 2 GB.
            rows = max(1, _CHUNK_PIXELS // rgb.shape[1])
            out = np.empty(rgb.shape[:2], np.float32)
            for top in range(0, rgb.shape[0], rows):
                out[top : top + rows] = rgb_to_lightness(rgb[top : top + rows])
            return out
        if rgb.ndim == 3:
            gray = _gray_plane(rgb)
            if gray is not None:  # a black-and-white photo or film frame: one table pass
                return cv2.LUT(gray, _gray_lightness_table())
            # One OpenCV table pass and one weighted channel sum: twice as fast as NumPy's
            # strided fancy indexing, the same float32 values (video frames pass here).
            y = cv2.transform(cv2.LUT(rgb, _WEIGHTED_LINEAR_LUT_3), _ONES_1x3)
        else:
            lut = _WEIGHTED_LINEAR_LUT
            y = lut[rgb[..., 0], 0] + lut[rgb[..., 1], 1] + lut[rgb[..., 2], 2]
    else:
        y = _srgb_to_linear(_as_unit_float(rgb)) @ _LUMINANCE_WEIGHTS
    return _y_to_l(y)


def _gray_plane(rgb):
    """uint8 (H, W, 3) -> its first channel (H, W) when all three are equal everywhere, else None.

    A few rows are compared first, so a colour image is told apart at almost no cost."""
    sample = rgb[:: max(1, rgb.shape[0] // 8)]
    if not (np.array_equal(sample[..., 0], sample[..., 1]) and np.array_equal(sample[..., 1], sample[..., 2])):
        return None
    red, green, blue = cv2.split(rgb)
    if cv2.countNonZero(cv2.absdiff(red, green)) or cv2.countNonZero(cv2.absdiff(green, blue)):
        return None
    return red


@functools.lru_cache(maxsize=1)
def _gray_lightness_table():
    """float32 (256,): L of the gray (v, v, v), by the colour path itself (so both agree)."""
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    y = cv2.transform(cv2.LUT(ramp, _WEIGHTED_LINEAR_LUT_3), _ONES_1x3)
    return _y_to_l(y).reshape(256)


def _y_to_l(y):
    """Relative luminance Y in [0, 1] -> CIE L in [0, 100] float32 (CIE 1976 formula)."""
    eps = (6.0 / 29.0) ** 3
    y = np.asarray(y, np.float32)
    f = np.cbrt(y)
    dark = y <= eps
    if dark.any():  # the linear segment near black
        f[dark] = y[dark] / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0
    f *= 116.0  # in place: video frames pass here, temporaries cost as much as the formula
    f -= 16.0
    return f


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

    The result keeps L: where (L, a, b) lies outside the sRGB gamut, the
    chroma is reduced (hue and L kept) until it fits, instead of clipping RGB,
    which would change the lightness by up to ~30 L units for saturated
    colours on bright or dark pixels. This is the hot path of every
    colorization (every video frame, 12-megapixel photos), so it is a handful
    of whole-image OpenCV passes: Lab -> unclipped linear RGB (two 3x3
    transforms around a cube), the gamut test on that, the chroma fit for the
    few pixels outside, and the sRGB curve by OpenCV's exp and log. Each
    value comes out as the exactly rounded sRGB value of the scikit-image
    conversion (but for a few in a million, within 1e-5 of a level's edge).
    """
    lightness = np.asarray(lightness, np.float32)
    ab = np.asarray(ab, np.float32)
    if lightness.ndim == ab.ndim:
        lightness = lightness[..., 0]
    shape = lightness.shape + (3,)
    width = shape[-2]
    # One interleaving pass in OpenCV (NumPy's strided channel writes cost twice as much).
    lab = cv2.merge([np.clip(lightness, 0.0, 100.0).reshape(-1, width), np.ascontiguousarray(ab).reshape(-1, width, 2)])
    linear = _lab_image_to_linear_rgb(lab)
    inside = _inside_gamut(linear)
    if cv2.countNonZero(inside) < inside.size:
        outside = np.flatnonzero(inside.reshape(-1) == 0)
        colours = lab.reshape(-1, 3)[outside]
        # At L 0 and 100 the gamut is one point, black or white: their colour goes, nothing to fit
        # (common: black bars, blown highlights, white backgrounds).
        ends = (colours[:, 0] <= 0.0) | (colours[:, 0] >= 100.0)
        colours[ends, 1:] = 0.0
        middle = np.flatnonzero(~ends)
        if middle.size:
            colours[middle] = _fit_chroma_to_gamut(colours[middle], outside_only=True)
        linear.reshape(-1, 3)[outside] = _lab_to_linear_rgb(colours)
    return _linear_to_srgb_uint8(linear).reshape(shape)


# Lab -> f = (fx, fy, fz), the cube roots of X/Xn, Y and Z/Zn (CIE): one affine map, OpenCV's layout.
_F_FROM_LAB = np.array([[1 / 116, 1 / 500, 0, 16 / 116], [1 / 116, 0, 0, 16 / 116], [1 / 116, 0, -1 / 200, 16 / 116]],
                       np.float32)
# The linear segment of the CIE inverse below f = 6/29 (dark colours, L < 8, and extreme chroma).
_DELTA = 6.0 / 29.0
_LINEAR_SLOPE = 3 * _DELTA**2
_LINEAR_OFFSET = 4.0 / 29.0


def _f_inverse_image(f):
    """X/Xn, Y, Z/Zn of a float32 image (H, W, 3) of f values, in whole-image OpenCV passes (a 2-D view is fastest).

    f**3 above 6/29, the CIE linear segment at and below (dark colours, L < 8,
    and extreme chroma): each value by its own formula, so a pixel's result
    does not depend on the others in the image (strips join exactly).
    """
    flat = f.reshape(f.shape[0], -1)
    cubes = cv2.pow(flat, 3)
    if cv2.minMaxLoc(flat)[0] <= _DELTA:
        linear = cv2.multiply(cv2.subtract(flat, _LINEAR_OFFSET), _LINEAR_SLOPE)
        cubes = cv2.copyTo(linear, cv2.compare(flat, _DELTA, cv2.CMP_LE), cubes)
    return cubes.reshape(f.shape)


def _lab_image_to_linear_rgb(lab):
    """Lab float32 (H, W, 3) -> linear-light RGB (H, W, 3), NOT clipped (outside [0, 1]: out of gamut)."""
    f = cv2.transform(lab, _F_FROM_LAB)
    return cv2.transform(_f_inverse_image(f), _LINEAR_FROM_F)


# The sRGB curve's linear segment: at and below this linear value, 12.92 x; above, 1.055 x^(1/2.4) - 0.055.
_SRGB_LINEAR_LIMIT = 0.0031308


def _linear_to_srgb_uint8(linear):
    """Linear RGB float32 (H, W, 3), clipped to [0, 1] -> sRGB uint8 (H, W, 3), rounded.

    x^(1/2.4) as exp(log(x) / 2.4): OpenCV's vectorised exp and log cost a
    quarter of its pow; the result is the exactly rounded sRGB value for all
    but a few in a million values (those within 1e-5 of a level's edge).
    """
    flat = cv2.max(linear.reshape(linear.shape[0], -1), 0.0)
    encoded = cv2.exp(cv2.multiply(cv2.log(flat), 1 / 2.4))
    # 255 (1.055 e - 0.055), rounded and saturated (abs only matters on the linear segment, replaced below).
    result = cv2.convertScaleAbs(encoded, alpha=255 * 1.055, beta=-255 * 0.055)
    if cv2.minMaxLoc(flat)[0] <= _SRGB_LINEAR_LIMIT:
        dark = cv2.compare(flat, _SRGB_LINEAR_LIMIT, cv2.CMP_LE)
        result = cv2.copyTo(cv2.convertScaleAbs(flat, alpha=255 * 12.92), dark, result)
    return result.reshape(linear.shape)


# sRGB (D65) primaries as scikit-image uses them, for the unclipped gamut test.
_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB).astype(np.float32)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], np.float32)
# X/Xn, Y, Z/Zn -> linear RGB (the white point folded into the matrix).
_LINEAR_FROM_F = (_RGB_FROM_XYZ * _WHITE_D65[None, :]).astype(np.float32)
_GAMUT_TOLERANCE = 1e-4


def _lab_to_linear_rgb(lab):
    """Lab (n, 3) -> linear-light RGB (n, 3) float32, NOT clipped: outside [0, 1] means out of gamut."""
    lab = np.ascontiguousarray(lab, np.float32)
    if not len(lab):
        return np.empty((0, 3), np.float32)
    # As one image row: OpenCV's passes cost microseconds where NumPy's temporaries cost a millisecond.
    return _lab_image_to_linear_rgb(lab.reshape(1, -1, 3)).reshape(-1, 3)


def _inside_gamut(linear):
    """Linear RGB (H, W, 3) -> uint8 mask (H, W): 255 where every channel is within [0, 1] up to _GAMUT_TOLERANCE."""
    return cv2.inRange(linear, (-_GAMUT_TOLERANCE,) * 3, (1 + _GAMUT_TOLERANCE,) * 3)


def _in_gamut(lab):
    """Lab (n, 3) -> bool (n,): inside the sRGB gamut (linear RGB within [0, 1] up to _GAMUT_TOLERANCE)."""
    if not len(lab):
        return np.zeros(0, bool)
    return _inside_gamut(_lab_to_linear_rgb(lab).reshape(1, -1, 3)).reshape(-1) > 0


def _fit_chroma_to_gamut(lab, steps=8, outside_only=False):
    """Lab (n, 3) -> Lab (n, 3) with ab scaled by (nearly) the largest factor in [0, 1] that is in gamut.

    Only the colours really outside are changed. A table of the gamut's
    largest chroma per (L, hue) (:func:`_max_chroma_table`) brackets each
    colour's factor between two values 1 % apart, which two exact checks
    confirm for almost every pixel: two passes instead of a bisection's
    eight, the hot spot of composing video frames with black or white areas.
    The few the table misjudges (near the gamut's cusps, where the largest
    chroma changes fast with L) are bisected, ``steps`` steps, inside what
    the checks left open. Factor 0, the gray of the same L, is always in
    gamut, so a solution exists; every result is within 1 % (or 0.5 Lab
    units) of the chroma that fits (the bisection's 8 steps: 0.4 %).
    ``outside_only``: the caller found every colour outside already (skips that check).
    """
    fitted = lab.copy()
    outside = np.arange(len(lab)) if outside_only else np.flatnonzero(~_in_gamut(lab))
    if not outside.size:
        return fitted
    target = lab[outside]
    table = _table_chroma(target)
    chroma = np.maximum(np.hypot(target[:, 1], target[:, 2]), 1e-6)
    below = np.minimum(1.0, table * (1.0 - _TABLE_MARGIN) / chroma).astype(np.float32)
    # The absolute slack matters where the gamut narrows to the gray axis (L near 0 or 100).
    above = np.minimum(1.0, (table * (1.0 + _TABLE_MARGIN) + _TABLE_SLACK) / chroma).astype(np.float32)
    below_fits = _in_gamut(_scaled(target, below))
    above_fits = _in_gamut(_scaled(target, above))
    factor = below.copy()  # fits below, not above: the largest factor lies in between
    # The table overrated the chroma: bisect in [0, below]; underrated it: in [above, 1].
    for rows, low, high in ((~below_fits, 0.0, below), (below_fits & above_fits, above, 1.0)):
        rows = np.flatnonzero(rows)
        if rows.size:
            low, high = (np.broadcast_to(np.asarray(v, np.float32), below.shape)[rows] for v in (low, high))
            factor[rows] = _bisect_factor(target[rows], low, high, steps)
    fitted[outside, 1:] = target[:, 1:] * factor[:, None]
    return fitted


def _scaled(lab, factor):
    """Lab (n, 3) with ab times factor (n,)."""
    scaled = lab.copy()
    scaled[:, 1:] *= factor[:, None]
    return scaled


def _bisect_factor(target, low, high, steps):
    """Largest factor in [low, high] (each (n,); low known to fit) with target's ab times it in gamut."""
    low = np.asarray(low, np.float32).copy()
    high = np.asarray(high, np.float32).copy()
    for _ in range(steps):
        middle = (low + high) / 2
        ok = _in_gamut(_scaled(target, middle))
        low = np.where(ok, middle, low)
        high = np.where(ok, high, middle)
    return low


# The table's grid and the margin kept inside its (interpolated) chroma.
_TABLE_L_STEPS = 128
_TABLE_HUE_STEPS = 180
_TABLE_MARGIN = 0.005
_TABLE_SLACK = 0.5  # Lab units of chroma
# Larger than any sRGB colour's chroma (about 134, saturated blue): the table's bisection starts there.
_TABLE_MAX_CHROMA = 160.0


@functools.lru_cache(maxsize=1)
def _max_chroma_table():
    """float32 (L steps, hue steps + 1): the largest in-gamut chroma at each (L, hue), by bisection.

    Rows: L from 0 to 100; columns: hue from 0 to 2 pi (the last repeats the
    first, so interpolation wraps). Built once, on first use (about 0.04 s).
    """
    lightness, hue = np.meshgrid(np.linspace(0.0, 100.0, _TABLE_L_STEPS, dtype=np.float32),
                                 np.linspace(0.0, 2 * np.pi, _TABLE_HUE_STEPS + 1, dtype=np.float32), indexing="ij")
    lab = np.stack([lightness.ravel(), _TABLE_MAX_CHROMA * np.cos(hue.ravel()),
                    _TABLE_MAX_CHROMA * np.sin(hue.ravel())], axis=1).astype(np.float32)
    factor = _bisect_factor(lab, np.zeros(len(lab), np.float32), np.ones(len(lab), np.float32), 12)
    return (factor * _TABLE_MAX_CHROMA).reshape(lightness.shape).astype(np.float32)


def _table_chroma(lab):
    """Lab (n, 3) -> the table's largest in-gamut chroma (n,) at each colour's L and hue (bilinear)."""
    table = _max_chroma_table()
    hue = np.mod(np.arctan2(lab[:, 2], lab[:, 1]), 2 * np.pi)
    column = (hue * (_TABLE_HUE_STEPS / (2 * np.pi))).astype(np.float32)
    row = (np.clip(lab[:, 0], 0.0, 100.0) * ((_TABLE_L_STEPS - 1) / 100.0)).astype(np.float32)
    # cv2.remap takes maps below 32767 a side: lay the n points out as rows of 1024.
    count = len(lab)
    padded = -(-count // _REMAP_WIDTH) * _REMAP_WIDTH
    column, row = (np.pad(v, (0, padded - count)).reshape(-1, _REMAP_WIDTH) for v in (column, row))
    chroma = cv2.remap(table, column, row, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return chroma.reshape(-1)[:count]


_REMAP_WIDTH = 1024


def to_uint8(rgb01):
    """float RGB in [0, 1] -> uint8 [0, 255] (rounded, not truncated)."""
    return np.clip(np.rint(np.asarray(rgb01) * 255.0), 0, 255).astype(np.uint8)
