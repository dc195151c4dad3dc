"""The any-resolution colorization path shared by the CLIs and the evaluator.

    full-res L -> working size (size x size) -> model -> ab at the network grid
    (classifier: annealed mean at temperature T) -> bilinear upsampling of ab
    to full resolution -> join with the ORIGINAL full-res L -> RGB

The output keeps the input's lightness: only ab is predicted and upsampled.
"""

import json
import zipfile
from pathlib import Path

import cv2
import keras
import numpy as np

from colorize import color
from colorize.errors import ColorizeError

DEFAULT_SIZE = 256
# Inputs must be divisible by the models' total stride (8 for both builders).
SIZE_MULTIPLE = 8


def recorded_working_size(path):
    """The training ``--size`` saved beside a model (NAME_settings.json), or None.

    A model sees whole photos shrunk to its training size, so that is the
    scale it colorizes best at (measured: see README, "Quality").
    """
    from colorize.training import run_files

    settings = run_files(path)["settings"]
    try:
        size = int(json.loads(settings.read_text())["size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return size if size >= SIZE_MULTIPLE and size % SIZE_MULTIPLE == 0 else None


def load_colorizer(path, kind=None):
    """Load a saved ``.keras`` colorizer and check that it is one of ours.

    ``kind`` ("simple" or "complex") additionally requires that model kind.
    The model's default working size (``model.working_size``) is its recorded
    training size, else DEFAULT_SIZE.
    Raises ColorizeError(path, reason) for a missing, corrupt or wrong file.
    """
    path = Path(path)
    if not path.exists():
        raise ColorizeError(path, "model file not found")
    if path.is_dir() or path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ColorizeError(path, "not a Keras model file (expected a .keras archive)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for broken archives
        first_line = (str(error).strip().splitlines() or ["unreadable"])[0][:160]
        raise ColorizeError(path, f"corrupt or incompatible model file ({first_line})") from None
    try:
        found = model_kind(model)
    except ValueError as error:
        raise ColorizeError(path, str(error)) from None
    if kind is not None and found != kind:
        other = {"simple": "colorize_simple.py", "complex": "colorize_complex.py"}[found]
        raise ColorizeError(path, f"this is a {found} model, not a {kind} one (use {other})")
    model.working_size = recorded_working_size(path) or DEFAULT_SIZE
    return model


def model_kind(model):
    """'simple' for a regression model (2 output channels), 'complex' for a Q-bin classifier."""
    from colorize.quantize import ab_bins

    shape = model.output_shape
    if isinstance(shape, list) or len(model.input_shape) != 4 or model.input_shape[-1] != 1:
        raise ValueError("not a colorize model (expects one L input and one output)")
    channels = shape[-1]
    if channels == 2:
        return "simple"
    if channels == len(ab_bins()):
        return "complex"
    raise ValueError(f"not a colorize model (output has {channels} channels, expected 2 or {len(ab_bins())})")


def working_size(size):
    """Round a requested working size to the nearest usable multiple of the stride."""
    return max(SIZE_MULTIPLE, int(round(size / SIZE_MULTIPLE)) * SIZE_MULTIPLE)


def lightness_of(image):
    """uint8 RGB (H, W, 3) or gray (H, W) -> L (H, W) float32 in [0, 100].

    Colour inputs are treated as their grayscale: only their L is kept.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return color.gray_to_lightness(image)
    return color.rgb_to_lightness(image)


# Longest side of the network input relative to its shortest, for very elongated photos.
MAX_ASPECT = 4.0


def network_shape(height, width, size, keep_aspect=True):
    """(h, w) the network sees for a (height, width) photo at working size ``size``.

    keep_aspect: the SHORTER side becomes ``size`` and the longer one keeps the
    photo's proportions (rounded to the stride, at most MAX_ASPECT times longer):
    the scale and shape the models were trained at (square centre crops of the
    short side). Otherwise a ``size`` x ``size`` square.
    """
    if not keep_aspect:
        return size, size
    ratio = min(max(height, width) / max(min(height, width), 1), MAX_ASPECT)
    long_side = working_size(size * ratio)
    return (size, long_side) if height <= width else (long_side, size)


def predict_raw(model, lightness_list, size=None, batch_size=8, keep_aspect=True, mirror=True):
    """Run the network on a list of full-res L images (H, W) at the working size.

    ``size`` None: the model's ``working_size`` (see :func:`load_colorizer`);
    each image is shown at :func:`network_shape`. Images of equal network shape
    share one forward pass. ``mirror``: also run each image mirrored left-right
    and average the two outputs (flipped back), a test-time augmentation
    that lowers the ab error of both bundled models (README, "Quality") for
    twice the network work.

    Returns one raw output per image, in order: simple -> ab (h, w, 2) in Lab
    units, complex -> logits (h/4, w/4, Q).
    """
    size = working_size(size or getattr(model, "working_size", DEFAULT_SIZE))
    regression = model_kind(model) == "simple"
    shapes = [network_shape(*lum.shape[:2], size, keep_aspect) for lum in lightness_list]
    outputs = [None] * len(lightness_list)
    for shape in dict.fromkeys(shapes):
        indices = [i for i, s in enumerate(shapes) if s == shape]
        inputs = np.stack(
            [cv2.resize(lightness_list[i], shape[::-1], interpolation=cv2.INTER_AREA) for i in indices]
        )[..., None]
        inputs = color.normalize_l(inputs)
        for start in range(0, len(indices), batch_size):
            raw = _forward(model, inputs[start : start + batch_size], mirror)
            if regression:
                raw = color.denormalize_ab(raw)
            for offset, index in enumerate(indices[start : start + batch_size]):
                outputs[index] = raw[offset]
    return outputs


def _forward(model, inputs, mirror):
    """One forward pass on a batch (B, h, w, 1) -> raw output (B, h', w', C) as NumPy.

    mirror: the batch and its left-right mirror image go through together
    (one call of 2B) and the mirrored half's output is flipped back and
    averaged in. For the classifier this averages logits, i.e. takes the
    normalised geometric mean of the two colour distributions.
    """
    if not mirror:
        return np.asarray(model.predict_on_batch(inputs))
    count = len(inputs)
    both = np.asarray(model.predict_on_batch(np.concatenate([inputs, inputs[:, :, ::-1]])))
    return (both[:count] + both[count:, :, ::-1]) / 2


def decode(raw, kind, temperature=None):
    """Raw network output -> ab (h, w, 2) float32 in Lab units at the network grid.

    Classifier logits are decoded by the annealed mean at ``temperature``
    (default 0.38, Zhang et al.); regression output is already ab.
    """
    if kind == "simple":
        return np.asarray(raw, np.float32)
    from colorize.quantize import DEFAULT_TEMPERATURE, annealed_mean

    temperature = DEFAULT_TEMPERATURE if temperature is None else temperature
    return np.asarray(keras.ops.convert_to_numpy(annealed_mean(raw, temperature)), np.float32)


def compose(lightness, ab_small):
    """Join full-res L (H, W) in [0, 100] with ab (h, w, 2) upsampled -> uint8 RGB (H, W, 3).

    Only ab is upsampled (bilinear); the image's own L is kept, so the
    lightness of the result equals the input's up to 8-bit rounding and
    gamut clipping.
    """
    height, width = lightness.shape
    ab = cv2.resize(np.ascontiguousarray(ab_small, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return color.l_ab_to_rgb(lightness, ab)


def predict_ab(model, lightness_list, size=None, temperature=None, mirror=True):
    """Full-res L images -> ab at the network grid for each, (h, w, 2) in Lab units.

    One forward pass and one decoding call for the whole list (decoding image
    by image costs more than the small network itself).
    """
    kind = model_kind(model)
    raws = predict_raw(model, lightness_list, size=size, mirror=mirror)
    if len({raw.shape for raw in raws}) == 1:  # one decoding call when the shapes agree
        return list(decode(np.stack(raws), kind, temperature))
    return [decode(raw, kind, temperature) for raw in raws]


def colorize_lightness(lightness_list, model, size=None, temperature=None, mirror=True):
    """Full-res L images -> list of uint8 RGB colorizations (one batched forward pass)."""
    abs_small = predict_ab(model, lightness_list, size=size, temperature=temperature, mirror=mirror)
    return [compose(lum, ab) for lum, ab in zip(lightness_list, abs_small)]


def colorize_image(image, model, size=None, temperature=None, mirror=True):
    """uint8 RGB (H, W, 3) or gray (H, W) -> uint8 RGB (H, W, 3) colorized at full resolution."""
    return colorize_lightness([lightness_of(image)], model, size=size, temperature=temperature, mirror=mirror)[0]
