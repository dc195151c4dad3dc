"""The one predict path, shared by the CLIs, the evaluator and the library API.

    full-res L -> working size (shorter side = size) -> colorizer.network -> raw
    (mirror-averaged) -> colorizer.decode (bins: annealed mean at T) -> ab at
    the network grid -> upsampling of ab to full resolution (bilinear, or
    guided by the full-res L: colorize.predict.upsample) -> join with the ORIGINAL
    full-res L -> RGB

The output keeps the input's lightness: only ab is predicted and upsampled.
Nothing here depends on the model's family; a saved
:class:`~colorize.models.colorizer.Colorizer` says its input multiple,
output stride, training size and how to decode its output. Nor on the
engine: a compiled :class:`~colorize.predict.litert.LiteColorizer` offers the same
calls, and Keras is imported only when a Keras model is loaded (so a run on
a compiled model never imports TensorFlow).
"""

import weakref

import cv2
import numpy as np

from colorize import color

# Working size of a model that does not record the size it was trained at.
DEFAULT_SIZE = 256


def _to_numpy(value):
    """A backend tensor (or a NumPy array from a compiled network) -> NumPy."""
    if isinstance(value, np.ndarray):
        return value
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value))


def default_working_size(colorizer):
    """The size a colorizer works at by default: its training size, else DEFAULT_SIZE.

    A model sees whole photos shrunk to its training size, so that is the
    scale it colorizes best at (measured: see README, "Quality").
    """
    return colorizer.training_size or DEFAULT_SIZE


def working_size(size, multiple=8):
    """Round a requested working size to the nearest usable multiple of the model's input multiple."""
    return max(multiple, int(round(size / multiple)) * multiple)


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


def network_shape(height, width, size, keep_aspect=True, multiple=8):
    """(h, w) the network sees for a (height, width) photo at working size ``size``.

    keep_aspect: the SHORTER side becomes ``size`` and the longer one keeps the
    photo's proportions (rounded to ``multiple``, at most MAX_ASPECT times longer):
    the scale and shape the models were trained at (square centre crops of the
    short side). Otherwise a ``size`` x ``size`` square.
    """
    if not keep_aspect:
        return size, size
    ratio = min(max(height, width) / max(min(height, width), 1), MAX_ASPECT)
    long_side = working_size(size * ratio, multiple)
    return (size, long_side) if height <= width else (long_side, size)


def takes_hints(colorizer):
    """True when the colorizer's network takes colour hints beside L (either engine)."""
    return bool(getattr(colorizer, "hint_inputs", ()))


def _network_inputs(colorizer, lightness, guidance, photo_shape):
    """The network's inputs for one photo: L (h, w, 1), then the hint map and reference vector when it takes
    them (zeros where ``guidance`` gives none). ValueError when hints go to a model that takes none."""
    if not takes_hints(colorizer):
        if guidance:
            raise ValueError("this model takes no hints (colour points or a reference photo)")
        return [lightness]
    from colorize.hints import hint_map, no_reference

    points = guidance.points if guidance else ()
    reference = guidance.reference if guidance and guidance.reference is not None else no_reference()
    return [lightness, hint_map(points, photo_shape, lightness.shape[:2]), np.asarray(reference, np.float32)]


def predict_raw(colorizer, lightness_list, size=None, batch_size=8, keep_aspect=True, mirror=True, guidance=None):
    """Run the colorizer's network on a list of full-res L images (H, W) at the working size.

    ``size`` None: :func:`default_working_size`; each image is shown at
    :func:`network_shape`. Images of equal network shape share one forward
    pass. ``mirror``: also run each image mirrored left-right and average the
    two raw outputs (flipped back), a test-time augmentation that lowers the
    ab error of the bundled simple and zhang models (README, "Quality") for twice the network
    work. For a bins head this averages logits, i.e. takes the normalised
    geometric mean of the two colour distributions.

    ``guidance``: None or one :class:`colorize.hints.Guidance` (or None) per
    image, for a colorizer that takes hints (``hint_inputs``); such a
    colorizer gets zero hints for an image without. ValueError when guidance
    goes to one that takes none.

    Returns one raw output per image, in order, as NumPy: ab (h, w, 2) in Lab
    units (regression head) or logits (h, w, Q) (bins head), at 1/output_stride
    of the network input.
    """
    multiple = colorizer.input_multiple
    size = working_size(size or default_working_size(colorizer), multiple)
    guidance = list(guidance) if guidance is not None else [None] * len(lightness_list)
    shapes = [network_shape(*lum.shape[:2], size, keep_aspect, multiple) for lum in lightness_list]
    outputs = [None] * len(lightness_list)
    for shape in dict.fromkeys(shapes):
        indices = [i for i, s in enumerate(shapes) if s == shape]
        per_image = [
            _network_inputs(colorizer, cv2.resize(lightness_list[i], shape[::-1], interpolation=cv2.INTER_AREA)[..., None],
                            guidance[i], lightness_list[i].shape[:2])
            for i in indices
        ]
        inputs = [np.stack(part).astype(np.float32) for part in zip(*per_image)]
        for start in range(0, len(indices), batch_size):
            batch = [part[start : start + batch_size] for part in inputs]
            raw = _forward(colorizer.network, batch[0] if len(batch) == 1 else batch, mirror)
            for offset, index in enumerate(indices[start : start + batch_size]):
                outputs[index] = raw[offset]
    return outputs


