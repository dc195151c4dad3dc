"""A user's guidance for a hint-taking colorizer: colour points and a reference photo, as NumPy.

    Point(x, y, rgb)   a colour asked for at pixel (x, y) of the photo (origin
                       top-left); only its ab counts: the lightness is the photo's
    Guidance           the points and the reference photo's colour histogram

The network inputs they become (:mod:`colorize.models.guided` describes them):

    hint map   (h, w, 3) at the network's working size: a, b of each point over a
               POINT_SIZE x POINT_SIZE patch around its place, and the mask
    reference  (Q + 1,): the reference photo's ab histogram over the Q bins of
               :mod:`colorize.quantize` (on a grid of REFERENCE_GRID px short side,
               as training sees the truth: 128 px photos pooled by 4) and the flag 1;
               all zeros without a reference

Colours: ``#rrggbb`` (or ``#rgb``), ``rgb(r, g, b)`` or a CSS colour name.
Every parsing error is a ValueError whose message is one line naming the
bad piece.
"""

import json
import re
from dataclasses import dataclass, field

import numpy as np

from colorize import color

POINT_SIZE = 3  # side of a point's square in working-size pixels (training: 1 to 9)
REFERENCE_GRID = 32  # short side of the grid a reference photo's histogram is taken on
MAX_POINTS = 1000  # more points than this is not guidance, it is a colouring


@dataclass(frozen=True)
class Point:
    """A colour point: (x, y) in pixels of the photo (origin top-left), ``rgb`` its colour (3 ints)."""

    x: float
    y: float
    rgb: tuple

    @property
    def ab(self):
        """The colour's a, b (Lab units)."""
        lab = color.rgb_to_lab(np.asarray(self.rgb, np.uint8).reshape(1, 1, 3))
        return tuple(float(v) for v in lab[0, 0, 1:])


@dataclass
class Guidance:
    """What the user gave for one photo: colour points and/or a reference vector (Q + 1,)."""

    points: tuple = ()
    reference: np.ndarray = field(default=None, repr=False)

    def __bool__(self):
        return bool(self.points) or self.reference is not None


_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_RGB = re.compile(r"rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)", re.IGNORECASE)


def parse_colour(text):
    """``#rrggbb``, ``#rgb``, ``rgb(r,g,b)`` or a CSS colour name -> (r, g, b) ints. ValueError otherwise."""
    value = str(text).strip()
    match = _HEX.fullmatch(value)
    if match:
        digits = match.group(1)
        digits = "".join(c * 2 for c in digits) if len(digits) == 3 else digits
        return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    match = _RGB.fullmatch(value)
    if match:
        rgb = tuple(int(v) for v in match.groups())
        if max(rgb) > 255:
            raise ValueError(f"bad colour {value!r}: rgb() values must be 0 to 255")
        return rgb
    from matplotlib.colors import CSS4_COLORS  # the CSS colour names (148), without loading pyplot

    name = value.lower()
    if name in CSS4_COLORS:
        return parse_colour(CSS4_COLORS[name])
    raise ValueError(f"bad colour {value!r} (use #rrggbb, rgb(r,g,b) or a CSS colour name)")


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"bad {what} {value!r}: not a number")
    return float(value)


def parse_point(text):
    """``X,Y,COLOUR`` (the --hint option) -> Point. The colour may hold commas (``rgb(1,2,3)``)."""
    parts = str(text).split(",", 2)
    if len(parts) != 3:
        raise ValueError(f"bad hint {text!r} (expected X,Y,COLOUR, e.g. 120,80,#c03030)")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"bad hint {text!r}: X and Y must be numbers") from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"bad hint {text!r}: X and Y must be finite")
    try:
        return Point(x, y, parse_colour(parts[2]))
    except ValueError as error:
        raise ValueError(f"bad hint {text!r}: {error}") from None


def points_from_json(text):
    """``[{"x": 120, "y": 80, "color": "#c03030"}, ...]`` (a hints file, the web page's field) -> [Point]."""
    try:
        items = json.loads(text)
    except (ValueError, TypeError) as error:
        raise ValueError(f"bad hints JSON ({str(error).splitlines()[0]})") from None
    if not isinstance(items, list):
        raise ValueError("bad hints JSON: expected a list of {\"x\", \"y\", \"color\"} objects")
    if len(items) > MAX_POINTS:
        raise ValueError(f"too many hints ({len(items)}; at most {MAX_POINTS})")
    points = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not {"x", "y", "color"} <= set(item):
            raise ValueError(f"bad hint #{index + 1}: expected an object with x, y and color")
        try:
            points.append(Point(_number(item["x"], "x"), _number(item["y"], "y"), parse_colour(item["color"])))
        except ValueError as error:
            raise ValueError(f"bad hint #{index + 1}: {error}") from None
    return points


def check_points(points, height, width):
    """ValueError naming the first point outside a (height, width) photo."""
    for point in points:
        if not (0 <= point.x < width and 0 <= point.y < height):
            raise ValueError(f"hint at ({point.x:g}, {point.y:g}) is outside the {width}x{height} photo")


def reference_vector(rgb):
    """A reference photo (uint8 RGB (H, W, 3)) -> (Q + 1,) float32: its ab histogram over the bins, flag 1."""
    import cv2

    from colorize.quantize import ab_bins, nearest_bins

    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=-1)
    height, width = rgb.shape[:2]
    scale = REFERENCE_GRID / min(height, width)
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    ab = color.rgb_to_lab(rgb)[..., 1:]
    counts = np.bincount(nearest_bins(ab).ravel(), minlength=len(ab_bins())).astype(np.float32)
    return np.concatenate([counts / counts.sum(), [1.0]]).astype(np.float32)


def reference_length():
    from colorize.quantize import ab_bins

    return len(ab_bins()) + 1


def no_reference():
    """The reference input when none is given: (Q + 1,) zeros (flag 0)."""
    return np.zeros(reference_length(), np.float32)


def hint_map(points, photo_shape, net_shape):
    """Points on a (H, W) photo -> the (h, w, 3) float32 hint map at the network's (h, w): each point's
    ab over a POINT_SIZE square around its place, scaled to the network's grid; mask 1 there."""
    height, width = photo_shape
    rows, cols = net_shape
    hints = np.zeros((rows, cols, 3), np.float32)
    half = POINT_SIZE // 2
    for point in points:
        row = int(np.clip(round((point.y + 0.5) * rows / height - 0.5), 0, rows - 1))
        col = int(np.clip(round((point.x + 0.5) * cols / width - 0.5), 0, cols - 1))
        window = (slice(max(0, row - half), row + half + 1), slice(max(0, col - half), col + half + 1))
        hints[window + (slice(0, 2),)] = point.ab
        hints[window + (2,)] = 1.0
    return hints
