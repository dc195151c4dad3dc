"""Temporal consistency for video colorization: carry the previous frame's colours along the motion.

A per-frame colorizer answers every frame on its own, so the ab of a wall
can wobble from frame to frame (flicker) although nothing in the scene
changed. :class:`TemporalSmoother` fixes that cheaply, after the network:

* dense optical flow (OpenCV DIS) between the current and the previous
  gray frame, at a small size (the network grid), carries the previous
  OUTPUT ab onto the current frame (backward warping);
* a forward-backward consistency check and a lightness check mark where the
  flow is reliable; occlusions, new content and pixels whose source lies
  outside the previous frame are not;
* where reliable, the output is ``alpha * warped_previous + (1 - alpha) *
  prediction`` (a recursive average along the motion); elsewhere it is the
  new prediction;
* a scene cut (very different small gray frames, or a frame where the flow
  is reliable almost nowhere) starts afresh.

Only ab is touched: the caller joins the result with the frame's own full
resolution L, so the lightness of every frame is kept exactly.
"""

import functools

import cv2
import numpy as np

# Weight of the warped previous output where the flow is reliable: a recursive mean over about
# (1 + alpha) / (1 - alpha) = 12 frames; flicker of independent per-frame noise shrinks about 9x.
DEFAULT_ALPHA = 0.85
# Forward-backward check (Sundaram et al. 2010): |f_b(x) + f_f(x + f_b(x))|^2 <= a (|f_b|^2 + |f_f|^2) + b.
FB_RELATIVE = 0.01
FB_ABSOLUTE_PX = 0.5
# A pixel whose L differs from its motion-compensated predecessor by more than this (L units) is new content.
LIGHTNESS_TOLERANCE = 10.0
# Scene cut: mean |difference| of 32x32 thumbnails of L above this (L units) ...
CUT_MEAN_DIFFERENCE = 18.0
# ... or a frame where the flow is reliable on less than this fraction of pixels.
CUT_RELIABLE_FRACTION = 0.25
# Shorter side the flow is computed at, at least (the network grid can be small).
MIN_FLOW_SIDE = 96


def _gray_u8(lightness):
    """L in [0, 100] -> uint8 gray for the flow."""
    return np.clip(np.asarray(lightness, np.float32) * 2.55 + 0.5, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height, width):
    """float32 (H, W, 2): each pixel's own (x, y), made once per flow size (every step needs it)."""
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.stack([grid_x, grid_y], axis=-1)
    grid.flags.writeable = False
    return grid


def _remap(image, flow, border=cv2.BORDER_REPLICATE):
    """Sample ``image`` at x + flow(x) (bilinear)."""
    source = _pixel_grid(*flow.shape[:2]) + flow  # one (H, W, 2) map: OpenCV takes it as map1
    return cv2.remap(image, source, None, cv2.INTER_LINEAR, borderMode=border)