# A compiled predict function is traced once per input shape, which costs seconds for a deep
# encoder (about 1.4 s for the bundled U-Net) and pays off only when a shape comes back: the
# first calls of each shape run eagerly (0.3 s), later ones through the traced function (0.04 s).
EAGER_CALLS_PER_SHAPE = 2
_calls_per_shape = weakref.WeakKeyDictionary()


def _run_network(network, batch):
    """network(batch) in inference mode as NumPy, eagerly for a shape's first calls (see above).

    ``batch``: L (B, h, w, 1), or a list [L, hint map, reference] for a network taking hints."""
    seen = _calls_per_shape.setdefault(network, {})
    shape = tuple(part.shape for part in batch) if isinstance(batch, list) else batch.shape
    count = seen.get(shape, 0)
    seen[shape] = count + 1
    if count < EAGER_CALLS_PER_SHAPE:
        return _to_numpy(network(batch, training=False))
    return _to_numpy(network.predict_on_batch(batch))


def _forward(network, inputs, mirror):
    """One forward pass on a batch of L (B, h, w, 1) -> raw output (B, h', w', C) as NumPy.

    mirror: the batch and its left-right mirror image go through together
    (one call of 2B) and the mirrored half's output is flipped back and
    averaged in. ``inputs`` may be a list [L, hint map, reference]: maps are
    mirrored with L, vectors repeated.
    """
    if not mirror:
        return _run_network(network, inputs)
    mirrored = lambda part: np.concatenate([part, part[:, :, ::-1] if part.ndim == 4 else part])
    count = len(inputs[0] if isinstance(inputs, list) else inputs)
    both = _run_network(network, [mirrored(p) for p in inputs] if isinstance(inputs, list) else mirrored(inputs))
    return (both[:count] + both[count:, :, ::-1]) / 2


def decode(colorizer, raw, temperature=None):
    """Raw network output(s) (..., C) -> ab (..., 2) float32 NumPy in Lab units.

    A bins head decodes by the annealed mean at ``temperature`` (None: the
    model's default, 0.38 as in Zhang et al.); a regression head's output
    already is ab.
    """
    return np.asarray(_to_numpy(colorizer.decode(raw, temperature)), np.float32)


# Pixels composed at a time: the float32 temporaries of a strip (upsampled ab, Lab,
# RGB, about 40 bytes a pixel) stay near 100 MB whatever the photo's size, instead
# of 4 GB for a 100-megapixel one.
STRIP_PIXELS = 1 << 21


def compose(lightness, ab_small, strip_pixels=None, upsample=None):
    """Join full-res L (H, W) in [0, 100] with ab (h, w, 2) upsampled -> uint8 RGB (H, W, 3).

    Only ab is upsampled (``upsample``: "bilinear" or "guided" by the
    full-resolution L, see :mod:`colorize.predict.upsample`; None: its default); the
    image's own L is kept, so the lightness of the result equals the input's
    up to 8-bit rounding and gamut clipping. Works in horizontal strips of
    about ``strip_pixels`` (default STRIP_PIXELS), so the only full-size
    arrays are L and the result; every pixel comes out exactly as from one
    full-size pass. Raises ValueError when ab holds NaN or inf (there is no
    colour to show for it; OpenCV would turn it into white or black).
    """
    from colorize.predict.upsample import DEFAULT_METHOD, ab_strips

    ab_small = np.ascontiguousarray(ab_small, np.float32)
    if not np.isfinite(ab_small).all():
        raise ValueError("the predicted colours are not finite (NaN or inf)")
    result = np.empty(lightness.shape + (3,), np.uint8)
    for rows, ab in ab_strips(lightness, ab_small, upsample or DEFAULT_METHOD, strip_pixels or STRIP_PIXELS):
        result[rows] = color.l_ab_to_rgb(lightness[rows], ab)
    return result


# At most this many copies by default: each holds its own activations (about 35 MB for a batch of four
# 640x360 frames), and beyond a few copies the cores are better shared out as threads of each.
MAX_CONCURRENT_COPIES = 8


def concurrent_colorizers(colorizer, count=None):
    """Colorizers of the same network that may run side by side, for pipelines that keep several batches
    in flight (video, folders): ``count`` of them (None: one per core, at most MAX_CONCURRENT_COPIES, the
    cores shared out among them) where the engine gains from it, else ``[colorizer]``.

    A compiled colorizer gains: one single-threaded interpreter per core runs
    more batches a second than one interpreter spread over the cores, whose
    threads wait for each other at every layer (measured on 2 cores, the
    bundled default at 640x360: two one-thread interpreters 49-59 frames/s
    together, one two-thread interpreter 30-37, using 1.3-1.6 of the cores).
    A Keras colorizer comes back alone: TensorFlow spreads one call over the
    cores itself, and a second copy would double the memory.
    """
    replicate = getattr(colorizer, "replicas", None)
    if replicate is None:
        return [colorizer]
    from colorize.runtime import usable_cpus

    return replicate(count or min(usable_cpus(), MAX_CONCURRENT_COPIES))


def predict_ab(colorizer, lightness_list, size=None, temperature=None, mirror=True, guidance=None):
    """Full-res L images -> ab at the network grid for each, (h, w, 2) in Lab units.

    One forward pass and one decoding call for the whole list (decoding image
    by image costs more than the small network itself). ``guidance``: see :func:`predict_raw`.
    """
    raws = predict_raw(colorizer, lightness_list, size=size, mirror=mirror, guidance=guidance)
    if len({raw.shape for raw in raws}) == 1:  # one decoding call when the shapes agree
        return list(decode(colorizer, np.stack(raws), temperature))
    return [decode(colorizer, raw, temperature) for raw in raws]


def colorize_lightness(lightness_list, colorizer, size=None, temperature=None, mirror=True, upsample=None,
                       guidance=None):
    """Full-res L images -> list of uint8 RGB colorizations (one batched forward pass).

    ``upsample``: how ab reaches full resolution, "bilinear" or "guided" (None: the default, see :func:`compose`).
    ``guidance``: one :class:`colorize.hints.Guidance` (or None) per image (see :func:`predict_raw`).
    """
    abs_small = predict_ab(colorizer, lightness_list, size=size, temperature=temperature, mirror=mirror,
                           guidance=guidance)
    return [compose(lum, ab, upsample=upsample) for lum, ab in zip(lightness_list, abs_small)]


def as_image(image, name="<image>"):
    """An image given to the library -> uint8 gray (H, W) or RGB (H, W, 3); ColorizeError for anything else.

    Accepted: arrays or nested lists of shape (H, W), (H, W, 1) or (H, W, 3)
    holding uint8, uint16 (scaled to 8 bits) or other integers within 0-255.
    Refused with a reason: other shapes, float arrays (0-1 or 0-255 cannot be
    told apart), integers outside 0-255, booleans and objects.
    """
    from colorize.errors import ColorizeError

    try:
        array = np.asarray(image)
    except (TypeError, ValueError) as error:  # ragged nested lists
        raise ColorizeError(name, f"not an image array ({str(error).splitlines()[0]})") from None
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)) or 0 in array.shape:
        raise ColorizeError(name, f"expected a gray (H, W) or RGB (H, W, 3) image, got shape {array.shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if array.dtype.kind in "iu":
        if array.min() >= 0 and array.max() <= 255:
            return array.astype(np.uint8)
        raise ColorizeError(name, f"{array.dtype} values outside 0-255 (from {array.min()} to {array.max()})")
    raise ColorizeError(name, f"{array.dtype} pixels are not supported; give uint8 (0-255) or uint16 values")


def colorize_image(image, colorizer, size=None, temperature=None, mirror=True, upsample=None, guidance=None):
    """uint8 RGB (H, W, 3) or gray (H, W) -> uint8 RGB (H, W, 3) colorized at full resolution.

    Other inputs as :func:`as_image` accepts them; ColorizeError for the rest. ``guidance``: a
    :class:`colorize.hints.Guidance` (colour points, a reference) for a colorizer that takes hints.
    """
    return colorize_lightness([lightness_of(as_image(image))], colorizer, size=size, temperature=temperature,
                              mirror=mirror, upsample=upsample, guidance=None if guidance is None else [guidance])[0]