def shrink(image, shape):
    """float32 image (H, W[, C]) -> (h, w[, C]) by area averaging, first by a whole factor of both sides.

    OpenCV's area resize has a fast path for whole factors only: a 720p frame
    to the flow size costs a third of the direct resize this way (first 5x
    down, then the small remainder). Each output pixel is still a weighted
    mean of the pixels under it.
    """
    height, width = image.shape[:2]
    factor = min(height // shape[0], width // shape[1])
    while factor > 1 and (height % factor or width % factor):
        factor -= 1
    if factor > 1:
        image = cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    if image.shape[:2] != tuple(shape):
        image = cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return image


def make_flow(preset=None):
    """A DIS optical flow object (OpenCV); ``preset`` None: the fast preset."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST if preset is None else preset)


_SUM_OF_TWO = np.ones((1, 2), np.float32)


def _squared_length(vectors):
    """(H, W, 2) float32 -> (H, W): x^2 + y^2 (two OpenCV passes; NumPy's einsum took 4x as long)."""
    return cv2.transform(cv2.multiply(vectors, vectors), _SUM_OF_TWO)


def reliable_flow(flow_object, gray_current, gray_previous):
    """Backward flow current -> previous (H, W, 2) and a mask (H, W) bool of where it is reliable.

    Reliable: the forward-backward check passes and the source lies inside the previous frame.
    """
    backward = flow_object.calc(gray_current, gray_previous, None)
    forward = flow_object.calc(gray_previous, gray_current, None)
    forward_at_source = _remap(forward, backward)
    error = _squared_length(backward + forward_at_source)
    bound = FB_RELATIVE * (_squared_length(backward) + _squared_length(forward_at_source)) + FB_ABSOLUTE_PX
    height, width = backward.shape[:2]
    source = _pixel_grid(height, width) + backward
    inside = cv2.inRange(source, (0.0, 0.0), (width - 1.0, height - 1.0)) > 0
    return backward, (error <= bound) & inside


def is_scene_cut(lightness_a, lightness_b, threshold=CUT_MEAN_DIFFERENCE):
    """Whether two frames' L (any equal shape) differ like a cut: mean |diff| of 32x32 thumbnails > threshold."""
    small_a = cv2.resize(np.asarray(lightness_a, np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    small_b = cv2.resize(np.asarray(lightness_b, np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    return float(np.mean(np.abs(small_a - small_b))) > threshold


class TemporalSmoother:
    """Frame-to-frame ab smoothing along the optical flow (see the module's doc).

    ``step(lightness_small, ab_pred)`` takes the current frame's L (any size;
    resized to the flow size) and the network's ab (h, w, 2) and returns the
    temporally consistent ab at the same (h, w). It keeps only the previous
    frame's gray image and output ab: memory does not grow with the clip.
    ``reset()`` forgets them (the next frame is colorized on its own).
    ``cuts`` counts the scene cuts detected; ``last_reliable`` is the
    fraction of pixels taken from the previous frame on the last step.
    """

    def __init__(self, alpha=DEFAULT_ALPHA, cut_threshold=CUT_MEAN_DIFFERENCE, min_flow_side=MIN_FLOW_SIDE,
                 lightness_tolerance=LIGHTNESS_TOLERANCE, preset=None):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        self.alpha = float(alpha)
        self.cut_threshold = float(cut_threshold)
        self.min_flow_side = int(min_flow_side)
        self.lightness_tolerance = float(lightness_tolerance)
        self._flow = make_flow(preset)
        self.cuts = 0
        self.last_reliable = 0.0
        self.reset()

    def reset(self):
        """Forget the previous frame: the next step returns its prediction unchanged."""
        self._previous_lightness = None
        self._previous_ab = None

    def _flow_shape(self, ab_shape):
        """(h, w) the flow is computed at: the ab grid, enlarged to at least min_flow_side on its shorter side."""
        height, width = ab_shape
        scale = max(1.0, self.min_flow_side / min(height, width))
        return int(round(height * scale)), int(round(width * scale))

    def step(self, lightness_small, ab_pred):
        """Current L (any size) and predicted ab (h, w, 2) -> smoothed ab (h, w, 2) float32."""
        ab_pred = np.asarray(ab_pred, np.float32)
        grid = ab_pred.shape[:2]
        flow_shape = self._flow_shape(grid)
        lightness = shrink(np.asarray(lightness_small, np.float32), flow_shape)
        ab_flow_size = ab_pred if flow_shape == grid else cv2.resize(ab_pred, flow_shape[::-1],
                                                                     interpolation=cv2.INTER_LINEAR)
        previous_lightness, previous_ab = self._previous_lightness, self._previous_ab
        if (previous_lightness is None or previous_lightness.shape != lightness.shape
                or is_scene_cut(lightness, previous_lightness, self.cut_threshold)):
            if previous_lightness is not None:
                self.cuts += 1
            return self._keep(lightness, ab_flow_size, ab_pred, grid, reliable=0.0)
        backward, reliable = reliable_flow(self._flow, _gray_u8(lightness), _gray_u8(previous_lightness))
        warped_lightness = _remap(previous_lightness, backward)
        reliable &= np.abs(warped_lightness - lightness) <= self.lightness_tolerance
        fraction = float(reliable.mean())
        if fraction < CUT_RELIABLE_FRACTION:  # nothing to carry over: a cut the thumbnails missed
            self.cuts += 1
            return self._keep(lightness, ab_flow_size, ab_pred, grid, reliable=fraction)
        warped_ab = _remap(previous_ab, backward)
        # Soft edges of the reliable region, so that occlusion borders leave no seam.
        weight = cv2.blur(reliable.astype(np.float32), (3, 3)) * self.alpha
        blended = ab_flow_size + weight[..., None] * (warped_ab - ab_flow_size)  # weight * warped + (1 - weight) * new
        return self._keep(lightness, blended, None, grid, reliable=fraction)

    def _keep(self, lightness, ab_flow_size, ab_grid, grid, reliable):
        """Remember this frame (at the flow size) and return its ab at the network grid."""
        self._previous_lightness = lightness
        self._previous_ab = np.ascontiguousarray(ab_flow_size, np.float32)
        self.last_reliable = reliable
        if ab_grid is not None:
            return np.array(ab_grid, np.float32, copy=True)
        if ab_flow_size.shape[:2] == grid:
            return np.array(ab_flow_size, np.float32, copy=True)
        return cv2.resize(ab_flow_size, grid[::-1], interpolation=cv2.INTER_AREA)
